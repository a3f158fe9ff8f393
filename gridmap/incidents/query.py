"""Filtered, newest-first pages of incidents, answered by the database (GET requests, the list page).

Why SQL here: the Store protocol filters by equality only and has no ORDER BY/LIMIT, but GET
requests must pick "the newest 1000 in a date window" out of hundreds of thousands of rows in well
under 200 ms. Each backend runs one parameterised ``SELECT fid ... ORDER BY reported_at DESC
LIMIT n`` on its ``reported_at`` index (migration 0004), then the rows are read through the normal
Store API (``where={"fid": [...]}``), so decoding stays the stores' business.

The GeoPackage stores datetimes as ISO 8601 text in UTC with milliseconds and a ``Z``
(gridmap.store.gpkg), which sorts and compares like the instants it encodes; bounds are formatted
the same way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from psycopg import sql

from gridmap import schema
from gridmap.errors import StoreUnavailableError, ValidationError
from gridmap.store.base import Store

#: Most rows one query returns (GeoReport v2: "first 1000 requests").
MAX_RESULTS = 1000
_COLUMN_FOR_LENGTH = {15: "grid_code", 12: "community_code", 9: "street_code", 6: "street_code"}
#: The time column each listable layer is windowed and ordered by.
_ORDER_COLUMN = {schema.INCIDENTS: "reported_at", schema.INCIDENT_EVENTS: "at"}


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
    stamp = pd.Timestamp(value).tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _conditions(f: IncidentFilter, time_column: str) -> list[tuple[str, str, Any]]:
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
        column = _COLUMN_FOR_LENGTH[len(f.area_code)]
        if len(f.area_code) in (15, 12, 9):
            out.append((column, "in", [f.area_code]))
        else:  # a district: every street code that starts with it (':' sorts right after '9')
            out += [(column, ">=", f.area_code), (column, "<", f.area_code + ":")]
    return out


def _fids_gpkg(path: str, table: str, order_column: str, f: IncidentFilter) -> list[int]:
    parts: list[str] = []
    params: list[Any] = []
    for column, op, value in _conditions(f, order_column):
        if op == "in":
            if not value:
                return []
            parts.append(f'"{column}" IN ({", ".join("?" * len(value))})')
            params += value
        else:
            parts.append(f'"{column}" {op} ?')
            params.append(_gpkg_time(value) if isinstance(value, datetime) else value)
    where = " WHERE " + " AND ".join(parts) if parts else ""
    query = (f'SELECT fid FROM "{table}"{where} ORDER BY "{order_column}" DESC, fid DESC '
             f"LIMIT {int(f.limit)} OFFSET {int(f.offset)}")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
    except sqlite3.Error as exc:
        raise StoreUnavailableError(f"cannot open GeoPackage {path}: {exc}") from None
    try:
        return [int(r[0]) for r in conn.execute(query, params).fetchall()]
    except sqlite3.OperationalError as exc:
        raise StoreUnavailableError(f"GeoPackage {path}: {exc}") from None
    finally:
        conn.close()


def _fids_postgis(store: Any, table: str, order_column: str, f: IncidentFilter) -> list[int]:
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for column, op, value in _conditions(f, order_column):
        ident = sql.Identifier(column)
        if op == "in":
            parts.append(sql.SQL("{} = ANY(%s)").format(ident))
        else:
            parts.append(sql.SQL("{} " + op + " %s").format(ident))
        params.append(value)
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts) if parts else sql.SQL("")
    query = sql.SQL("SELECT fid FROM {}{} ORDER BY {} DESC, fid DESC LIMIT {} OFFSET {}").format(
        sql.Identifier(table), where, sql.Identifier(order_column), sql.Literal(int(f.limit)),
        sql.Literal(int(f.offset)))
    return [int(r[0]) for r in store.query(query, params)]


def fids_matching(store: Store, f: IncidentFilter, *, layer: str = schema.INCIDENTS) -> list[int]:
    """Fids of the incidents (or incident events) matching ``f``, newest first, at most ``f.limit``."""
    from gridmap.store.gpkg import GeoPackageStore
    from gridmap.store.postgis import PostGISStore

    order_column = _ORDER_COLUMN[layer]
    if isinstance(store, GeoPackageStore):
        return _fids_gpkg(str(store.path), layer, order_column, f)
    if isinstance(store, PostGISStore):
        return _fids_postgis(store, layer, order_column, f)
    raise ValidationError(f"incident listing is not implemented for {type(store).__name__}")


def rows_matching(store: Store, f: IncidentFilter, *, layer: str = schema.INCIDENTS) -> pd.DataFrame:
    """The matching rows (incidents: a GeoDataFrame), newest first."""
    fids = fids_matching(store, f, layer=layer)
    frame = store.read(layer, where={schema.FID: fids})
    order = {fid: i for i, fid in enumerate(fids)}
    return frame.sort_values(schema.FID, key=lambda s: s.map(order)).reset_index(drop=True)


def ids_from_text(text: str, *, limit: int = MAX_RESULTS) -> tuple[str, ...]:
    """A comma list of service_request_ids (GeoReport v2), trimmed, at most ``limit``."""
    ids = tuple(dict.fromkeys(p.strip() for p in str(text).split(",") if p.strip()))
    if len(ids) > limit:
        raise ValidationError(f"service_request_id lists {len(ids)} ids; at most {limit} per request")
    return ids


def categories_values(codes: Sequence[str], aliases: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Every stored spelling of the given service codes (imported files may hold the Chinese name)."""
    out: list[str] = []
    for code in codes:
        out += [code, *aliases.get(code, ())]
    return tuple(dict.fromkeys(out))
