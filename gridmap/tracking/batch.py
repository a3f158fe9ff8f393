"""The batch model shared by the two writers of fixes: keys, results, geofence updates, live events.

Kept apart from gridmap.tracking.writer (the Store-protocol path) and writer_sql (the PostGIS
statement) so both import it and neither imports the other's module back: the writer picks the
SQL path, the SQL path needs only this. Local days follow ``settings.tracking_timezone``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.tracking.devices import WorkerDevice
from gridmap.tracking.geofence import FenceEvent, FenceState, GeofenceEvent, TrackPoint, step
from gridmap.tracking.pings import Fix
from gridmap.tracking.tickets import Ticket

Key = tuple[str, datetime]
#: Grid code (or None) per point, for lon and lat lists in WGS84 degrees.
Locate = Callable[[Sequence[float], Sequence[float]], Iterable[Any]]
POSITION_EVENT = "position.updated"
#: What the geofence needs of a device's stored newest position (no geometry: cheaper to read).
STATE_COLUMNS = ["device_id", "fix_time", "grid_code", "outside_since", "alerted_at"]
EVENT_TYPES = {GeofenceEvent.ENTER: "geofence.enter", GeofenceEvent.EXIT: "geofence.exit",
                GeofenceEvent.ALERT: "tracking.alert"}


@dataclass
class BatchResult:
    """What one committed batch did."""

    inserted: int = 0
    inserted_keys: set[Key] = field(default_factory=set)
    grid_codes: dict[Key, str | None] = field(default_factory=dict)
    live_events: list[dict[str, Any]] = field(default_factory=list)


def tracking_zone(settings: Settings) -> ZoneInfo:
    """The time zone of patrol days (``settings.tracking_timezone``); a bad name is a 400 naming the setting."""
    try:
        return ZoneInfo(settings.tracking_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"setting tracking_timezone: {settings.tracking_timezone!r} is not an IANA time zone "
                              "name such as Asia/Shanghai") from None


def local_day(stamp: datetime, zone: ZoneInfo) -> str:
    """The local calendar date (YYYY-MM-DD) of a UTC instant: patrol days follow local time."""
    return stamp.astimezone(zone).date().isoformat()


def _state_of(row: Mapping[str, Any] | None) -> FenceState | None:
    if row is None:
        return None
    def stamp(value: Any) -> datetime | None:
        return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()
    fix_time = stamp(row["fix_time"])
    assert fix_time is not None
    code = row["grid_code"]
    return FenceState(fix_time, None if code is None or pd.isna(code) else str(code),
                      stamp(row["outside_since"]), stamp(row["alerted_at"]))


@dataclass
class DeviceUpdate:
    ticket: Ticket
    grid_code: str | None
    state: FenceState
    events: list[FenceEvent]


def fence_updates(tickets: Sequence[Ticket], codes: Mapping[Key, str | None], latest: pd.DataFrame,
                   alert_after: timedelta) -> list[DeviceUpdate]:
    """Per device: run the geofence over its new in-order fixes; the last one becomes the newest position."""
    stored: dict[str, Mapping[str, Any]] = {str(r["device_id"]): {str(k): v for k, v in r.items()}
                                            for r in latest.to_dict("records")}
    by_device: dict[str, list[Ticket]] = {}
    for ticket in tickets:
        by_device.setdefault(ticket.fix.device_id, []).append(ticket)
    updates: list[DeviceUpdate] = []
    for device, group in sorted(by_device.items()):
        state = _state_of(stored.get(device))
        events: list[FenceEvent] = []
        last: Ticket | None = None
        for ticket in sorted(group, key=lambda t: t.fix.fix_time):
            if state is not None and ticket.fix.fix_time <= state.fix_time:
                continue  # out of order (older than the newest stored fix): stored, no state change
            worker = ticket.worker
            point = TrackPoint(ticket.fix.fix_time, codes[ticket.fix.key], ticket.fix.lon, ticket.fix.lat)
            state, found = step(state, point, own_grids=worker.own_grids, alert_after=alert_after,
                                home_grid=worker.grid_code)
            events.extend(found)
            last = ticket
        if last is not None and state is not None:
            updates.append(DeviceUpdate(last, codes[last.fix.key], state, events))
    return updates


def position_event(worker: WorkerDevice, fix: Fix, grid_code: str | None, state: FenceState) -> dict[str, Any]:
    """The live ``position.updated`` event of a worker's newest fix (scoped to the worker's main grid)."""
    return {"type": POSITION_EVENT, "area_code": worker.grid_code, "data": {
        "worker_id": worker.worker_id, "name": worker.name, "role": worker.role, "phone": worker.phone,
        "device_id": fix.device_id,
        "lon": fix.lon, "lat": fix.lat, "fix_time": fix.fix_time.isoformat(),
        "grid_code": grid_code, "home_grid": worker.grid_code,
        "in_own_grid": grid_code is not None and grid_code in worker.own_grids,
        "outside_since": None if state.outside_since is None else state.outside_since.isoformat(),
        "alerted": state.alerted_at is not None,
        "speed_mps": fix.speed_mps, "battery_pct": fix.battery_pct}}


def live_events_of(updates: Sequence[DeviceUpdate]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for u in updates:
        worker, fix = u.ticket.worker, u.ticket.fix
        for e in u.events:
            out.append({"type": EVENT_TYPES[e.event], "area_code": worker.grid_code, "data": {
                "worker_id": worker.worker_id, "name": worker.name, "grid_code": e.grid_code, "event": e.event.value,
                "at": e.at.isoformat(), "own_grid": e.own_grid, "minutes_outside": e.minutes_outside,
                "lon": e.lon, "lat": e.lat}})
        out.append(position_event(worker, fix, u.grid_code, u.state))
    return out


__all__ = [
    "EVENT_TYPES", "POSITION_EVENT", "STATE_COLUMNS", "BatchResult", "DeviceUpdate", "Key", "Locate",
    "fence_updates", "live_events_of", "local_day", "position_event", "tracking_zone",
]  # fmt: skip
