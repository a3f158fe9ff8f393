"""The Store protocol every backend implements (opening a store by URL is gridmap.store.factory).

A store holds every layer of ``gridmap.schema.LAYERS``. Frames go in and come out as
``geopandas.GeoDataFrame`` (layers with geometry, CRS = settings.storage_epsg, lon/lat) or
``pandas.DataFrame`` (attribute tables), always with an integer ``fid`` column and exactly the
spec's columns. Logical types map to pandas as: text -> object (str/None), int -> Int64,
float -> float64, bool -> boolean, datetime -> datetime64[ns, UTC], json -> Python objects.

All writes happen inside ``with store.transaction() as tx:``; the block is atomic (an exception
rolls everything back), which is what makes every import and state change all-or-nothing.

URLs: ``gpkg:///abs/path.gpkg``, ``gpkg://relative/path.gpkg`` and ``postgresql://user@host:port/db``;
:func:`gridmap.store.factory.open_store` maps the scheme to a backend. This module imports no
backend, so the backends can import it (BBox, Filters) without a cycle.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from gridmap.config import Settings

#: Equality filters: ``{"level": "community"}``; a list/tuple/set value means IN; ``None`` means IS NULL.
Filters = Mapping[str, Any]
#: (min_lon, min_lat, max_lon, max_lat) in the storage CRS.
BBox = tuple[float, float, float, float]


@runtime_checkable
class StoreTransaction(Protocol):
    """Writes (and reads that see them) inside one atomic transaction."""

    def insert(self, layer: str, frame: pd.DataFrame | Sequence[Mapping[str, Any]]) -> list[int]:
        """Append rows; missing nullable columns become NULL; returns the new fids in order.

        ``frame`` may also be a list of plain mappings (column -> value, ``geometry`` a shapely
        geometry in the storage CRS): the same checks, without building a frame for one row.
        """
        ...

    def update(self, layer: str, where: Filters, values: Mapping[str, Any]) -> int:
        """Set columns (``geometry`` allowed) on rows matching ``where``; returns the row count.

        Used for compare-and-set: put the expected version/status in ``where`` and treat 0 rows
        as a conflict.
        """
        ...

    def delete(self, layer: str, where: Filters) -> int:
        """Delete rows matching ``where`` (an empty mapping deletes nothing; use ``truncate``)."""
        ...

    def truncate(self, layer: str) -> int:
        """Delete every row of a layer; returns the row count."""
        ...

    def read(
        self,
        layer: str,
        *,
        where: Filters | None = None,
        bbox: BBox | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Same as :meth:`Store.read`, seeing this transaction's uncommitted writes."""
        ...

    def read_records(
        self, layer: str, *, where: Filters | None = None, columns: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Same as :meth:`Store.read_records`, seeing this transaction's uncommitted writes."""
        ...


@runtime_checkable
class Store(Protocol):
    """A place where gridmap keeps its layers."""

    url: str
    settings: Settings

    def migrate(self) -> int:
        """Create or upgrade the schema (numbered migrations); returns the schema version."""
        ...

    def schema_version(self) -> int: ...

    def read(
        self,
        layer: str,
        *,
        where: Filters | None = None,
        bbox: BBox | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Rows of a layer (GeoDataFrame when it has geometry), ordered by fid."""
        ...

    def read_records(
        self, layer: str, *, where: Filters | None = None, columns: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Rows of a layer as plain dicts, ordered by fid: what ``read(...).to_dict("records")`` holds,
        with ``None`` for every missing value (datetimes as UTC ``pd.Timestamp``, json parsed,
        geometry shapely). For reads of a row or two by key on busy routes, where a frame costs more
        than the query."""
        ...

    def count(self, layer: str, *, where: Filters | None = None) -> int: ...

    def transaction(self) -> AbstractContextManager[StoreTransaction]: ...

    def close(self) -> None: ...


def iter_chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    """Slices of ``frame`` of at most ``size`` rows (bulk writes stay bounded in memory)."""
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]
