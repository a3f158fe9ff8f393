"""One batch of fixes into the store, in one transaction: positions, geofence events, newest position.

Called by the ingest writer thread (gridmap.tracking.ingest); kept apart so the transaction's steps
can be read (and tested) on their own. Every fix is written with the active grid at its point; only
fixes newer than the device's stored newest one drive the geofence state machine.

Two ways with the same result: through the Store protocol (any store: frames, one transaction, a
duplicate makes the bulk insert fall back to row by row), and on PostGIS as one SQL statement
(gridmap.tracking.writer_sql: ``INSERT ... ON CONFLICT``), which costs a tenth of the CPU per batch and
is what carries 1,000+ fixes/s on a small server. The tests run both against the same expectations.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap import schema
from gridmap.config import Settings
from gridmap.errors import ConflictError
from gridmap.store.base import Store, StoreTransaction
from gridmap.tracking.batch import (
    POSITION_EVENT,
    STATE_COLUMNS,
    BatchResult,
    DeviceUpdate,
    Key,
    Locate,
    fence_updates,
    live_events_of,
    local_day,
    position_event,
    tracking_zone,
)
from gridmap.tracking.tickets import Ticket
from gridmap.tracking.writer_sql import commit_batch_sql


def insert_new(tx: StoreTransaction, layer: str, frame: pd.DataFrame) -> np.ndarray:
    """Insert rows, skipping those whose unique key is stored already; True per row inserted.

    One bulk insert normally; when it hits a duplicate (a fix sent again after a lost answer) the
    bulk insert is rolled back by its savepoint and the rows go one by one, duplicates skipped.
    """
    try:
        tx.insert(layer, frame)
        return np.ones(len(frame), dtype=bool)
    except ConflictError:
        pass
    inserted = np.zeros(len(frame), dtype=bool)
    for i in range(len(frame)):
        try:
            tx.insert(layer, frame.iloc[i : i + 1])
            inserted[i] = True
        except ConflictError:
            continue
    return inserted


def _ts(value: datetime | None) -> Any:
    """A Timestamp, or NaT for None (a tz-aware datetime column keeps its dtype with missing values)."""
    return pd.Timestamp(value) if value is not None else pd.NaT


def positions_frame(tickets: Sequence[Ticket], codes: Sequence[str | None], *, now: datetime, zone: ZoneInfo
                    ) -> gpd.GeoDataFrame:
    """The POSITIONS rows of ``tickets`` (one per fix) with their grid codes."""
    fixes = [t.fix for t in tickets]
    frame = pd.DataFrame({
        "device_id": [f.device_id for f in fixes],
        "worker_id": [t.worker.worker_id for t in tickets],
        "fix_time": pd.to_datetime([f.fix_time for f in fixes], utc=True),
        "received_at": pd.to_datetime([now] * len(fixes), utc=True),
        "day": [local_day(f.fix_time, zone) for f in fixes],
        "grid_code": list(codes),
        "speed_mps": [f.speed_mps for f in fixes],
        "bearing_deg": [f.bearing_deg for f in fixes],
        "altitude_m": [f.altitude_m for f in fixes],
        "accuracy_m": [f.accuracy_m for f in fixes],
        "battery_pct": [f.battery_pct for f in fixes],
        "protocol": [f.protocol for f in fixes],
    })
    for column in ("speed_mps", "bearing_deg", "altitude_m", "accuracy_m", "battery_pct"):
        frame[column] = frame[column].astype("float64")
    points = shapely.points([f.lon for f in fixes], [f.lat for f in fixes])
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(points, crs=4326), crs=4326)


def _events_frame(updates: Sequence[DeviceUpdate], zone: ZoneInfo) -> gpd.GeoDataFrame:
    rows = [(u.ticket, e) for u in updates for e in u.events]
    frame = pd.DataFrame({
        "worker_id": [t.worker.worker_id for t, _ in rows],
        "device_id": [t.fix.device_id for t, _ in rows],
        "grid_code": [e.grid_code for _, e in rows],
        "event": [e.event.value for _, e in rows],
        "at": pd.to_datetime([e.at for _, e in rows], utc=True),
        "day": [local_day(e.at, zone) for _, e in rows],
        "own_grid": pd.array([e.own_grid for _, e in rows], dtype="boolean"),
        "minutes_outside": pd.array([e.minutes_outside for _, e in rows], dtype="float64"),
    })
    points = shapely.points([e.lon for _, e in rows], [e.lat for _, e in rows])
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(points, crs=4326), crs=4326)


def _latest_frame(updates: Sequence[DeviceUpdate], now: datetime) -> gpd.GeoDataFrame:
    fixes = [u.ticket.fix for u in updates]
    frame = pd.DataFrame({
        "device_id": [f.device_id for f in fixes],
        "worker_id": [u.ticket.worker.worker_id for u in updates],
        "fix_time": pd.to_datetime([f.fix_time for f in fixes], utc=True),
        "received_at": pd.to_datetime([now] * len(fixes), utc=True),
        "grid_code": [u.grid_code for u in updates],
        "speed_mps": pd.array([f.speed_mps for f in fixes], dtype="float64"),
        "bearing_deg": pd.array([f.bearing_deg for f in fixes], dtype="float64"),
        "accuracy_m": pd.array([f.accuracy_m for f in fixes], dtype="float64"),
        "battery_pct": pd.array([f.battery_pct for f in fixes], dtype="float64"),
        "outside_since": pd.to_datetime([_ts(u.state.outside_since) for u in updates], utc=True),
        "alerted_at": pd.to_datetime([_ts(u.state.alerted_at) for u in updates], utc=True),
    })
    points = shapely.points([f.lon for f in fixes], [f.lat for f in fixes])
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(points, crs=4326), crs=4326)


def commit_batch(store: Store, settings: Settings, tickets: Sequence[Ticket], *, locate: Locate, now: datetime,
                 alert_after: timedelta) -> BatchResult:
    """Write ``tickets`` (already free of known duplicates) in one transaction; see the module docstring."""
    unique: dict[Key, Ticket] = {}
    for ticket in tickets:
        unique.setdefault(ticket.fix.key, ticket)
    batch = list(unique.values())
    codes_list = list(locate([t.fix.lon for t in batch], [t.fix.lat for t in batch]))
    codes = {t.fix.key: (None if c is None else str(c)) for t, c in zip(batch, codes_list, strict=True)}
    zone = tracking_zone(settings)
    if hasattr(store, "query"):  # PostGIS: the whole batch in one statement (gridmap.tracking.writer_sql)
        return commit_batch_sql(store, settings, batch, codes, now=now, alert_after=alert_after, zone=zone)
    frame = positions_frame(batch, [codes[t.fix.key] for t in batch], now=now, zone=zone)
    with store.transaction() as tx:
        inserted = insert_new(tx, schema.POSITIONS, frame)
        new = [t for t, ok in zip(batch, inserted, strict=True) if ok]
        devices = sorted({t.fix.device_id for t in new})
        latest = tx.read(schema.LATEST_POSITIONS, where={"device_id": devices}, columns=STATE_COLUMNS
                         ) if devices else pd.DataFrame()
        updates = fence_updates(new, codes, latest, alert_after) if devices else []
        if any(u.events for u in updates):
            insert_new(tx, schema.GEOFENCE_EVENTS, _events_frame(updates, zone))
        if updates:
            tx.delete(schema.LATEST_POSITIONS, {"device_id": [u.ticket.fix.device_id for u in updates]})
            tx.insert(schema.LATEST_POSITIONS, _latest_frame(updates, now))
    keys = {t.fix.key for t in new}
    return BatchResult(inserted=len(new), inserted_keys=keys, grid_codes=codes, live_events=live_events_of(updates))


#: Re-exported: callers read local days, the zone and the live event shape from the writer too.
__all__ = [
    "POSITION_EVENT", "STATE_COLUMNS", "BatchResult", "DeviceUpdate", "Key", "Locate", "commit_batch",
    "fence_updates", "insert_new", "live_events_of", "local_day", "position_event", "positions_frame",
    "tracking_zone",
]  # fmt: skip
