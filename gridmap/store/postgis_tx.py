"""Reads and writes of PostGISStore on one connection: WHERE composition, COPY inserts, errors.

Every statement is composed with ``psycopg.sql.Identifier`` for names from gridmap.schema and
``%s`` parameters for values. Each write runs in its own savepoint, so a failed call leaves the
surrounding transaction usable and writes nothing (see gridmap.store.postgis for the store).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import errors as pg_errors
from psycopg import sql

from gridmap.errors import ConflictError, StoreUnavailableError, ValidationError
from gridmap.schema import FID, GEOMETRY, LayerSpec, layer_spec
from gridmap.store.base import BBox, Filters
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


def _json_param(name: str) -> sql.Composable:
    return sql.SQL("{} = %s::jsonb").format(sql.Identifier(name))


def where_clause(conditions: Sequence[Condition], bbox: BBox | None, srid: int) -> tuple[sql.Composable, list[Any]]:
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


def read_layer(
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
    where_sql, params = where_clause(conditions_from_filters(spec, where), box, srid)
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
        with pg_errors_as_gridmap(spec), self.conn.transaction():
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
        where_sql, params = where_clause(conditions_from_filters(spec, where), None, self.srid)
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
        where_sql, params = where_clause(conditions_from_filters(spec, where), None, self.srid)
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
        with pg_errors_as_gridmap(layer_spec(layer)):
            return read_layer(self.conn, layer, srid=self.srid, where=where, bbox=bbox, columns=columns)
