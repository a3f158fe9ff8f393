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

import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from gridmap.config import Settings
from gridmap.errors import ConflictError, StoreUnavailableError, ValidationError
from gridmap.schema import FID, GEOMETRY, LAYERS, LayerSpec, layer_spec
from gridmap.store.base import BBox, Filters
from gridmap.store.migrations import migrations_for
from gridmap.store.sql import (
    Condition,
    PreparedRows,
    check_bbox,
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

#: Most connections one store opens (the portal serves with a few threads).
POOL_MAX_SIZE = 4
#: Seconds to wait for a connection (connect or free pool slot) before StoreUnavailableError.
CONNECT_TIMEOUT_S = 10
MIGRATIONS_TABLE = "schema_migrations"
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


def _json_param(name: str) -> sql.Composable:
    return sql.SQL("{} = %s::jsonb").format(sql.Identifier(name))


def _where_sql(conditions: Sequence[Condition], bbox: BBox | None, srid: int) -> tuple[sql.Composable, list[Any]]:
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for cond in conditions:
        ident = sql.Identifier(cond.column)
        terms: list[sql.Composable] = []
        if len(cond.values) == 1:
            terms.append(sql.SQL("{} = %s").format(ident))
            params.append(cond.values[0])
        elif cond.values:
            terms.append(sql.SQL("{} = ANY(%s)").format(ident))
            params.append(list(cond.values))
        if cond.include_null:
            terms.append(sql.SQL("{} IS NULL").format(ident))
        parts.append(sql.SQL("({})").format(sql.SQL(" OR ").join(terms)) if terms else sql.SQL("FALSE"))
    if bbox is not None:
        parts.append(sql.SQL("{} && ST_MakeEnvelope(%s, %s, %s, %s, %s)").format(sql.Identifier(GEOMETRY)))
        params += [*bbox, srid]
    if not parts:
        return sql.SQL(""), params
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), params


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


def _read(
    conn: psycopg.Connection[Any],
    layer: str,
    *,
    srid: int,
    where: Filters | None,
    bbox: BBox | None,
    columns: Sequence[str] | None,
) -> pd.DataFrame:
    spec = layer_spec(layer)
    names, with_geometry = read_columns(spec, columns)
    box = check_bbox(spec, bbox)
    where_sql, params = _where_sql(conditions_from_filters(spec, where), box, srid)
    fields: list[sql.Composable] = [sql.Identifier(FID), *map(sql.Identifier, names)]
    geometry_read = with_geometry or box is not None
    if geometry_read:
        fields.append(sql.SQL("ST_AsBinary({})").format(sql.Identifier(GEOMETRY)))
    query = sql.SQL("SELECT {} FROM {}{} ORDER BY {}").format(
        sql.SQL(", ").join(fields), sql.Identifier(layer), where_sql, sql.Identifier(FID)
    )
    rows = conn.execute(query, params).fetchall()
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in fields]
    geometry = np.asarray(shapely.from_wkb(np.array(cols[-1], dtype=object)), dtype=object) if geometry_read else None
    keep = mask_bbox(geometry, box) if (box is not None and geometry is not None) else np.ones(len(rows), dtype=bool)
    data = {n: [v for v, k in zip(cols[i + 1], keep, strict=True) if k] for i, n in enumerate(names)}
    fids = [f for f, k in zip(cols[0], keep, strict=True) if k]
    out_geometry = geometry[keep] if (geometry is not None and with_geometry) else None
    return frame_from_columns(spec, fids, data, out_geometry, epsg=srid)


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
        with self._connection() as conn, _pg_errors(layer_spec(layer)):
            return _read(conn, layer, srid=self.settings.storage_epsg, where=where, bbox=bbox, columns=columns)

    def count(self, layer: str, *, where: Filters | None = None) -> int:
        spec = layer_spec(layer)
        where_sql, params = _where_sql(conditions_from_filters(spec, where), None, self.settings.storage_epsg)
        query = sql.SQL("SELECT count(*) FROM {}{}").format(sql.Identifier(layer), where_sql)
        with self._connection() as conn, _pg_errors(spec):
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


@contextmanager
def _pg_errors(spec: LayerSpec) -> Iterator[None]:
    """Constraint and data errors as ValidationError naming the layer (unique violations are handled apart)."""
    try:
        yield
    except pg_errors.UndefinedTable as exc:
        raise StoreUnavailableError(f"layer {spec.name!r} has no table ({exc.diag.message_primary}); migrate") from None
    except (pg_errors.IntegrityError, pg_errors.DataError) as exc:
        if isinstance(exc, pg_errors.UniqueViolation):
            raise
        raise ValidationError(f"layer {spec.name!r}: {exc.diag.message_primary}") from None


class PostGISTransaction:
    """Writes on one connection inside BEGIN; each call runs in its own savepoint."""

    def __init__(self, conn: psycopg.Connection[Any], srid: int) -> None:
        self.conn = conn
        self.srid = srid
        self.closed = False

    @contextmanager
    def _savepoint(self, spec: LayerSpec) -> Iterator[None]:
        if self.closed:
            raise StoreUnavailableError("this transaction has ended; open a new one with store.transaction()")
        with _pg_errors(spec), self.conn.transaction():
            yield

    def insert(self, layer: str, frame: pd.DataFrame) -> list[int]:
        spec = layer_spec(layer)
        rows = rows_from_frame(spec, frame, epsg=self.srid)
        if rows.length == 0:
            return []
        names = [FID, *spec.column_names] + ([GEOMETRY] if spec.geometry_type else [])
        columns: list[list[Any]] = [rows.data[c] for c in spec.column_names]
        if rows.geometry is not None:
            columns.append(_ewkb_hex(rows.geometry, self.srid))
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(layer), sql.SQL(", ").join(map(sql.Identifier, names))
        )
        try:
            with self._savepoint(spec):
                fids = self._reserve_fids(layer, rows.length)
                with self.conn.cursor() as cur, cur.copy(copy_sql) as copy:
                    for row in zip(fids, *columns, strict=True):
                        copy.write_row(row)
        except pg_errors.UniqueViolation as exc:
            raise self._conflict(rows, exc) from None
        return fids

    def _reserve_fids(self, layer: str, n: int) -> list[int]:
        """Take n values of the fid identity sequence up front: COPY cannot return them."""
        found = self.conn.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [layer, FID, n]
        ).fetchall()
        return sorted(int(r[0]) for r in found)

    def _conflict(self, rows: PreparedRows, exc: pg_errors.UniqueViolation) -> ConflictError:
        found = duplicate_keys(rows, lambda cols, firsts: self._existing_keys(rows.spec, cols, firsts))
        if found is None:
            return ConflictError(f"layer {rows.spec.name!r}: {exc.diag.message_detail}; nothing was written")
        return conflict_error(rows.spec, *found)

    def _existing_keys(self, spec: LayerSpec, cols: tuple[str, ...], firsts: list[Any]) -> set[tuple[Any, ...]]:
        query = sql.SQL("SELECT {} FROM {} WHERE {} = ANY(%s)").format(
            sql.SQL(", ").join(map(sql.Identifier, cols)), sql.Identifier(spec.name), sql.Identifier(cols[0])
        )
        return {tuple(r) for r in self.conn.execute(query, [firsts]).fetchall()}

    def update(self, layer: str, where: Filters, values: Mapping[str, Any]) -> int:
        spec = layer_spec(layer)
        if not where:
            raise ValidationError(f"update of layer {layer!r} needs a where filter (refusing to change every row)")
        attrs, geometry, has_geometry = values_for_update(spec, values)
        where_sql, params = _where_sql(conditions_from_filters(spec, where), None, self.srid)
        sets: list[sql.Composable] = [
            _json_param(n) if spec.column(n).type == "json" else sql.SQL("{} = %s").format(sql.Identifier(n))
            for n in attrs
        ]
        set_params: list[Any] = list(attrs.values())
        if has_geometry:
            sets.append(sql.SQL("{} = ST_GeomFromEWKB(decode(%s, 'hex'))").format(sql.Identifier(GEOMETRY)))
            set_params += _ewkb_hex(np.array([geometry], dtype=object), self.srid)
        query = sql.SQL("UPDATE {} SET {}{}").format(sql.Identifier(layer), sql.SQL(", ").join(sets), where_sql)
        try:
            with self._savepoint(spec):
                return int(self.conn.execute(query, set_params + params).rowcount)
        except pg_errors.UniqueViolation as exc:
            keys = [c for cols in key_sets(spec) for c in cols if c in attrs]
            raise ConflictError(
                f"layer {layer!r}: setting {', '.join(f'{k}={attrs[k]!r}' for k in keys) or 'these values'} "
                f"would break a unique key ({exc.diag.message_detail}); nothing was written"
            ) from None

    def delete(self, layer: str, where: Filters) -> int:
        spec = layer_spec(layer)
        if not where:
            return 0
        where_sql, params = _where_sql(conditions_from_filters(spec, where), None, self.srid)
        query = sql.SQL("DELETE FROM {}{}").format(sql.Identifier(layer), where_sql)
        with self._savepoint(spec):
            return int(self.conn.execute(query, params).rowcount)

    def truncate(self, layer: str) -> int:
        """DELETE, not TRUNCATE: readers keep their MVCC snapshot instead of waiting on an exclusive lock."""
        spec = layer_spec(layer)
        with self._savepoint(spec):
            return int(self.conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(layer))).rowcount)

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
        with _pg_errors(layer_spec(layer)):
            return _read(self.conn, layer, srid=self.srid, where=where, bbox=bbox, columns=columns)
