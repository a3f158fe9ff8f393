"""Geofences: every grid is one. Enter/exit events and the outside-own-grid alert, as a pure state machine.

Why a pure function over (state, fix): the ingest writer applies it to live fixes, tests drive it with
hand-made tracks, and nothing here needs a store or a clock. Times are the devices' fix times, so
replaying the same fixes always gives the same events (and the events' unique key makes a replay
idempotent in the store).

Rules, for fixes of one worker taken in fix-time order:

* the worker's *zone* is the grid at the fix (None outside every grid);
* a change of zone emits ``exit`` of the old grid (if any) then ``enter`` of the new one (if any);
* ``outside_since`` is the fix time of the first fix outside all of the worker's own grids (main grid and
  extra grids), cleared by a fix inside one;
* ``alert``: the first fix at least ``alert_after`` after ``outside_since`` emits one alert for that
  excursion (``R-15``: the command centre sees who is away from their grid for long). No fixes, no
  alert: a silent device is shown as stale on the live map instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class GeofenceEvent(StrEnum):
    ENTER = "enter"
    EXIT = "exit"
    ALERT = "alert"


@dataclass(frozen=True)
class FenceState:
    """Where a worker was at their last in-order fix."""

    fix_time: datetime
    grid_code: str | None
    outside_since: datetime | None = None
    alerted_at: datetime | None = None


@dataclass(frozen=True)
class FenceEvent:
    """One geofence event at a fix (lon/lat WGS84 degrees)."""

    event: GeofenceEvent
    grid_code: str
    at: datetime
    own_grid: bool
    lon: float
    lat: float
    minutes_outside: float | None = None


@dataclass(frozen=True)
class TrackPoint:
    """The part of a fix the geofence needs."""

    at: datetime
    grid_code: str | None
    lon: float
    lat: float


def step(
    state: FenceState | None,
    point: TrackPoint,
    *,
    own_grids: frozenset[str],
    alert_after: timedelta,
    home_grid: str | None = None,
) -> tuple[FenceState, list[FenceEvent]]:
    """The state after ``point`` and the events it causes; ``point`` must not be older than ``state``.

    An alert names ``home_grid`` (the worker's main grid; the smallest own grid code when not given).
    """
    if state is not None and point.at < state.fix_time:
        raise ValueError(f"fix at {point.at} is older than the state at {state.fix_time}; keep fixes in order")
    events: list[FenceEvent] = []
    before = None if state is None else state.grid_code
    if point.grid_code != before:
        if before is not None:
            events.append(FenceEvent(GeofenceEvent.EXIT, before, point.at, before in own_grids, point.lon, point.lat))
        if point.grid_code is not None:
            events.append(FenceEvent(GeofenceEvent.ENTER, point.grid_code, point.at, point.grid_code in own_grids,
                                     point.lon, point.lat))
    inside_own = point.grid_code is not None and point.grid_code in own_grids
    if inside_own or not own_grids:  # a worker without a grid is never "outside their grid"
        return FenceState(point.at, point.grid_code), events
    since = point.at if state is None or state.outside_since is None else state.outside_since
    alerted = None if state is None else state.alerted_at
    new = FenceState(point.at, point.grid_code, since, alerted)
    away = point.at - since
    if alerted is None and away >= alert_after:
        minutes = away.total_seconds() / 60.0
        home = home_grid if home_grid is not None else min(own_grids)
        events.append(FenceEvent(GeofenceEvent.ALERT, home, point.at, True, point.lon, point.lat,
                                 minutes_outside=minutes))
        new = replace(new, alerted_at=point.at)
    return new, events


def events_from_track(
    points: Iterable[TrackPoint],
    *,
    own_grids: frozenset[str],
    alert_after: timedelta,
    home_grid: str | None = None,
    state: FenceState | None = None,
) -> tuple[FenceState | None, list[FenceEvent]]:
    """Fold :func:`step` over points sorted by time; returns the final state and every event."""
    events: list[FenceEvent] = []
    for point in sorted(points, key=lambda p: p.at):
        state, found = step(state, point, own_grids=own_grids, alert_after=alert_after, home_grid=home_grid)
        events.extend(found)
    return state, events
