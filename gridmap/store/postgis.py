"""PostGISStore: the production store, PostgreSQL + PostGIS through psycopg 3.

Why it looks like this: one table per layer with ``geometry(<type>, srid)`` and a GiST index, so
bbox reads and spatial SQL run in the database. The verbs' SQL is gridmap.store.sql_core's,
shared with the GeoPackage; this module holds only what is PostgreSQL's own
(:class:`PostGISDialect`: ``%s`` parameters, ``= ANY`` lists, ``&&`` on an envelope, EWKB
geometries, jsonb casts, savepoints through psycopg, fids from the identity sequence, bulk
inserts through ``COPY`` (100k buildings in a few seconds)) plus the connections: a small
thread-safe pool (``psycopg_pool``) so the portal's worker threads can share one store. Names
from gridmap.schema are quoted identifiers, values are always ``%s`` parameters (nothing
user-supplied is ever formatted into SQL).

Errors: an unreachable server is a :class:`StoreUnavailableError` (503) naming host:port and the
database, never the password; a unique violation is a :class:`ConflictError` naming the layer and
the duplicated key values; each write call is atomic on its own (a savepoint), the whole
``transaction()`` block is atomic as a unit.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from gridmap.config import Settings
from gridmap.errors import StoreUnavailableError, ValidationError
from gridmap.schema import FID, GEOMETRY, LAYERS, Column, LayerSpec
from gridmap.store.base import BBox, Filters
from gridmap.store.migrations import migrations_for
from gridmap.store.sql_core import SqlDialect, SqlTransaction, count_rows, read_frame, read_records

#: Most connections one store opens (the portal serves with a few threads).
POOL_MAX_SIZE = 4
#: Seconds to wait for a connection (connect or free pool slot) before StoreUnavailableError.
CONNECT_TIMEOUT_S = 10
MIGRATIONS_TABLE = "schema_migrations"
#: Tables the migrations create that are not layers of gridmap.schema: derived data owned by one
#: module (here the SQL lookup's subdivided side table and its state row, see 0007). The store
#: contract test expects exactly LAYERS plus these.
INTERNAL_TABLES: tuple[str, ...] = ("lookup_grid_parts", "lookup_state")
_MIGRATIONS = sql.Identifier(MIGRATIONS_TABLE)
#: pg_advisory_xact_lock key so two processes never migrate the same database at once.
_MIGRATION_LOCK = 0x67726964  # 'grid'
SUPPORTED_SRIDS = (4326, 4490)
#: A pooled connection handed back less than this many seconds ago is lent again without a test query
#: (HikariCP's "alive bypass window" is 0.5 s): under load that saves a round trip per store call.
CHECK_IDLE_AFTER_S = 0.5


class _IdleConnectionCheck:
    """The pool's ``check``/``reset`` pair: test a connection only when it sat idle in the pool.

    Why not test every time (``ConnectionPool.check_connection``): an empty query per checkout was a
    quarter of a check-in's round trips to PostgreSQL. A connection that broke while busy is already
    discarded by the pool when it comes back in a bad state; one that breaks while idle (a server
    restart) has been idle for longer than the window and is tested before it is lent.
    """

    def __init__(self, window_s: float = CHECK_IDLE_AFTER_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._returned: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._window_s = window_s
        self._clock = clock

    def reset(self, conn: psycopg.Connection[Any]) -> None:
        """Called by the pool when a connection comes back: remember when."""
        with self._lock:
            self._returned[conn] = self._clock()

    def check(self, conn: psycopg.Connection[Any]) -> None:
        """Called by the pool before lending: raise (the pool then replaces it) if an idle one is broken."""
        with self._lock:
            returned = self._returned.get(conn)
        if returned is None or self._clock() - returned >= self._window_s:
            ConnectionPool.check_connection(conn)


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc}"))


def _ewkb_hex(geoms: np.ndarray, srid: int) -> list[str | None]:
    """EWKB hex (with SRID, what COPY text format accepts for a geometry column); None stays NULL."""
    present = np.array([g is not None for g in geoms], dtype=bool)
    out: list[str | None] = [None] * len(geoms)
    if present.any():
        tagged = shapely.set_srid(np.asarray(geoms, dtype=object)[present], srid)
        encoded = shapely.to_wkb(tagged, hex=True, include_srid=True, flavor="extended", output_dimension=2)
        for i, text in zip(np.flatnonzero(present), encoded, strict=True):
            out[i] = text
    return out


@contextmanager
def pg_errors_as_gridmap(spec: LayerSpec) -> Iterator[None]:
    """Constraint and data errors as ValidationError naming the layer (unique violations are handled apart)."""
    try:
        yield
    except pg_errors.UndefinedTable as exc:
        raise StoreUnavailableError(f"layer {spec.name!r} has no table ({exc.diag.message_primary}); migrate") from None
    except (pg_errors.IntegrityError, pg_errors.DataError) as exc:
        if isinstance(exc, pg_errors.UniqueViolation):
            raise
        raise ValidationError(f"layer {spec.name!r}: {exc.diag.message_primary}") from None


class PostGISDialect(SqlDialect[psycopg.Connection[Any]]):
    """PostgreSQL's side of the shared SQL (gridmap.store.sql_core).

    Canonical values go to psycopg as they are (it adapts bool, datetime and lists); jsonb comes
    back parsed and timestamptz as datetime, so only geometries need encoding and decoding.
    """

    placeholder: ClassVar[str] = "%s"
    false_sql: ClassVar[str] = "FALSE"
    integrity_errors: ClassVar[tuple[type[Exception], ...]] = (pg_errors.UniqueViolation,)

    def encode_column(self, col: Column, values: list[Any]) -> list[Any]:
        return values

    def set_sql(self, col: Column) -> str:
        """JSON text needs a cast to jsonb in an UPDATE (COPY converts it by itself)."""
        return "%s::jsonb" if col.type == "json" else "%s"

    def errors(self, spec: LayerSpec) -> AbstractContextManager[None]:
        return pg_errors_as_gridmap(spec)

    def error_detail(self, exc: Exception) -> str:
        """PostgreSQL's DETAIL line (e.g. ``Key (code)=(x) already exists.``)."""
        return str(exc.diag.message_detail) if isinstance(exc, psycopg.Error) else str(exc)

    def in_list(self, column_sql: str, values: list[Any]) -> tuple[str, Any]:
        """One array parameter, whatever the list length."""
        return f"{column_sql} = ANY(%s)", values

    def bbox_sql(self, spec: LayerSpec, bbox: BBox) -> tuple[str, list[Any]]:
        """``&&`` on an envelope: answered by the layer's GiST index."""
        return f"{self.quote(GEOMETRY)} && ST_MakeEnvelope(%s, %s, %s, %s, %s)", [*bbox, self.srid]

    def geometry_select(self) -> str:
        return f"ST_AsBinary({self.quote(GEOMETRY)})"

    def decode_geometries(self, values: Sequence[Any]) -> np.ndarray:
        return np.asarray(shapely.from_wkb(np.array(values, dtype=object)), dtype=object)

    def encode_geometries(self, geoms: np.ndarray) -> list[Any]:
        return _ewkb_hex(geoms, self.srid)

    def geometry_set_sql(self) -> str:
        return "ST_GeomFromEWKB(decode(%s, 'hex'))"

    @contextmanager
    def savepoint(self, conn: psycopg.Connection[Any], spec: LayerSpec) -> Iterator[None]:
        """psycopg's nested ``transaction()`` is a savepoint; errors are mapped after it rolled back."""
        with pg_errors_as_gridmap(spec), conn.transaction():
            yield

    def reserve_fids(self, conn: psycopg.Connection[Any], layer: str, n: int) -> list[int]:
        """Take n values of the fid identity sequence up front: COPY cannot return them."""
        found = conn.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [layer, FID, n]
        ).fetchall()
        return sorted(int(r[0]) for r in found)

    def write_rows(
        self, conn: psycopg.Connection[Any], layer: str, names: list[str], rows: Iterable[tuple[Any, ...]]
    ) -> None:
        """COPY ... FROM STDIN: an order of magnitude faster than INSERT for bulk imports."""
        statement = f"COPY {self.quote(layer)} ({', '.join(map(self.quote, names))}) FROM STDIN"
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


    def insert_rows(
        self, conn: psycopg.Connection[Any], spec: LayerSpec, names: list[str], columns: list[list[Any]], n: int
    ) -> list[int]:
        """One row: ``INSERT ... RETURNING fid``, one round trip instead of nextval + COPY (a check-in's row and
        its audit entry are single rows); more rows go through COPY, which is faster from a few rows on."""
        if n != 1:
            return super().insert_rows(conn, spec, names, columns, n)
        marks = [self.geometry_set_sql() if n == GEOMETRY else self.set_sql(spec.column(n)) for n in names]
        statement = (f"INSERT INTO {self.quote(spec.name)} ({', '.join(map(self.quote, names))}) "
                     f"VALUES ({', '.join(marks)}) RETURNING {self.quote(FID)}")
        row = conn.execute(statement, [values[0] for values in columns]).fetchone()
        assert row is not None  # RETURNING of a one-row INSERT always yields its row
        return [int(row[0])]


class PostGISTransaction(SqlTransaction[psycopg.Connection[Any]]):
    """Writes on one connection inside BEGIN; each call runs in its own savepoint."""

    def __init__(self, conn: psycopg.Connection[Any], srid: int) -> None:
        super().__init__(conn, PostGISDialect(srid))


class PostGISStore:
    """The Store protocol (gridmap.store.base) on PostgreSQL + PostGIS; ``url`` is kept without password."""

    def __init__(self, url: str, settings: Settings) -> None:
        if settings.storage_epsg not in SUPPORTED_SRIDS:
            raise ValidationError(f"storage_epsg {settings.storage_epsg} is not supported; use {SUPPORTED_SRIDS}")
        try:
            info = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ValidationError(f"invalid PostgreSQL URL {redact_url(url)!r}: {exc}") from None
        self._conninfo = url
        self._password = str(info.get("password") or "")
        self.url = redact_url(url)
        self.settings = settings
        self.server = f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}"
        self.dbname = str(info.get("dbname") or "")
        self.dialect = PostGISDialect(settings.storage_epsg)
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"PostGISStore({self.url!r})"

    def _unavailable(self, exc: BaseException) -> StoreUnavailableError:
        reason = str(exc).strip().replace(self._password, "***") if self._password else str(exc).strip()
        return StoreUnavailableError(
            f"cannot reach PostgreSQL at {self.server} (database {self.dbname!r}): {reason}",
            details={"server": self.server, "database": self.dbname},
        )

    def _get_pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            if self._closed:
                raise StoreUnavailableError(f"PostGIS store {self.url} is closed")
            if self._pool is None:
                try:  # probe first: the pool would only say "timeout", libpq says why
                    psycopg.connect(self._conninfo, connect_timeout=CONNECT_TIMEOUT_S).close()
                except psycopg.Error as exc:
                    raise self._unavailable(exc) from None
                idle_check = _IdleConnectionCheck()
                self._pool = ConnectionPool(
                    self._conninfo,
                    min_size=1,
                    max_size=POOL_MAX_SIZE,
                    kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
                    check=idle_check.check,
                    reset=idle_check.reset,
                    timeout=CONNECT_TIMEOUT_S,
                    open=True,
                    name=f"gridmap-{self.server}",
                )
            return self._pool

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        pool = self._get_pool()
        try:
            with pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise self._unavailable(exc) from None
        except psycopg.OperationalError as exc:
            raise self._unavailable(exc) from None

    def migrate(self) -> int:
        """Apply missing numbered migrations in one transaction (serialised by an advisory lock)."""
        srid = self.settings.storage_epsg
        known = migrations_for("postgis")
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [_MIGRATION_LOCK])
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (version integer PRIMARY KEY, name text NOT NULL, "
                    "applied_at timestamptz NOT NULL DEFAULT now())"
                ).format(_MIGRATIONS)
            )
            applied = {r[0] for r in conn.execute(sql.SQL("SELECT version FROM {}").format(_MIGRATIONS))}
            if applied - {m.version for m in known}:
                raise StoreUnavailableError(
                    f"database {self.dbname!r} on {self.server} has schema version {max(applied)}, newer than "
                    f"this gridmap knows ({len(known)}); upgrade gridmap"
                )
            for migration in known:
                if migration.version not in applied:
                    conn.execute(sql.SQL(migration.sql).format(srid=sql.Literal(srid)))
                    conn.execute(
                        sql.SQL("INSERT INTO {} (version, name) VALUES (%s, %s)").format(_MIGRATIONS),
                        [migration.version, migration.name],
                    )
            self._check_srid(conn, srid)
        return len(known)

    def _check_srid(self, conn: psycopg.Connection[Any], srid: int) -> None:
        other = conn.execute(
            "SELECT f_table_name, srid FROM geometry_columns WHERE f_table_schema = current_schema() "
            "AND f_table_name = ANY(%s) AND srid <> %s",
            [list(LAYERS), srid],
        ).fetchone()
        if other:
            raise ValidationError(
                f"database {self.dbname!r} stores layer {other[0]!r} in EPSG:{other[1]} but settings.storage_epsg "
                f"is {srid}; use the same storage CRS as when the database was created"
            )

    def schema_version(self) -> int:
        with self._connection() as conn:
            exists = conn.execute("SELECT to_regclass(%s)", [MIGRATIONS_TABLE]).fetchone()
            if not exists or exists[0] is None:
                return 0
            row = conn.execute(sql.SQL("SELECT coalesce(max(version), 0) FROM {}").format(_MIGRATIONS))
            return int(row.fetchone()[0])  # type: ignore[index]

    def read(
        self,
        layer: str,
        *,
        where: Filters | None = None,
        bbox: BBox | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Rows of a layer ordered by fid; bbox keeps rows whose envelope intersects it (via the GiST index)."""
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

    def query(
        self, statement: sql.SQL | sql.Composed, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Run ONE parameterised statement in its own transaction and return its rows ([] if none).

        For spatial SQL the Store protocol has no verb for (lookup_sql's ST_Covers queries, side
        tables). Compose names with ``psycopg.sql.Identifier`` and pass values as ``params``.
        """
        with self._connection() as conn, conn.transaction():
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description is not None else []

    @contextmanager
    def transaction(self) -> Iterator[PostGISTransaction]:
        """BEGIN ... COMMIT on one pooled connection; any exception rolls back every write of the block."""
        with self._connection() as conn, conn.transaction():
            tx = PostGISTransaction(conn, self.settings.storage_epsg)
            try:
                yield tx
            finally:
                tx.closed = True

    def close(self) -> None:
        """Close the pool (and its worker threads); later calls raise StoreUnavailableError."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


