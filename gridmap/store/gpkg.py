"""GeoPackageStore: the embedded default store, a real OGC GeoPackage that GDAL and QGIS open.

Why a GeoPackage: one file a planner can copy, open in QGIS and send back, with no server to run.
The file carries the GeoPackage metadata (application_id ``GPKG``, gpkg_contents with extents,
gpkg_geometry_columns, SRS 4326/4490), geometries in GeoPackage binary, and the
``gpkg_rtree_index`` extension, so bbox reads go through the R-tree like GDAL's do.

Concurrency: every read and every transaction uses its own sqlite3 connection (cheap, and safe
across portal threads); a transaction is ``BEGIN IMMEDIATE ... COMMIT`` so writers queue on the
file lock (up to ``BUSY_TIMEOUT_S``) while WAL mode lets readers continue.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridmap.config import Settings
from gridmap.errors import ConflictError, StoreUnavailableError, ValidationError
from gridmap.schema import FID, GEOMETRY, LAYERS, Column, LayerSpec, layer_spec
from gridmap.store.base import BBox, Filters
from gridmap.store.gpkg_binary import geometries_from_gpkg_blobs, gpkg_blobs_from_geometries, register_sql_functions
from gridmap.store.gpkg_metadata import declare_geometry_types, ensure_data_columns, ensure_layer_styles
from gridmap.store.gpkg_schema import ensure_rtree_indexes, migrate_connection, rtree_name
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
    values_for_update,
)

#: Seconds a writer waits for another writer's lock before giving up (StoreUnavailableError).
BUSY_TIMEOUT_S = 30.0


def q(name: str) -> str:
    """A quoted SQLite identifier (names come from gridmap.schema, quoting guards reserved words)."""
    return '"' + name.replace('"', '""') + '"'


def path_from_url(url: str) -> Path:
    """``gpkg:///abs/file.gpkg`` -> /abs/file.gpkg; ``gpkg://rel/file.gpkg`` -> rel/file.gpkg (from cwd)."""
    scheme, sep, rest = url.partition("://")
    if scheme != "gpkg" or not sep or not rest or rest.endswith("/"):
        raise ValidationError(f"GeoPackage URL {url!r} must look like gpkg:///abs/file.gpkg or gpkg://rel/file.gpkg")
    return Path(rest)


def _encode(col: Column, value: Any) -> Any:
    """A canonical value (gridmap.store.sql) as stored in SQLite: bool 0/1, datetime ISO 8601 ms 'Z'."""
    if value is None:
        return None
    if col.type == "bool":
        return int(value)
    if col.type == "datetime":
        stamp: dt.datetime = value
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
    return value


def _decode(col: Column, value: Any) -> Any:
    """A stored value back as canonical Python (json parsed, bool from 0/1, datetime from text)."""
    if value is None:
        return None
    if col.type == "json":
        return json.loads(value)
    if col.type == "bool":
        return bool(value)
    if col.type == "datetime":
        return pd.Timestamp(value).tz_convert("UTC").to_pydatetime()
    return value


#: Column types whose stored values ``series_from_values`` takes as they are (ISO datetime text is parsed
#: there for the whole column at once, which is ~50x faster than one pd.Timestamp per value).
_RAW_TYPES = frozenset({"text", "int", "float", "datetime"})


def _decoded_column(col: Column, values: Sequence[Any], keep: np.ndarray) -> Sequence[Any]:
    """One column's stored values, rows not in ``keep`` dropped, json/bool decoded (the rest passed raw)."""
    kept = values if keep.all() else [v for v, k in zip(values, keep.tolist(), strict=True) if k]
    if col.type in _RAW_TYPES:
        return kept
    return [_decode(col, v) for v in kept]


def _where_sql(spec: LayerSpec, conditions: Sequence[Condition], bbox: BBox | None) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    for cond in conditions:
        col = column_of(spec, cond.column, allow_fid=True)
        terms = []
        if len(cond.values) == 1:
            terms.append(f"{q(cond.column)} = ?")
            params.append(_encode(col, cond.values[0]))
        elif cond.values:  # one JSON parameter, whatever the list length (no SQLite variable limit)
            terms.append(f"{q(cond.column)} IN (SELECT value FROM json_each(?))")
            params.append(json.dumps([_encode(col, v) for v in cond.values]))
        if cond.include_null:
            terms.append(f"{q(cond.column)} IS NULL")
        parts.append("(" + " OR ".join(terms) + ")" if terms else "0")
    if bbox is not None:
        parts.append(
            f"{q(FID)} IN (SELECT id FROM {q(rtree_name(spec.name))} "
            "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)"
        )
        params += [bbox[2], bbox[0], bbox[3], bbox[1]]
    return (" WHERE " + " AND ".join(parts) if parts else ""), params


def _read(
    conn: sqlite3.Connection,
    layer: str,
    *,
    epsg: int,
    where: Filters | None,
    bbox: BBox | None,
    columns: Sequence[str] | None,
) -> pd.DataFrame:
    spec = layer_spec(layer)
    names, with_geometry = read_columns(spec, columns)
    box = check_bbox(spec, bbox)
    where_sql, params = _where_sql(spec, conditions_from_filters(spec, where), box)
    selected = [FID, *names] + ([GEOMETRY] if with_geometry or box is not None else [])
    query = f"SELECT {', '.join(map(q, selected))} FROM {q(layer)}{where_sql} ORDER BY {q(FID)}"
    rows = conn.execute(query, params).fetchall()
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in selected]
    geometry = geometries_from_gpkg_blobs(cols[-1]) if len(selected) > len(names) + 1 else None
    keep = np.ones(len(rows), dtype=bool)
    if box is not None and geometry is not None:
        keep = mask_bbox(geometry, box)
    everything = bool(keep.all())
    data = {n: _decoded_column(spec.column(n), cols[i + 1], keep) for i, n in enumerate(names)}
    fids = cols[0] if everything else [f for f, k in zip(cols[0], keep.tolist(), strict=True) if k]
    out_geometry = geometry[keep] if (geometry is not None and with_geometry) else None
    return frame_from_columns(spec, fids, data, out_geometry, epsg=epsg)


class GeoPackageStore:
    """The Store protocol (gridmap.store.base) on a GeoPackage file."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self.path = path_from_url(url)
        self._closed = False

    def __repr__(self) -> str:
        return f"GeoPackageStore({self.url!r})"

    @contextmanager
    def _connection(self, *, create: bool = False) -> Iterator[sqlite3.Connection]:
        if self._closed:
            raise StoreUnavailableError(f"GeoPackage store {self.path} is closed")
        if not create and not self.path.exists():
            raise StoreUnavailableError(f"GeoPackage {self.path} does not exist; open the store with migrate=True")
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"cannot open GeoPackage {self.path}: {exc}") from None
        try:
            register_sql_functions(conn)
            with _sqlite_errors(self.path):
                yield conn
        finally:
            conn.close()

    def migrate(self) -> int:
        """Create or upgrade the file (numbered migrations + R-tree indexes); returns the schema version."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection(create=True) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = migrate_connection(conn, path=self.path, srs_id=self.settings.storage_epsg)
                ensure_rtree_indexes(conn)
                ensure_data_columns(conn)
                ensure_layer_styles(conn)
                declare_geometry_types(conn, set(LAYERS))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return version

    def schema_version(self) -> int:
        with self._connection() as conn:
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'gridmap_migrations'").fetchone()
            if not exists:
                return 0
            return int(conn.execute("SELECT coalesce(max(version), 0) FROM gridmap_migrations").fetchone()[0])

    def read(
        self,
        layer: str,
        *,
        where: Filters | None = None,
        bbox: BBox | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Rows of a layer ordered by fid; bbox keeps rows whose envelope intersects it (via the R-tree)."""
        with self._connection() as conn:
            return _read(conn, layer, epsg=self.settings.storage_epsg, where=where, bbox=bbox, columns=columns)

    def count(self, layer: str, *, where: Filters | None = None) -> int:
        spec = layer_spec(layer)
        where_sql, params = _where_sql(spec, conditions_from_filters(spec, where), None)
        with self._connection() as conn:
            return int(conn.execute(f"SELECT count(*) FROM {q(layer)}{where_sql}", params).fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[GeoPackageTransaction]:
        """One ``BEGIN IMMEDIATE ... COMMIT``; any exception rolls back every write of the block."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            tx = GeoPackageTransaction(conn, self.settings.storage_epsg)
            try:
                yield tx
                tx.update_contents()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            finally:
                tx.closed = True

    def close(self) -> None:
        """Connections are per call, so nothing stays open; later calls raise StoreUnavailableError."""
        self._closed = True


@contextmanager
def _sqlite_errors(path: Path) -> Iterator[None]:
    """SQLite failures as gridmap errors that name the file (busy/missing schema -> 503, not a db -> 400)."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise StoreUnavailableError(f"GeoPackage {path} is busy (another writer holds it): {text}") from None
        if "no such table" in text:
            raise StoreUnavailableError(f"GeoPackage {path} is not migrated ({text}); run migrate") from None
        raise
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc):
            raise ValidationError(f"{path} is not a GeoPackage (SQLite says: {exc})") from None
        raise


class GeoPackageTransaction:
    """Writes on one connection inside BEGIN IMMEDIATE; each call is atomic on its own (a savepoint)."""

    def __init__(self, conn: sqlite3.Connection, epsg: int) -> None:
        self.conn = conn
        self.epsg = epsg
        self.closed = False
        self.touched: set[str] = set()

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        if self.closed:
            raise StoreUnavailableError("this transaction has ended; open a new one with store.transaction()")
        self.conn.execute("SAVEPOINT gridmap_op")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK TO gridmap_op")
            self.conn.execute("RELEASE gridmap_op")
            raise
        self.conn.execute("RELEASE gridmap_op")

    def insert(self, layer: str, frame: pd.DataFrame) -> list[int]:
        spec = layer_spec(layer)
        rows = rows_from_frame(spec, frame, epsg=self.epsg)
        if rows.length == 0:
            return []
        names = [FID, *spec.column_names] + ([GEOMETRY] if spec.geometry_type else [])
        try:
            with self._savepoint():
                start = self._next_fid(layer)
                fids = list(range(start, start + rows.length))
                encoded = [[_encode(spec.column(c), v) for v in rows.data[c]] for c in spec.column_names]
                if rows.geometry is not None:
                    encoded.append(gpkg_blobs_from_geometries(rows.geometry, srs_id=self.epsg))
                placeholders = ", ".join("?" * len(names))
                self.conn.executemany(
                    f"INSERT INTO {q(layer)} ({', '.join(map(q, names))}) VALUES ({placeholders})",
                    zip(fids, *encoded, strict=True),
                )
        except sqlite3.IntegrityError as exc:
            raise self._integrity_error(rows, exc) from None
        self.touched.add(layer)
        return fids

    def _next_fid(self, layer: str) -> int:
        """Fids are assigned here (not by SQLite) so insert can return them; AUTOINCREMENT never reuses one."""
        row = self.conn.execute(
            f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), "
            f"coalesce((SELECT max({q(FID)}) FROM {q(layer)}), 0))",
            [layer],
        ).fetchone()
        return int(row[0]) + 1

    def _integrity_error(self, rows: PreparedRows, exc: sqlite3.IntegrityError) -> Exception:
        spec = rows.spec
        if "UNIQUE" not in str(exc):
            return ValidationError(f"layer {spec.name!r}: {exc}")
        found = duplicate_keys(rows, lambda cols, firsts: self._existing_keys(spec, cols, firsts))
        if found is None:
            return ConflictError(f"layer {spec.name!r}: {exc}; nothing was written")
        return conflict_error(spec, *found)

    def _existing_keys(self, spec: LayerSpec, cols: tuple[str, ...], firsts: list[Any]) -> set[tuple[Any, ...]]:
        first = spec.column(cols[0])
        found = self.conn.execute(
            f"SELECT {', '.join(map(q, cols))} FROM {q(spec.name)} "
            f"WHERE {q(cols[0])} IN (SELECT value FROM json_each(?))",
            [json.dumps([_encode(first, v) for v in firsts])],
        ).fetchall()
        return {tuple(_decode(spec.column(c), v) for c, v in zip(cols, row, strict=True)) for row in found}

    def update(self, layer: str, where: Filters, values: Mapping[str, Any]) -> int:
        spec = layer_spec(layer)
        if not where:
            raise ValidationError(f"update of layer {layer!r} needs a where filter (refusing to change every row)")
        attrs, geometry, has_geometry = values_for_update(spec, values)
        where_sql, params = _where_sql(spec, conditions_from_filters(spec, where), None)
        sets = [f"{q(name)} = ?" for name in attrs]
        set_params = [_encode(spec.column(name), v) for name, v in attrs.items()]
        if has_geometry:
            sets.append(f"{q(GEOMETRY)} = ?")
            set_params += gpkg_blobs_from_geometries(np.array([geometry], dtype=object), srs_id=self.epsg)
        try:
            with self._savepoint():
                count = self.conn.execute(f"UPDATE {q(layer)} SET {', '.join(sets)}{where_sql}", set_params + params)
        except sqlite3.IntegrityError as exc:
            keys = [c for cols in key_sets(spec) for c in cols if c in attrs]
            raise ConflictError(
                f"layer {layer!r}: setting {', '.join(f'{k}={attrs[k]!r}' for k in keys) or 'these values'} "
                f"would break a unique key ({exc}); nothing was written"
            ) from None
        if count.rowcount:
            self.touched.add(layer)
        return int(count.rowcount)

    def delete(self, layer: str, where: Filters) -> int:
        spec = layer_spec(layer)
        if not where:
            return 0
        where_sql, params = _where_sql(spec, conditions_from_filters(spec, where), None)
        with self._savepoint():
            count = self.conn.execute(f"DELETE FROM {q(layer)}{where_sql}", params).rowcount
        if count:
            self.touched.add(layer)
        return int(count)

    def truncate(self, layer: str) -> int:
        layer_spec(layer)
        with self._savepoint():
            count = int(self.conn.execute(f"SELECT count(*) FROM {q(layer)}").fetchone()[0])
            self.conn.execute(f"DELETE FROM {q(layer)}")
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
        if self.closed:
            raise StoreUnavailableError("this transaction has ended; open a new one with store.transaction()")
        return _read(self.conn, layer, epsg=self.epsg, where=where, bbox=bbox, columns=columns)

    def update_contents(self) -> None:
        """Refresh gpkg_contents.last_change, the extent (from the R-tree) and the declared geometry type
        of every written layer."""
        declare_geometry_types(self.conn, self.touched)
        for layer in sorted(self.touched):
            spec = layer_spec(layer)
            if spec.geometry_type is None:
                self.conn.execute(
                    "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                    "WHERE table_name = ?",
                    [layer],
                )
                continue
            self.conn.execute(
                "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), "
                "min_x = e.x0, min_y = e.y0, max_x = e.x1, max_y = e.y1 "
                f"FROM (SELECT min(minx) AS x0, min(miny) AS y0, max(maxx) AS x1, max(maxy) AS y1 "
                f"FROM {q(rtree_name(layer))}) AS e WHERE table_name = ?",
                [layer],
            )
