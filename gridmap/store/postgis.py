"""PostGISStore: the production store, PostgreSQL + PostGIS through psycopg 3.

Why it looks like this: one table per layer with ``geometry(<type>, srid)`` and a GiST index, so
bbox reads and spatial SQL run in the database; every statement is composed with
``psycopg.sql.Identifier`` for names from gridmap.schema and ``%s`` parameters for values (nothing
user-supplied is ever formatted into SQL); bulk inserts go through ``COPY`` with EWKB hex
geometries (100k buildings in a few seconds). Connections come from a small thread-safe pool
(``psycopg_pool``) so the portal's worker threads can share one store.

Errors: an unreachable server is a :class:`StoreUnavailableError` (503) naming host:port and the
database, never the password; a unique violation is a :class:`ConflictError` naming the layer and
the duplicated key values; each write call is atomic on its own (a savepoint), the whole
``transaction()`` block is atomic as a unit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from gridmap.config import Settings
from gridmap.errors import StoreUnavailableError, ValidationError
from gridmap.schema import LAYERS, layer_spec
from gridmap.store.base import BBox, Filters
from gridmap.store.migrations import migrations_for
from gridmap.store.postgis_tx import PostGISTransaction, pg_errors_as_gridmap, read_layer, where_clause
from gridmap.store.sql import conditions_from_filters

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


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{netloc}"))


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
                self._pool = ConnectionPool(
                    self._conninfo,
                    min_size=1,
                    max_size=POOL_MAX_SIZE,
                    kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
                    check=ConnectionPool.check_connection,
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
        with self._connection() as conn, pg_errors_as_gridmap(layer_spec(layer)):
            return read_layer(conn, layer, srid=self.settings.storage_epsg, where=where, bbox=bbox, columns=columns)

    def count(self, layer: str, *, where: Filters | None = None) -> int:
        spec = layer_spec(layer)
        where_sql, params = where_clause(conditions_from_filters(spec, where), None, self.settings.storage_epsg)
        query = sql.SQL("SELECT count(*) FROM {}{}").format(sql.Identifier(layer), where_sql)
        with self._connection() as conn, pg_errors_as_gridmap(spec):
            return int(conn.execute(query, params).fetchone()[0])  # type: ignore[index]

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


