"""Filtered, newest-first pages of incidents (and events), answered by the database as plain records.

Why SQL and records here: the Store protocol filters by equality only and has no ORDER BY/LIMIT,
and it builds a pandas frame per read, which costs milliseconds per call. GET requests must pick
"the newest 1000 in a date window" out of hundreds of thousands of rows in well under 200 ms, and
every POST looks for duplicates nearby, so these two hot paths run one parameterised ``SELECT ...
ORDER BY <time> DESC LIMIT n`` on the time indexes (migration 0004) and return dicts of plain
Python values: datetimes tz-aware UTC, points as ``lon``/``lat`` (storage CRS degrees).

The GeoPackage stores datetimes as ISO 8601 text in UTC with milliseconds and a ``Z``
(gridmap.store.gpkg), which sorts and compares like the instants it encodes; bounds are formatted
the same way. Reads use a read-only connection of their own.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import shapely
from psycopg import sql

from gridmap import schema
from gridmap.errors import StoreUnavailableError, ValidationError
from gridmap.store.base import Store
from gridmap.store.gpkg_binary import geometries_from_gpkg_blobs

#: Most rows one query returns (GeoReport v2: "first 1000 requests").
MAX_RESULTS = 1000
_COLUMN_FOR_LENGTH = {15: "grid_code", 12: "community_code", 9: "street_code", 6: "street_code"}
#: Multi-valued filters on these columns are split into one ordered index scan per value (postgis_select).
_SPLIT_COLUMNS = frozenset({"status", "category"})
_MAX_BRANCHES = 24
#: The time column each listable layer is windowed and ordered by.
_ORDER_COLUMN = {schema.INCIDENTS: "reported_at", schema.INCIDENT_EVENTS: "at"}
Record = dict[str, Any]


@dataclass(frozen=True)
class IncidentFilter:
    """Conditions of a listing; None means "any". Datetimes are timezone-aware."""

    start: datetime | None = None
    end: datetime | None = None
    ids: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None  # stored category values (service code and its aliases)
    statuses: tuple[str, ...] | None = None
    levels: tuple[str, ...] | None = None
    area_code: str | None = None  # district/street/community/grid code prefix
    limit: int = MAX_RESULTS
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_RESULTS or self.offset < 0:
            raise ValidationError(f"limit must be 1..{MAX_RESULTS} and offset >= 0")
        if self.area_code is not None and (not self.area_code.isdigit() or len(self.area_code)
                                           not in _COLUMN_FOR_LENGTH):
            raise ValidationError(f"area {self.area_code!r} is not a 6, 9, 12 or 15 digit code")
        for bound in (self.start, self.end):
            if bound is not None and bound.tzinfo is None:
                raise ValidationError("start and end must be timezone-aware")


def _gpkg_time(value: datetime) -> str:
    stamp = value.astimezone(UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _conditions(f: IncidentFilter, time_column: str, layer: str) -> list[tuple[str, str, Any]]:
    """(column, operator, value) triples; operators: >=, <, in."""
    out: list[tuple[str, str, Any]] = []
    if f.start is not None:
        out.append((time_column, ">=", f.start))
    if f.end is not None:
        out.append((time_column, "<", f.end))
    for column, values in (("incident_id", f.ids), ("category", f.categories), ("status", f.statuses),
                           ("level", f.levels)):
        if values is not None:
            out.append((column, "in", list(values)))
    if f.area_code is not None:
        if layer != schema.INCIDENTS:
            raise ValidationError("an area filter applies to incidents only")
        column = _COLUMN_FOR_LENGTH[len(f.area_code)]
        if len(f.area_code) in (15, 12, 9):
            out.append((column, "in", [f.area_code]))
        else:  # a district: every street code that starts with it (':' sorts right after '9')
            out += [(column, ">=", f.area_code), (column, "<", f.area_code + ":")]
    return out


#: The incident columns an Open311 listing shows (fewer columns = less to convert per row).
LISTING_COLUMNS: tuple[str, ...] = (
    "incident_id", "category", "status", "status_notes", "description", "department", "level", "reported_at",
    "updated_at", "deadline_at", "address", "media_url", "grid_code", "community_code", "street_code", "urgent",
    "supervised", "card", "satisfaction", "duplicate_of", "overdue_count",
)


def _columns(layer: str, columns: Sequence[str] | None = None) -> list[str]:
    known = schema.LAYERS[layer].column_names
    if columns is None:
        return list(known)
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise ValidationError(f"layer {layer!r} has no column(s) {', '.join(unknown)}")
    return list(columns)


def _decode_gpkg(spec: schema.LayerSpec, names: list[str], row: Sequence[Any]) -> Record:
    out: Record = {}
    for name, value in zip(names, row, strict=False):
        kind = spec.column(name).type
        if value is None:
            out[name] = None
        elif kind == "datetime":
            out[name] = datetime.fromisoformat(value).astimezone(UTC)
        elif kind == "bool":
            out[name] = bool(value)
        elif kind == "json":
            out[name] = json.loads(value)
        else:
            out[name] = value
    return out


def _records_gpkg(path: str, layer: str, f: IncidentFilter, columns: Sequence[str] | None) -> list[Record]:
    spec = schema.LAYERS[layer]
    names = _columns(layer, columns)
    parts: list[str] = []
    params: list[Any] = []
    for column, op, value in _conditions(f, _ORDER_COLUMN[layer], layer):
        if op == "in":
            if not value:
                return []
            parts.append(f'"{column}" IN (SELECT value FROM json_each(?))')
            params.append(json.dumps(value))
        else:
            parts.append(f'"{column}" {op} ?')
            params.append(_gpkg_time(value) if isinstance(value, datetime) else value)
    geometry = ', "geometry"' if spec.geometry_type else ""
    where = " WHERE " + " AND ".join(parts) if parts else ""
    query = (f'SELECT {", ".join(chr(34) + n + chr(34) for n in names)}{geometry} FROM "{layer}"{where} '
             f'ORDER BY "{_ORDER_COLUMN[layer]}" DESC, fid DESC LIMIT {int(f.limit)} OFFSET {int(f.offset)}')
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error as exc:
        raise StoreUnavailableError(f"cannot open GeoPackage {path}: {exc}") from None
    try:
        rows = conn.execute(query, params).fetchall()
    except sqlite3.OperationalError as exc:
        raise StoreUnavailableError(f"GeoPackage {path}: {exc}") from None
    finally:
        conn.close()
    records = [_decode_gpkg(spec, names, r) for r in rows]
    if spec.geometry_type and rows:
        points = geometries_from_gpkg_blobs([r[-1] for r in rows])
        xs, ys = shapely.get_x(points), shapely.get_y(points)
        for rec, x, y in zip(records, xs, ys, strict=True):
            rec["lon"], rec["lat"] = (None, None) if np.isnan(x) else (float(x), float(y))
    return records


def _branches(conditions: list[tuple[str, str, Any]]) -> list[list[tuple[str, str, Any]]]:
    """The conditions with each multi-valued status/category filter split into single values (a cartesian
    product, at most ``_MAX_BRANCHES``): each branch is then an ordered scan of a (column, time) index."""
    out: list[list[tuple[str, str, Any]]] = [[]]
    for cond in conditions:
        column, op, value = cond
        if op == "in" and column in _SPLIT_COLUMNS and len(value) > 1 and len(out) * len(value) <= _MAX_BRANCHES:
            out = [[*branch, (column, "=", v)] for branch in out for v in value]
        else:
            out = [[*branch, cond] for branch in out]
    return out


def _where(conditions: list[tuple[str, str, Any]], params: list[Any]) -> sql.Composable:
    parts: list[sql.Composable] = []
    for column, op, value in conditions:
        ident = sql.Identifier(column)
        parts.append(sql.SQL("{} = ANY(%s)").format(ident) if op == "in" else sql.SQL("{} " + op + " %s").format(ident))
        params.append(value)
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts) if parts else sql.SQL("")


def postgis_select(layer: str, f: IncidentFilter, columns: Sequence[str] | None = None, *,
                   split: bool = False) -> tuple[sql.Composed, list[Any]]:
    """The PostGIS ``SELECT`` of :func:`records_matching` and its parameters (writes.py embeds it in a CTE).

    Why the UNION ALL: "newest n whose status is one of six" cannot come out of one ordered index scan
    (PostgreSQL 15 sorts a bitmap scan of every match instead: ~35 ms on 100k rows); one branch per value,
    each an ordered scan of the (status, reported_at) or (category, reported_at) index that stops after
    n rows, merged and cut to n, costs a few milliseconds. Only with ``split``: when another filter is
    selective (one grid, as for duplicates), a single scan of that filter's index is cheaper.
    """
    spec = schema.LAYERS[layer]
    order = sql.Identifier(_ORDER_COLUMN[layer])
    names = [sql.Identifier(n) for n in _columns(layer, columns)]
    point = [sql.SQL("ST_X(geometry) AS lon"), sql.SQL("ST_Y(geometry) AS lat")] if spec.geometry_type else []
    params: list[Any] = []
    conditions = _conditions(f, _ORDER_COLUMN[layer], layer)
    branches = _branches(conditions) if split else [conditions]
    page = sql.SQL("ORDER BY {} DESC, fid DESC LIMIT {} OFFSET {}").format(
        order, sql.Literal(int(f.limit)), sql.Literal(int(f.offset)))
    if len(branches) == 1:
        where = _where(branches[0], params)
        query = sql.SQL("SELECT {} FROM {}{} {}").format(
            sql.SQL(", ").join([*names, *point]), sql.Identifier(layer), where, page)
        return query, params
    inner = []
    for branch in branches:
        where = _where(branch, params)
        inner.append(sql.SQL("(SELECT fid, {} FROM {}{} ORDER BY {} DESC, fid DESC LIMIT {})").format(
            sql.SQL(", ").join([*names, *point]), sql.Identifier(layer), where, order,
            sql.Literal(int(f.limit) + int(f.offset))))
    outer = [*names, *([sql.Identifier("lon"), sql.Identifier("lat")] if point else [])]
    query = sql.SQL("SELECT {} FROM ({}) AS branches {}").format(
        sql.SQL(", ").join(outer), sql.SQL(" UNION ALL ").join(inner), page)
    return query, params


def records_from_postgis(layer: str, rows: Sequence[Sequence[Any]], columns: Sequence[str] | None = None
                         ) -> list[Record]:
    """Records from rows of :func:`postgis_select` (psycopg already returns plain Python values)."""
    names = _columns(layer, columns)
    with_point = schema.LAYERS[layer].geometry_type is not None
    out = []
    for row in rows:
        rec = dict(zip(names, row, strict=False))
        if with_point:
            rec["lon"], rec["lat"] = row[-2], row[-1]
        out.append(rec)
    return out


def records_matching(store: Store, f: IncidentFilter, *, layer: str = schema.INCIDENTS,
                     columns: Sequence[str] | None = None, split: bool = False) -> list[Record]:
    """Rows of incidents (or incident events) matching ``f`` as dicts, newest first, at most ``f.limit``.

    Incident records carry ``lon``/``lat`` instead of a geometry; ``columns`` picks the others (all);
    ``split`` is for listings over many areas (see :func:`postgis_select`).
    """
    from gridmap.store.gpkg import GeoPackageStore
    from gridmap.store.postgis import PostGISStore

    if layer not in _ORDER_COLUMN:
        raise ValidationError(f"layer {layer!r} cannot be listed here")
    if isinstance(store, GeoPackageStore):
        return _records_gpkg(str(store.path), layer, f, columns)
    if isinstance(store, PostGISStore):
        query, params = postgis_select(layer, f, columns, split=split)
        return records_from_postgis(layer, store.query(query, params), columns)
    raise ValidationError(f"incident listing is not implemented for {type(store).__name__}")


def ids_from_text(text: str, *, limit: int = MAX_RESULTS) -> tuple[str, ...]:
    """A comma list of service_request_ids (GeoReport v2), trimmed, at most ``limit``."""
    ids = tuple(dict.fromkeys(p.strip() for p in str(text).split(",") if p.strip()))
    if len(ids) > limit:
        raise ValidationError(f"service_request_id lists {len(ids)} ids; at most {limit} per request")
    return ids
