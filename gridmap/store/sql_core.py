"""The SQL both stores run, written once: WHERE clauses, reads, counts and every write verb.

Why one core: the GeoPackage and PostGIS stores used to carry three copies of the same insert,
update, delete, truncate, read, filter, savepoint and duplicate-key logic, and every fix had to be
made three times. Here that logic lives in :class:`SqlTransaction` and the module functions
(:func:`where_sql`, :func:`read_frame`, :func:`count_rows`); a backend only subclasses
:class:`SqlDialect` and fills in what really differs between SQLite and PostgreSQL (the way
pygeoapi's GenericSQLProvider keeps the SQL and its PostgreSQL/MySQL providers override only
dialect hooks): the placeholder, how a geometry is written and read back, the bbox predicate,
the savepoint, how fids are reserved, how values are encoded, and which driver errors mean a
unique violation. Input checks and messages come from gridmap.store.sql, so both stores stay
word-for-word identical to their callers.

Names in SQL come from gridmap.schema only and are always quoted; values are always parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np
import pandas as pd

from gridmap.errors import ConflictError, StoreUnavailableError, ValidationError
from gridmap.schema import FID, GEOMETRY, Column, LayerSpec, layer_spec
from gridmap.store.base import BBox, Filters
from gridmap.store.sql import (
    Condition,
    PreparedRows,
    check_bbox,
    column_of,
    conditions_from_filters,
    conflict_error,
    duplicate_keys,
    frame_from_columns,
    key_sets,
    mask_bbox,
    read_columns,
    rows_from_frame,
    rows_from_records,
    values_for_update,
)

_ENDED = "this transaction has ended; open a new one with store.transaction()"


class Cursor(Protocol):
    """The part of a DB-API cursor the core uses (sqlite3 and psycopg both fit)."""

    @property
    def rowcount(self) -> int: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class Connection(Protocol):
    """The part of a DB-API connection the core uses: ``execute`` returning a cursor."""

    def execute(self, query: str, params: Sequence[Any], /) -> Cursor: ...


C = TypeVar("C", bound=Connection)


class SqlDialect(ABC, Generic[C]):
    """What one database does differently; everything else is in this module.

    Values reach a dialect in the canonical form of gridmap.store.sql (``str``/``int``/``float``/
    ``bool``/UTC ``datetime``/JSON text); ``encode`` turns one into a query parameter and
    ``decode_value``/``decode_column`` turn stored values back. ``srid`` is the storage CRS.
    """

    #: The driver's parameter marker ("?" for sqlite3, "%s" for psycopg).
    placeholder: ClassVar[str]
    #: A condition that is never true (a filter on an empty list matches nothing).
    false_sql: ClassVar[str]
    #: Driver errors a write turns into Conflict/ValidationError (see :meth:`is_unique_violation`).
    integrity_errors: ClassVar[tuple[type[Exception], ...]]

    def __init__(self, srid: int) -> None:
        self.srid = srid

    def quote(self, name: str) -> str:
        """A quoted identifier; the SQL standard rule both SQLite and PostgreSQL follow."""
        return '"' + name.replace('"', '""') + '"'

    def encode(self, col: Column, value: Any) -> Any:
        """One canonical value as a query parameter (default: the driver adapts it)."""
        return value

    def encode_column(self, col: Column, values: list[Any]) -> list[Any]:
        """A whole column of canonical values as parameters (bulk inserts; override to skip a loop)."""
        return [self.encode(col, v) for v in values]

    def decode_value(self, col: Column, value: Any) -> Any:
        """One stored value back as its canonical Python value (duplicate-key lookups compare them)."""
        return value

    def decode_column(self, col: Column, values: Sequence[Any]) -> Sequence[Any]:
        """Stored values of one column as ``series_from_values`` takes them."""
        return values

    def set_sql(self, col: Column) -> str:
        """The right-hand side of ``col = ...`` in an UPDATE (a cast where the driver needs one)."""
        return self.placeholder

    def errors(self, spec: LayerSpec) -> AbstractContextManager[None]:
        """Driver errors of a read or write as gridmap errors (default: none mapped)."""
        return nullcontext()

    def is_unique_violation(self, exc: Exception) -> bool:
        """Whether an ``integrity_errors`` error is a unique violation (else it is bad data)."""
        return True

    def error_detail(self, exc: Exception) -> str:
        """The driver's words for a failed write, quoted in the error message."""
        return str(exc)

    @abstractmethod
    def in_list(self, column_sql: str, values: list[Any]) -> tuple[str, Any]:
        """``column IN values`` as SQL with ONE parameter, whatever the number of values."""

    @abstractmethod
    def bbox_sql(self, spec: LayerSpec, bbox: BBox) -> tuple[str, list[Any]]:
        """A predicate that uses the spatial index to find rows whose index box meets ``bbox``."""

    @abstractmethod
    def geometry_select(self) -> str:
        """The select-list expression that reads the geometry column."""

    @abstractmethod
    def decode_geometries(self, values: Sequence[Any]) -> np.ndarray:
        """Geometry values as read by :meth:`geometry_select`, as a shapely object array."""

    @abstractmethod
    def encode_geometries(self, geoms: np.ndarray) -> list[Any]:
        """Shapely geometries (None allowed) as parameters of the geometry column."""

    @abstractmethod
    def geometry_set_sql(self) -> str:
        """The right-hand side of ``geometry = ...`` for one :meth:`encode_geometries` value."""

    @abstractmethod
    def savepoint(self, conn: C, spec: LayerSpec) -> AbstractContextManager[None]:
        """A savepoint around one write: on error it is rolled back and the error re-raised."""

    @abstractmethod
    def reserve_fids(self, conn: C, layer: str, n: int) -> list[int]:
        """``n`` new fids, ascending, taken before the rows are written so insert can return them."""

    @abstractmethod
    def write_rows(self, conn: C, layer: str, names: list[str], rows: Iterable[tuple[Any, ...]]) -> None:
        """Bulk-write encoded rows (values in ``names`` order) the fastest way the driver has."""

    def insert_rows(self, conn: C, spec: LayerSpec, names: list[str], columns: list[list[Any]], n: int) -> list[int]:
        """Write ``n`` encoded rows (``columns``: one list per name of ``names``, no fid); their fids in row order.

        The default reserves the fids, then bulk-writes; a dialect may write one row a cheaper way.
        """
        fids = self.reserve_fids(conn, spec.name, n)
        self.write_rows(conn, spec.name, [FID, *names], zip(fids, *columns, strict=True))
        return fids


def where_sql(
    dialect: SqlDialect[Any], spec: LayerSpec, conditions: Sequence[Condition], bbox: BBox | None
) -> tuple[str, list[Any]]:
    """`` WHERE ...`` (or "") and its parameters: conditions AND'ed, each an OR of =, IN and IS NULL."""
    parts: list[str] = []
    params: list[Any] = []
    for cond in conditions:
        col = column_of(spec, cond.column, allow_fid=True)
        name = dialect.quote(cond.column)
        terms = []
        if len(cond.values) == 1:
            terms.append(f"{name} = {dialect.placeholder}")
            params.append(dialect.encode(col, cond.values[0]))
        elif cond.values:
            term, param = dialect.in_list(name, [dialect.encode(col, v) for v in cond.values])
            terms.append(term)
            params.append(param)
        if cond.include_null:
            terms.append(f"{name} IS NULL")
        parts.append("(" + " OR ".join(terms) + ")" if terms else dialect.false_sql)
    if bbox is not None:
        term, box_params = dialect.bbox_sql(spec, bbox)
        parts.append(term)
        params += box_params
    return (" WHERE " + " AND ".join(parts) if parts else ""), params


def _select_sql(dialect: SqlDialect[Any], layer: str, names: Sequence[str], geometry: bool, where_part: str) -> str:
    """``SELECT fid, <names>[, geometry] FROM layer <where> ORDER BY fid``: the one read both read paths run."""
    fields = [dialect.quote(FID), *map(dialect.quote, names)] + ([dialect.geometry_select()] if geometry else [])
    return f"SELECT {', '.join(fields)} FROM {dialect.quote(layer)}{where_part} ORDER BY {dialect.quote(FID)}"


def _kept(values: Sequence[Any], keep: np.ndarray | None) -> Sequence[Any]:
    if keep is None or keep.all():
        return values
    return [v for v, k in zip(values, keep.tolist(), strict=True) if k]


def read_frame(
    dialect: SqlDialect[C],
    conn: C,
    layer: str,
    *,
    where: Filters | None,
    bbox: BBox | None,
    columns: Sequence[str] | None,
) -> pd.DataFrame:
    """Rows of a layer ordered by fid; bbox keeps rows whose exact envelope meets it.

    The index predicate only narrows the rows (both indexes hold rounded float boxes), so the
    geometry is read whenever a bbox is given and the exact envelopes decide.
    """
    spec = layer_spec(layer)
    names, with_geometry = read_columns(spec, columns)
    box = check_bbox(spec, bbox)
    where_part, params = where_sql(dialect, spec, conditions_from_filters(spec, where), box)
    geometry_read = with_geometry or box is not None
    with dialect.errors(spec):
        rows = conn.execute(_select_sql(dialect, layer, names, geometry_read, where_part), params).fetchall()
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in range(len(names) + 1 + geometry_read)]
    geometry = dialect.decode_geometries(cols[-1]) if geometry_read else None
    keep = mask_bbox(geometry, box) if (box is not None and geometry is not None) else None
    data = {n: dialect.decode_column(spec.column(n), _kept(cols[i + 1], keep)) for i, n in enumerate(names)}
    out_geometry = None
    if geometry is not None and with_geometry:
        out_geometry = geometry if keep is None else geometry[keep]
    return frame_from_columns(spec, _kept(cols[0], keep), data, out_geometry, epsg=dialect.srid)


def read_records(
    dialect: SqlDialect[C],
    conn: C,
    layer: str,
    *,
    where: Filters | None,
    columns: Sequence[str] | None,
) -> list[dict[str, Any]]:
    """Rows of a layer ordered by fid as plain dicts: what ``read_frame(...).to_dict("records")`` holds.

    Same columns, filters and checks as :func:`read_frame`, with ``None`` for every missing value
    (where a frame has NaN, NaT or pd.NA): text ``str``, int ``int``, float ``float``, bool ``bool``,
    datetime a UTC ``pd.Timestamp``, json the parsed value, geometry a shapely geometry. For
    requests that read a row or two by key, where building the frame cost more than the query.
    """
    spec = layer_spec(layer)
    names, with_geometry = read_columns(spec, columns)
    where_part, params = where_sql(dialect, spec, conditions_from_filters(spec, where), None)
    with dialect.errors(spec):
        rows = conn.execute(_select_sql(dialect, layer, names, with_geometry, where_part), params).fetchall()
    cols = [spec.column(n) for n in names]
    geometries = dialect.decode_geometries([r[-1] for r in rows]) if with_geometry and rows else None
    out = []
    for i, row in enumerate(rows):
        record: dict[str, Any] = {FID: int(row[0])}
        for j, col in enumerate(cols):
            record[col.name] = _record_value(dialect, col, row[j + 1])
        if geometries is not None:
            record[GEOMETRY] = geometries[i]
        out.append(record)
    return out


def _record_value(dialect: SqlDialect[Any], col: Column, raw: Any) -> Any:
    value = dialect.decode_value(col, raw)
    if value is None:
        return None
    if col.type == "datetime":
        return pd.Timestamp(value).tz_convert("UTC")
    if col.type == "float":
        return float(value)
    return value


def count_rows(
    dialect: SqlDialect[C], connect: Callable[[], AbstractContextManager[C]], layer: str, where: Filters | None
) -> int:
    """How many rows of a layer match ``where``.

    Takes the store's ``connect`` rather than a connection so the filter is checked first: a bad
    filter is a ValidationError even while the database is unreachable.
    """
    spec = layer_spec(layer)
    where_part, params = where_sql(dialect, spec, conditions_from_filters(spec, where), None)
    with connect() as conn, dialect.errors(spec):
        return int(conn.execute(f"SELECT count(*) FROM {dialect.quote(layer)}{where_part}", params).fetchone()[0])


class SqlTransaction(Generic[C]):
    """The StoreTransaction verbs on one connection inside an open transaction.

    Each write call runs in its own savepoint, so a failed call writes nothing and leaves the
    surrounding transaction usable. ``touched`` collects the layers a call changed (the
    GeoPackage refreshes their gpkg_contents rows at commit). The store sets ``closed`` when the
    block ends, so a transaction object kept past its ``with`` refuses further use.
    """

    def __init__(self, conn: C, dialect: SqlDialect[C]) -> None:
        self.conn = conn
        self.dialect = dialect
        self.closed = False
        self.touched: set[str] = set()

    @contextmanager
    def _savepoint(self, spec: LayerSpec) -> Iterator[None]:
        if self.closed:
            raise StoreUnavailableError(_ENDED)
        with self.dialect.savepoint(self.conn, spec):
            yield

    def insert(self, layer: str, rows_in: pd.DataFrame | Sequence[Mapping[str, Any]]) -> list[int]:
        """Append rows (a frame, or plain mappings as :func:`gridmap.store.sql.rows_from_records` takes them);
        returns their fids."""
        spec = layer_spec(layer)
        if isinstance(rows_in, pd.DataFrame):
            rows = rows_from_frame(spec, rows_in, epsg=self.dialect.srid)
        else:
            rows = rows_from_records(spec, rows_in)
        if rows.length == 0:
            return []
        dialect = self.dialect
        names = [*spec.column_names] + ([GEOMETRY] if spec.geometry_type else [])
        try:
            with self._savepoint(spec):
                columns = [dialect.encode_column(spec.column(c), rows.data[c]) for c in spec.column_names]
                if rows.geometry is not None:
                    columns.append(dialect.encode_geometries(rows.geometry))
                fids = dialect.insert_rows(self.conn, spec, names, columns, rows.length)
        except dialect.integrity_errors as exc:
            raise self._insert_error(rows, exc) from None
        self.touched.add(layer)
        return fids

    def _insert_error(self, rows: PreparedRows, exc: Exception) -> Exception:
        """A refused insert as the error callers see: which key and which values clash, if any."""
        spec = rows.spec
        if not self.dialect.is_unique_violation(exc):
            return ValidationError(f"layer {spec.name!r}: {exc}")
        found = duplicate_keys(rows, lambda cols, firsts: self._existing_keys(spec, cols, firsts))
        if found is None:
            return ConflictError(f"layer {spec.name!r}: {self.dialect.error_detail(exc)}; nothing was written")
        return conflict_error(spec, *found)

    def _existing_keys(self, spec: LayerSpec, cols: tuple[str, ...], firsts: list[Any]) -> set[tuple[Any, ...]]:
        dialect = self.dialect
        test, param = dialect.in_list(dialect.quote(cols[0]), dialect.encode_column(spec.column(cols[0]), firsts))
        found = self.conn.execute(
            f"SELECT {', '.join(map(dialect.quote, cols))} FROM {dialect.quote(spec.name)} WHERE {test}", [param]
        ).fetchall()
        return {tuple(dialect.decode_value(spec.column(c), v) for c, v in zip(cols, row, strict=True)) for row in found}

    def update(self, layer: str, where: Filters, values: Mapping[str, Any]) -> int:
        """Set columns on matching rows; a broken unique key is a ConflictError naming the new values."""
        spec = layer_spec(layer)
        if not where:
            raise ValidationError(f"update of layer {layer!r} needs a where filter (refusing to change every row)")
        attrs, geometry, has_geometry = values_for_update(spec, values)
        dialect = self.dialect
        where_part, params = where_sql(dialect, spec, conditions_from_filters(spec, where), None)
        sets = [f"{dialect.quote(n)} = {dialect.set_sql(spec.column(n))}" for n in attrs]
        set_params = [dialect.encode(spec.column(n), v) for n, v in attrs.items()]
        if has_geometry:
            sets.append(f"{dialect.quote(GEOMETRY)} = {dialect.geometry_set_sql()}")
            set_params += dialect.encode_geometries(np.array([geometry], dtype=object))
        query = f"UPDATE {dialect.quote(layer)} SET {', '.join(sets)}{where_part}"
        try:
            with self._savepoint(spec):
                count = int(self.conn.execute(query, set_params + params).rowcount)
        except dialect.integrity_errors as exc:
            keys = [c for cols in key_sets(spec) for c in cols if c in attrs]
            raise ConflictError(
                f"layer {layer!r}: setting {', '.join(f'{k}={attrs[k]!r}' for k in keys) or 'these values'} "
                f"would break a unique key ({dialect.error_detail(exc)}); nothing was written"
            ) from None
        if count:
            self.touched.add(layer)
        return count

    def delete(self, layer: str, where: Filters) -> int:
        """Delete matching rows; an empty filter deletes nothing (``truncate`` empties a layer)."""
        spec = layer_spec(layer)
        if not where:
            return 0
        where_part, params = where_sql(self.dialect, spec, conditions_from_filters(spec, where), None)
        with self._savepoint(spec):
            count = int(self.conn.execute(f"DELETE FROM {self.dialect.quote(layer)}{where_part}", params).rowcount)
        if count:
            self.touched.add(layer)
        return count

    def truncate(self, layer: str) -> int:
        """DELETE, not TRUNCATE: PostgreSQL readers keep their MVCC snapshot instead of waiting on an
        exclusive lock, and SQLite keeps its R-tree triggers and AUTOINCREMENT sequence."""
        spec = layer_spec(layer)
        with self._savepoint(spec):
            count = int(self.conn.execute(f"DELETE FROM {self.dialect.quote(layer)}", []).rowcount)
        if count:
            self.touched.add(layer)
        return count

    def read(
        self,
        layer: str,
        *,
        where: Filters | None = None,
        bbox: BBox | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Same as the store's read, seeing this transaction's uncommitted writes."""
        if self.closed:
            raise StoreUnavailableError(_ENDED)
        return read_frame(self.dialect, self.conn, layer, where=where, bbox=bbox, columns=columns)

    def read_records(
        self, layer: str, *, where: Filters | None = None, columns: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Same as the store's read_records, seeing this transaction's uncommitted writes."""
        if self.closed:
            raise StoreUnavailableError(_ENDED)
        return read_records(self.dialect, self.conn, layer, where=where, columns=columns)
