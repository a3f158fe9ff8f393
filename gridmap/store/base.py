"""The Store protocol and the registry that opens a store from a URL.

A store holds every layer of ``gridmap.schema.LAYERS``. Frames go in and come out as
``geopandas.GeoDataFrame`` (layers with geometry, CRS = settings.storage_epsg, lon/lat) or
``pandas.DataFrame`` (attribute tables), always with an integer ``fid`` column and exactly the
spec's columns. Logical types map to pandas as: text -> object (str/None), int -> Int64,
float -> float64, bool -> boolean, datetime -> datetime64[ns, UTC], json -> Python objects.

All writes happen inside ``with store.transaction() as tx:``; the block is atomic (an exception
rolls everything back), which is what makes every import and state change all-or-nothing.

URLs: ``gpkg:///abs/path.gpkg``, ``gpkg://relative/path.gpkg`` and ``postgresql://user@host:port/db``.
New schemes are added with :func:`register_store`; the built-ins register the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from gridmap.config import Settings
from gridmap.errors import ValidationError

#: Equality filters: ``{"level": "community"}``; a list/tuple/set value means IN; ``None`` means IS NULL.
Filters = Mapping[str, Any]
#: (min_lon, min_lat, max_lon, max_lat) in the storage CRS.
BBox = tuple[float, float, float, float]


@runtime_checkable
class StoreTransaction(Protocol):
    """Writes (and reads that see them) inside one atomic transaction."""

    def insert(self, layer: str, frame: pd.DataFrame) -> list[int]:
        """Append rows; missing nullable columns become NULL; returns the new fids in order."""
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

    def count(self, layer: str, *, where: Filters | None = None) -> int: ...

    def transaction(self) -> AbstractContextManager[StoreTransaction]: ...

    def close(self) -> None: ...


StoreFactory = Callable[[str, Settings], Store]
_REGISTRY: dict[str, StoreFactory] = {}


def register_store(scheme: str, factory: StoreFactory) -> None:
    """Make ``open_store`` handle URLs starting with ``scheme://``."""
    _REGISTRY[scheme] = factory


def _register_builtins() -> None:
    # Imported lazily so that a GeoPackage user never needs psycopg loaded, and vice versa.
    if "gpkg" not in _REGISTRY:
        from gridmap.store.gpkg import GeoPackageStore

        register_store("gpkg", GeoPackageStore)
    if "postgresql" not in _REGISTRY:
        from gridmap.store.postgis import PostGISStore

        register_store("postgresql", PostGISStore)
        register_store("postgres", PostGISStore)


def open_store(url: str | None, settings: Settings, *, migrate: bool = True) -> Store:
    """Open (and by default migrate) the store at ``url`` (``settings.store_url`` when None)."""
    url = url or settings.store_url
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ValidationError(
            f"store URL {url!r} has no scheme; use gpkg:///path/file.gpkg or postgresql://user@host/db"
        )
    _register_builtins()
    try:
        factory = _REGISTRY[scheme]
    except KeyError:
        raise ValidationError(
            f"unknown store scheme {scheme!r} in {url!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None
    store = factory(url, settings)
    if migrate:
        store.migrate()
    return store


def iter_chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    """Slices of ``frame`` of at most ``size`` rows (bulk writes stay bounded in memory)."""
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]
