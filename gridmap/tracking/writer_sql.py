"""A batch of fixes into PostGIS as ONE statement: positions, geofence events and newest positions.

Why: through the Store protocol a batch is four frame conversions and a dozen round trips; on a busy
two-core server that Python work, not PostgreSQL, limited ingest to a few hundred fixes/s. Here the
batch goes as column arrays (``unnest``) in one ``WITH ... INSERT ... ON CONFLICT`` statement, which
is atomic on its own (one implicit transaction, committed when ``store.query`` returns):

* ``positions``: ``ON CONFLICT (device_id, fix_time) DO NOTHING RETURNING`` tells which fixes are new
  (a re-sent fix is stored once);
* ``geofence_events``: only those caused by fixes of this statement that were new;
* ``latest_positions``: upserted, and only moved forward (``WHERE stored.fix_time < new.fix_time``).

The geofence state it starts from is read just before (one small SELECT), as the generic path does.
Names come from gridmap.schema through ``psycopg.sql.Identifier``; values are parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from psycopg import sql

from gridmap import schema
from gridmap.config import Settings
from gridmap.tracking.batch import (
    STATE_COLUMNS,
    BatchResult,
    DeviceUpdate,
    Key,
    fence_updates,
    live_events_of,
    local_day,
)
from gridmap.tracking.tickets import Ticket

_FIX_COLUMNS = ("device_id", "worker_id", "fix_time", "day", "grid_code", "speed_mps", "bearing_deg", "altitude_m",
                "accuracy_m", "battery_pct", "protocol")
_FIX_TYPES = ("text", "text", "timestamptz", "text", "text", "float8", "float8", "float8", "float8", "float8", "text")
_EVENT_COLUMNS = ("worker_id", "device_id", "grid_code", "event", "at", "day", "own_grid", "minutes_outside")
_EVENT_TYPES = ("text", "text", "text", "text", "timestamptz", "text", "bool", "float8")
_LATEST_COLUMNS = ("device_id", "worker_id", "fix_time", "grid_code", "speed_mps", "bearing_deg", "accuracy_m",
                   "battery_pct", "outside_since", "alerted_at")
_LATEST_TYPES = ("text", "text", "timestamptz", "text", "float8", "float8", "float8", "float8", "timestamptz",
                 "timestamptz")


def _unnest(alias: str, columns: Sequence[str], types: Sequence[str]) -> sql.Composable:
    """``unnest(%s::t1[], ..., %s::float8[], %s::float8[]) AS alias(c1, ..., lon, lat)``."""
    arrays = sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(t)) for t in (*types, "float8", "float8"))
    names = sql.SQL(", ").join(sql.Identifier(c) for c in (*columns, "lon", "lat"))
    return sql.SQL("unnest({}) AS {}({})").format(arrays, sql.Identifier(alias), names)


def _cols(columns: Sequence[str], *, prefix: str | None = None) -> sql.Composable:
    if prefix is None:
        return sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    return sql.SQL(", ").join(sql.Identifier(prefix, c) for c in columns)


@lru_cache(maxsize=4)
def batch_statement(srid: int) -> sql.Composed:
    """The statement; parameters: received_at, fix arrays, event arrays, received_at, newest-position arrays."""
    point = sql.SQL("ST_SetSRID(ST_MakePoint({}, {}), {})")
    fix_point = point.format(sql.Identifier("f", "lon"), sql.Identifier("f", "lat"), sql.Literal(srid))
    ev_point = point.format(sql.Identifier("e", "lon"), sql.Identifier("e", "lat"), sql.Literal(srid))
    up_point = point.format(sql.Identifier("l", "lon"), sql.Identifier("l", "lat"), sql.Literal(srid))
    updates = sql.SQL(", ").join(
        sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
        for c in (*_LATEST_COLUMNS[1:], "received_at", schema.GEOMETRY))
    inserted = sql.SQL("EXISTS (SELECT 1 FROM ins WHERE ins.device_id = {}.device_id AND ins.fix_time = {}.{})")
    return sql.SQL(
        "WITH ins AS (INSERT INTO {positions} ({fix_cols}, received_at, {geom}) "
        "SELECT {f_cols}, %s, {fix_point} FROM {fixes} "
        "ON CONFLICT (device_id, fix_time) DO NOTHING RETURNING device_id, fix_time), "
        "ev AS (INSERT INTO {events} ({ev_cols}, {geom}) SELECT {e_cols}, {ev_point} FROM {ev_rows} "
        "WHERE {ev_new} ON CONFLICT DO NOTHING), "
        "up AS (INSERT INTO {latest} AS stored ({latest_cols}, received_at, {geom}) "
        "SELECT {l_cols}, %s, {up_point} FROM {latest_rows} WHERE {up_new} "
        "ON CONFLICT (device_id) DO UPDATE SET {updates} WHERE stored.fix_time < EXCLUDED.fix_time) "
        "SELECT device_id, fix_time FROM ins"
    ).format(
        positions=sql.Identifier(schema.POSITIONS), events=sql.Identifier(schema.GEOFENCE_EVENTS),
        latest=sql.Identifier(schema.LATEST_POSITIONS), geom=sql.Identifier(schema.GEOMETRY),
        fix_cols=_cols(_FIX_COLUMNS), f_cols=_cols(_FIX_COLUMNS, prefix="f"), fix_point=fix_point,
        fixes=_unnest("f", _FIX_COLUMNS, _FIX_TYPES),
        ev_cols=_cols(_EVENT_COLUMNS), e_cols=_cols(_EVENT_COLUMNS, prefix="e"), ev_point=ev_point,
        ev_rows=_unnest("e", _EVENT_COLUMNS, _EVENT_TYPES),
        ev_new=inserted.format(sql.Identifier("e"), sql.Identifier("e"), sql.Identifier("at")),
        latest_cols=_cols(_LATEST_COLUMNS), l_cols=_cols(_LATEST_COLUMNS, prefix="l"), up_point=up_point,
        latest_rows=_unnest("l", _LATEST_COLUMNS, _LATEST_TYPES),
        up_new=inserted.format(sql.Identifier("l"), sql.Identifier("l"), sql.Identifier("fix_time")), updates=updates)


def _stored_state(store: Any, devices: Sequence[str]) -> pd.DataFrame:
    query = sql.SQL("SELECT {} FROM {} WHERE device_id = ANY(%s)").format(
        _cols(STATE_COLUMNS), sql.Identifier(schema.LATEST_POSITIONS))
    rows = store.query(query, [list(devices)])
    return pd.DataFrame(rows, columns=STATE_COLUMNS)


def _fix_params(batch: Sequence[Ticket], codes: Mapping[Key, str | None], zone: ZoneInfo) -> list[list[Any]]:
    fixes = [t.fix for t in batch]
    return [[f.device_id for f in fixes], [t.worker.worker_id for t in batch], [f.fix_time for f in fixes],
            [local_day(f.fix_time, zone) for f in fixes], [codes[f.key] for f in fixes],
            [f.speed_mps for f in fixes], [f.bearing_deg for f in fixes], [f.altitude_m for f in fixes],
            [f.accuracy_m for f in fixes], [f.battery_pct for f in fixes], [f.protocol for f in fixes],
            [f.lon for f in fixes], [f.lat for f in fixes]]


def _event_params(updates: Sequence[DeviceUpdate], zone: ZoneInfo) -> list[list[Any]]:
    rows = [(u.ticket, e) for u in updates for e in u.events]
    return [[t.worker.worker_id for t, _ in rows], [t.fix.device_id for t, _ in rows],
            [e.grid_code for _, e in rows], [e.event.value for _, e in rows], [e.at for _, e in rows],
            [local_day(e.at, zone) for _, e in rows], [e.own_grid for _, e in rows],
            [e.minutes_outside for _, e in rows], [e.lon for _, e in rows], [e.lat for _, e in rows]]


def _latest_params(updates: Sequence[DeviceUpdate]) -> list[list[Any]]:
    fixes = [u.ticket.fix for u in updates]
    return [[f.device_id for f in fixes], [u.ticket.worker.worker_id for u in updates], [f.fix_time for f in fixes],
            [u.grid_code for u in updates], [f.speed_mps for f in fixes], [f.bearing_deg for f in fixes],
            [f.accuracy_m for f in fixes], [f.battery_pct for f in fixes], [u.state.outside_since for u in updates],
            [u.state.alerted_at for u in updates], [f.lon for f in fixes], [f.lat for f in fixes]]


def commit_batch_sql(store: Any, settings: Settings, batch: Sequence[Ticket], codes: Mapping[Key, str | None], *,
                     now: datetime, alert_after: timedelta, zone: ZoneInfo) -> BatchResult:
    """The PostGIS path of :func:`gridmap.tracking.writer.commit_batch` (``batch`` free of repeated keys)."""
    devices = sorted({t.fix.device_id for t in batch})
    updates = fence_updates(batch, codes, _stored_state(store, devices), alert_after)
    # in the order the placeholders appear: received_at, fixes, events, received_at, newest positions
    params = [now, *_fix_params(batch, codes, zone), *_event_params(updates, zone), now, *_latest_params(updates)]
    rows = store.query(batch_statement(settings.storage_epsg), params)
    inserted: set[Key] = {(str(d), t) for d, t in rows}
    kept = []
    for u in updates:  # what the statement wrote: events and newest positions of new fixes only
        events = [e for e in u.events if (u.ticket.fix.device_id, e.at) in inserted]
        if u.ticket.fix.key in inserted:
            kept.append(DeviceUpdate(u.ticket, u.grid_code, u.state, events))
    return BatchResult(inserted=len(inserted), inserted_keys=inserted, grid_codes=dict(codes),
                       live_events=live_events_of(kept))
