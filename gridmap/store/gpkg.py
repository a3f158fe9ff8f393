"""GeoPackageStore: the embedded default store, a real OGC GeoPackage that GDAL and QGIS open.

Why a GeoPackage: one file a planner can copy, open in QGIS and send back, with no server to run.
The file carries the GeoPackage metadata (application_id ``GPKG``, gpkg_contents with extents,
gpkg_geometry_columns, SRS 4326/4490), geometries in GeoPackage binary, and the
``gpkg_rtree_index`` extension, so bbox reads go through the R-tree like GDAL's do.

The SQL itself is gridmap.store.sql_core's, shared with PostGIS; this module holds only what is
SQLite's own (:class:`GeoPackageDialect`: ``?`` parameters, 0/1 booleans, ISO 8601 text datetimes,
json_each lists, R-tree bbox, SAVEPOINT, fids past sqlite_sequence) plus the file's connections.

Concurrency: every read and every transaction uses its own sqlite3 connection (cheap, and safe
across portal threads); a transaction is ``BEGIN IMMEDIATE ... COMMIT`` so writers queue on the
file lock (up to ``BUSY_TIMEOUT_S``) while WAL mode lets readers continue.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from gridmap.config import Settings
from gridmap.errors import StoreUnavailableError, ValidationError
from gridmap.schema import FID, GEOMETRY, LAYERS, Column, LayerSpec, layer_spec
from gridmap.store.base import BBox, Filters
from gridmap.store.gpkg_binary import geometries_from_gpkg_blobs, gpkg_blobs_from_geometries, register_sql_functions
from gridmap.store.gpkg_metadata import declare_geometry_types, ensure_data_columns, ensure_layer_styles
from gridmap.store.gpkg_schema import ensure_rtree_indexes, migrate_connection, rtree_name
from gridmap.store.sql_core import SqlDialect, SqlTransaction, count_rows, read_frame, read_records

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


#: Column types whose stored values ``series_from_values`` takes as they are (ISO datetime text is parsed
#: there for the whole column at once, which is ~50x faster than one pd.Timestamp per value).
_RAW_TYPES = frozenset({"text", "int", "float", "datetime"})


class GeoPackageDialect(SqlDialect[sqlite3.Connection]):
    """SQLite's side of the shared SQL (gridmap.store.sql_core) for a GeoPackage file."""

    placeholder: ClassVar[str] = "?"
    false_sql: ClassVar[str] = "0"
    integrity_errors: ClassVar[tuple[type[Exception], ...]] = (sqlite3.IntegrityError,)

    def encode(self, col: Column, value: Any) -> Any:
        """A canonical value (gridmap.store.sql) as stored in SQLite: bool 0/1, datetime ISO 8601 ms 'Z'."""
        if value is None:
            return None
        if col.type == "bool":
            return int(value)
        if col.type == "datetime":
            stamp: dt.datetime = value
            return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
        return value

    def decode_value(self, col: Column, value: Any) -> Any:
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

    def decode_column(self, col: Column, values: Sequence[Any]) -> Sequence[Any]:
        """json/bool decoded per value; text, numbers and ISO datetimes passed raw (parsed per column later)."""
        if col.type in _RAW_TYPES:
            return values
        return [self.decode_value(col, v) for v in values]

    def in_list(self, column_sql: str, values: list[Any]) -> tuple[str, Any]:
        """One JSON parameter, whatever the list length (no SQLite variable limit)."""
        return f"{column_sql} IN (SELECT value FROM json_each(?))", json.dumps(values)

    def bbox_sql(self, spec: LayerSpec, bbox: BBox) -> tuple[str, list[Any]]:
        """Through the layer's gpkg_rtree_index table, as GDAL queries it."""
        sql = (
            f"{q(FID)} IN (SELECT id FROM {q(rtree_name(spec.name))} "
            "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)"
        )
        return sql, [bbox[2], bbox[0], bbox[3], bbox[1]]

    def geometry_select(self) -> str:
        return q(GEOMETRY)

    def decode_geometries(self, values: Sequence[Any]) -> np.ndarray:
        return geometries_from_gpkg_blobs(values)

    def encode_geometries(self, geoms: np.ndarray) -> list[Any]:
        return gpkg_blobs_from_geometries(geoms, srs_id=self.srid)

    def geometry_set_sql(self) -> str:
        return "?"

    @contextmanager
    def savepoint(self, conn: sqlite3.Connection, spec: LayerSpec) -> Iterator[None]:
        conn.execute("SAVEPOINT gridmap_op")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK TO gridmap_op")
            conn.execute("RELEASE gridmap_op")
            raise
        conn.execute("RELEASE gridmap_op")

    def reserve_fids(self, conn: sqlite3.Connection, layer: str, n: int) -> list[int]:
        """Fids are assigned here (not by SQLite) so insert can return them; AUTOINCREMENT never reuses one."""
        row = conn.execute(
            f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), "
            f"coalesce((SELECT max({q(FID)}) FROM {q(layer)}), 0))",
            [layer],
        ).fetchone()
        start = int(row[0]) + 1
        return list(range(start, start + n))

    def write_rows(
        self, conn: sqlite3.Connection, layer: str, names: list[str], rows: Iterable[tuple[Any, ...]]
    ) -> None:
        """One executemany of a prepared INSERT (sqlite3 steps it in C)."""
        placeholders = ", ".join("?" * len(names))
        conn.executemany(f"INSERT INTO {q(layer)} ({', '.join(map(q, names))}) VALUES ({placeholders})", rows)

    def is_unique_violation(self, exc: Exception) -> bool:
        """sqlite3 has one IntegrityError for every constraint; the message names UNIQUE ones."""
        return "UNIQUE" in str(exc)


class GeoPackageStore:
    """The Store protocol (gridmap.store.base) on a GeoPackage file."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self.path = path_from_url(url)
        self.dialect = GeoPackageDialect(settings.storage_epsg)
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
            return read_frame(self.dialect, conn, layer, where=where, bbox=bbox, columns=columns)

    def read_records(
        self, layer: str, *, where: Filters | None = None, columns: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Rows as plain dicts (gridmap.store.base.Store.read_records)."""
        with self._connection() as conn:
            return read_records(self.dialect, conn, layer, where=where, columns=columns)

    def count(self, layer: str, *, where: Filters | None = None) -> int:
        return count_rows(self.dialect, self._connection, layer, where)

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


class GeoPackageTransaction(SqlTransaction[sqlite3.Connection]):
    """Writes on one connection inside BEGIN IMMEDIATE; each call is atomic on its own (a savepoint)."""

    def __init__(self, conn: sqlite3.Connection, epsg: int) -> None:
        super().__init__(conn, GeoPackageDialect(epsg))

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
