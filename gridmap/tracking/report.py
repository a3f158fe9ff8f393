"""Patrol reports per worker and per grid, for one local day or one month, read from the store.

Reads positions one day at a time (the ``day`` column is indexed), so a month of a district is never in
memory at once; only each worker's (and grid's) daily tracks are kept to measure the month's coverage.
Definitions of every number are in :mod:`gridmap.tracking.patrol`. Scoping: with a principal, only
workers whose main grid lies in the caller's area (and in ``area`` when given), and only those grids.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from gridmap import schema
from gridmap.auth.principal import Principal, require_role
from gridmap.config import Settings
from gridmap.crs import working_crs_for
from gridmap.errors import ValidationError
from gridmap.grid_generations import active_grids
from gridmap.model import Role
from gridmap.store.base import Store
from gridmap.tracking.devices import own_grids_of
from gridmap.tracking.patrol import (
    OWN_SHARE_TARGET,
    GridFeatures,
    coverage_of,
    grid_features,
    time_in_grids,
    track_from_points,
    union_tracks,
)

PERIODS = ("day", "month")
#: Roles that may see patrol reports (admins always): they are derived from positions.
PATROL_ROLES: tuple[Role, ...] = (Role.COMMAND, Role.ANALYST)


@dataclass
class PatrolReport:
    """Rows per worker and per grid for one period, and the parameters they were computed with."""

    period: str
    label: str
    days: tuple[str, ...]
    by_worker: pd.DataFrame
    by_grid: pd.DataFrame
    distance_m: float
    patrol_min_minutes: float
    notes: list[str] = field(default_factory=list)


def days_of(period: str, when: str) -> tuple[str, tuple[str, ...]]:
    """(label, ISO days) of ``day`` YYYY-MM-DD or ``month`` YYYY-MM; ValidationError otherwise."""
    if period not in PERIODS:
        raise ValidationError(f"period {period!r} must be one of {', '.join(PERIODS)}", details={"parameter": "period"})
    try:
        if period == "day":
            day = date.fromisoformat(when.strip())
            return day.isoformat(), (day.isoformat(),)
        year, month = (int(p) for p in when.strip()[:7].split("-"))
        first = date(year, month, 1)
    except (ValueError, AttributeError):
        shape = "YYYY-MM-DD" if period == "day" else "YYYY-MM"
        raise ValidationError(f"date {str(when)[:20]!r} must look like {shape}",
                              details={"parameter": "date"}) from None
    count = calendar.monthrange(first.year, first.month)[1]
    return first.strftime("%Y-%m"), tuple((first + timedelta(days=i)).isoformat() for i in range(count))


@dataclass
class _Scope:
    workers: pd.DataFrame
    own: dict[str, frozenset[str]]
    grids: dict[str, GridFeatures]
    names: dict[str, str]
    to_metric: Transformer


def _scope(store: Store, principal: Principal | None, area: str | None) -> _Scope:
    workers = store.read(schema.WORKERS, columns=["worker_id", "name", "grid_code", "extra_grid_codes"])
    codes = workers["grid_code"].astype("string").fillna("")
    keep = pd.Series(True, index=workers.index)
    if principal is not None and not (principal.role is Role.ADMIN and principal.area_code == ""):
        keep &= codes.str.startswith(principal.area_code) & (codes != "")
    if area:
        keep &= codes.str.startswith(area)
    workers = workers.loc[keep.to_numpy(dtype=bool)].sort_values("worker_id").reset_index(drop=True)
    own = {str(r.worker_id): own_grids_of(r.grid_code, r.extra_grid_codes) for r in workers.itertuples()}
    grids = active_grids(store)
    prefix = area or ("" if principal is None else principal.area_code)
    wanted = set().union(*own.values()) if own else set()
    grids = grids.loc[grids["code"].astype(str).str.startswith(prefix) | grids["code"].isin(wanted)]
    return _features(store, grids, workers, own)


def _features(store: Store, grids: gpd.GeoDataFrame, workers: pd.DataFrame, own: dict[str, frozenset[str]]
              ) -> _Scope:
    names = {str(c): str(n) for c, n in zip(grids["code"], grids["name"], strict=True)}
    if grids.empty:
        return _Scope(workers, own, {}, names, Transformer.from_crs(4326, 3857, always_xy=True))
    bounds = tuple(float(b) for b in grids.total_bounds)
    metric: CRS = working_crs_for(bounds)
    box = (bounds[0] - 0.01, bounds[1] - 0.01, bounds[2] + 0.01, bounds[3] + 0.01)
    roads = _geo(store.read(schema.ROADS, bbox=box, columns=[schema.GEOMETRY])).to_crs(metric)
    buildings = _geo(store.read(schema.BUILDINGS, bbox=box, columns=[schema.GEOMETRY])).to_crs(metric)
    units = _geo(store.read(schema.UNITS, bbox=box, columns=["key_unit", schema.GEOMETRY]))
    flagged = units["key_unit"].notna().any()
    points = _geo(units.loc[units["key_unit"].fillna(False).astype(bool)] if flagged else units).to_crs(metric)
    road_geoms = _geoms(roads)
    building_geoms, point_geoms = _geoms(buildings), _geoms(points)
    features = {}
    for code, polygon in zip(grids["code"].astype(str), grids.to_crs(metric).geometry, strict=True):
        features[code] = grid_features(code, polygon, road_geoms, building_geoms, point_geoms)
    return _Scope(workers, own, features, names, Transformer.from_crs(4326, metric, always_xy=True))


def _geo(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    assert isinstance(frame, gpd.GeoDataFrame), "layers with geometry are read as GeoDataFrames"
    return frame


def _geoms(frame: gpd.GeoDataFrame) -> np.ndarray:
    geoms = np.asarray(frame.geometry.values, dtype=object)
    return geoms[np.array([g is not None and not g.is_empty for g in geoms], dtype=bool)] if len(geoms) else geoms


def _share(part: float, total: float) -> float | None:
    return None if total <= 0 else round(part / total, 4)


@dataclass
class _Accumulator:
    """Per worker and per grid: sums over the days and the tracks of each day."""

    worker_rows: list[dict[str, Any]] = field(default_factory=list)
    grid_rows: list[dict[str, Any]] = field(default_factory=list)
    worker_tracks: dict[str, list[BaseGeometry]] = field(default_factory=dict)
    grid_tracks: dict[str, list[BaseGeometry]] = field(default_factory=dict)


def _day(store: Store, scope: _Scope, day: str, settings: Settings, acc: _Accumulator) -> None:
    ids = scope.workers["worker_id"].astype(str).tolist()
    if not ids:
        return
    frame = store.read(schema.POSITIONS, where={"day": day, "worker_id": ids},
                       columns=["worker_id", "fix_time", "grid_code", schema.GEOMETRY])
    if frame.empty:
        return
    frame = frame.sort_values(["worker_id", "fix_time"], kind="stable")
    x, y = scope.to_metric.transform(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())
    frame = frame.assign(_x=x, _y=y)
    max_gap = timedelta(minutes=settings.stale_position_minutes)
    present: dict[str, float] = {}
    patrolled_grids: set[str] = set()
    day_tracks: list[BaseGeometry] = []
    for wid, rows in frame.groupby("worker_id", sort=True):
        wid = str(wid)
        times = rows["fix_time"].to_numpy(dtype="datetime64[ms]")
        codes = [None if pd.isna(c) else str(c) for c in rows["grid_code"]]
        own = scope.own.get(wid, frozenset())
        spent = time_in_grids(times, codes, own_grids=own, max_gap=max_gap)
        track = track_from_points(rows["_x"].to_numpy(), rows["_y"].to_numpy(), times, max_gap=max_gap)
        cover = coverage_of(track, [scope.grids[c] for c in sorted(own) if c in scope.grids],
                            distance_m=settings.patrol_distance_m)
        patrolled = spent.own_s >= settings.patrol_min_minutes * 60.0
        if patrolled:
            patrolled_grids.update(own)
        for code, seconds in spent.by_grid_s.items():
            if code is not None:
                present[code] = present.get(code, 0.0) + seconds
        if track is not None:
            acc.worker_tracks.setdefault(wid, []).append(track)
            day_tracks.append(track)
        acc.worker_rows.append({
            "day": day, "worker_id": wid, "fixes": len(rows), "tracked_s": spent.tracked_s, "own_s": spent.own_s,
            "patrolled": patrolled, "street_share": cover.street_share, "building_share": cover.building_share,
            "point_share": cover.point_share})
    _grid_day(scope, day, settings, acc, present, patrolled_grids, day_tracks)


def _grid_day(scope: _Scope, day: str, settings: Settings, acc: _Accumulator, present: dict[str, float],
              patrolled_grids: set[str], tracks: Sequence[BaseGeometry]) -> None:
    bounds = shapely.bounds(np.asarray(tracks, dtype=object)) if tracks else np.empty((0, 4))
    for code, grid in scope.grids.items():
        gx0, gy0, gx1, gy1 = shapely.bounds(grid.polygon)
        near = [t for t, b in zip(tracks, bounds, strict=True) if b[0] <= gx1 and b[2] >= gx0 and b[1] <= gy1
                and b[3] >= gy0]
        if not near and code not in present:
            continue
        track = union_tracks(near)
        if track is not None:
            acc.grid_tracks.setdefault(code, []).append(track)
        cover = coverage_of(track, [grid], distance_m=settings.patrol_distance_m)
        acc.grid_rows.append({"day": day, "grid_code": code, "present_s": present.get(code, 0.0),
                              "patrolled": code in patrolled_grids, "street_share": cover.street_share,
                              "building_share": cover.building_share, "point_share": cover.point_share})


def patrol_report(
    store: Store,
    settings: Settings,
    *,
    period: str,
    when: str,
    principal: Principal | None = None,
    area: str | None = None,
) -> PatrolReport:
    """The patrol report of ``period`` (day|month) at ``when`` for the caller's area (all without a principal)."""
    if principal is not None:
        require_role(principal, *PATROL_ROLES)
    label, days = days_of(period, when)
    scope = _scope(store, principal, area)
    acc = _Accumulator()
    for day in days:
        _day(store, scope, day, settings, acc)
    if period == "day":
        by_worker, by_grid = _worker_day_table(scope, acc), _grid_day_table(scope, acc)
    else:
        by_worker, by_grid = _worker_month_table(scope, acc, settings), _grid_month_table(scope, acc, settings)
    return PatrolReport(period, label, days, by_worker, by_grid, settings.patrol_distance_m,
                        settings.patrol_min_minutes)


def _hours(seconds: float) -> float:
    return round(seconds / 3600.0, 2)


def _worker_base(scope: _Scope) -> pd.DataFrame:
    return pd.DataFrame({"worker_id": scope.workers["worker_id"].astype(str),
                         "name": scope.workers["name"].astype(str),
                         "home_grid": scope.workers["grid_code"].astype("string")})


def _worker_day_table(scope: _Scope, acc: _Accumulator) -> pd.DataFrame:
    rows = pd.DataFrame(acc.worker_rows, columns=["day", "worker_id", "fixes", "tracked_s", "own_s", "patrolled",
                                                   "street_share", "building_share", "point_share"])
    table = _worker_base(scope).merge(rows, on="worker_id", how="left")
    table["fixes"] = table["fixes"].fillna(0).astype(int)
    table["tracked_h"] = table["tracked_s"].fillna(0.0).map(_hours)
    table["own_h"] = table["own_s"].fillna(0.0).map(_hours)
    table["own_share"] = [_share(o, t) for o, t in zip(table["own_s"].fillna(0), table["tracked_s"].fillna(0),
                                                      strict=True)]
    table["r15_met"] = [None if s is None else s >= OWN_SHARE_TARGET for s in table["own_share"]]
    table["patrolled"] = table["patrolled"].astype("boolean").fillna(False).astype(bool)
    return table[["worker_id", "name", "home_grid", "fixes", "tracked_h", "own_h", "own_share", "r15_met",
                  "patrolled", "street_share", "building_share", "point_share"]]


def _worker_month_table(scope: _Scope, acc: _Accumulator, settings: Settings) -> pd.DataFrame:
    rows = pd.DataFrame(acc.worker_rows, columns=["day", "worker_id", "tracked_s", "own_s", "patrolled"])
    sums = rows.groupby("worker_id").agg(days_tracked=("day", "nunique"), days_patrolled=("patrolled", "sum"),
                                         tracked_s=("tracked_s", "sum"), own_s=("own_s", "sum"))
    table = _worker_base(scope).merge(sums, left_on="worker_id", right_index=True, how="left")
    for column in ("days_tracked", "days_patrolled"):
        table[column] = table[column].fillna(0).astype(int)
    table["patrol_share"] = [_share(p, d) for p, d in zip(table["days_patrolled"], table["days_tracked"],
                                                          strict=True)]
    table["tracked_h"] = table["tracked_s"].fillna(0.0).map(_hours)
    table["own_h"] = table["own_s"].fillna(0.0).map(_hours)
    table["own_share"] = [_share(o, t) for o, t in zip(table["own_s"].fillna(0), table["tracked_s"].fillna(0),
                                                      strict=True)]
    table["r15_met"] = [None if s is None else s >= OWN_SHARE_TARGET for s in table["own_share"]]
    shares = [coverage_of(union_tracks(acc.worker_tracks.get(w, [])),
                          [scope.grids[c] for c in sorted(scope.own.get(w, frozenset())) if c in scope.grids],
                          distance_m=settings.patrol_distance_m) for w in table["worker_id"]]
    table["street_share"] = _shares([c.street_share for c in shares])
    table["building_share"] = _shares([c.building_share for c in shares])
    table["point_share"] = _shares([c.point_share for c in shares])
    return table[["worker_id", "name", "home_grid", "days_tracked", "days_patrolled", "patrol_share", "tracked_h",
                  "own_h", "own_share", "r15_met", "street_share", "building_share", "point_share"]]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _shares(values: Sequence[float | None]) -> pd.Series:
    """Shares rounded to 4 places, NaN where the grid(s) have none of the feature."""
    return pd.Series([np.nan if v is None else round(v, 4) for v in values], dtype="float64")


def _grid_day_table(scope: _Scope, acc: _Accumulator) -> pd.DataFrame:
    rows = pd.DataFrame(acc.grid_rows, columns=["day", "grid_code", "present_s", "patrolled", "street_share",
                                                "building_share", "point_share"])
    table = rows.assign(grid_name=rows["grid_code"].map(scope.names), present_h=rows["present_s"].map(_hours))
    for column in ("street_share", "building_share", "point_share"):
        table[column] = table[column].map(_round)
    return table[["grid_code", "grid_name", "present_h", "patrolled", "street_share", "building_share",
                  "point_share"]].sort_values("grid_code").reset_index(drop=True)


def _grid_month_table(scope: _Scope, acc: _Accumulator, settings: Settings) -> pd.DataFrame:
    rows = pd.DataFrame(acc.grid_rows, columns=["day", "grid_code", "present_s", "patrolled"])
    sums = rows.groupby("grid_code").agg(days_visited=("present_s", lambda s: int((s > 0).sum())),
                                         days_patrolled=("patrolled", "sum"), present_s=("present_s", "sum"))
    sums = sums.reset_index()
    shares = [coverage_of(union_tracks(acc.grid_tracks.get(c, [])), [scope.grids[c]],
                          distance_m=settings.patrol_distance_m) for c in sums["grid_code"]]
    table = sums.assign(grid_name=sums["grid_code"].map(scope.names), present_h=sums["present_s"].map(_hours),
                        days_patrolled=sums["days_patrolled"].astype(int),
                        street_share=_shares([c.street_share for c in shares]),
                        building_share=_shares([c.building_share for c in shares]),
                        point_share=_shares([c.point_share for c in shares]))
    return table[["grid_code", "grid_name", "days_visited", "days_patrolled", "present_h", "street_share",
                  "building_share", "point_share"]].sort_values("grid_code").reset_index(drop=True)


def report_csv(report: PatrolReport, *, which: str = "worker") -> str:
    """One of the report's tables as CSV text (UTF-8; callers write it with a BOM for Excel)."""
    frame = report.by_worker if which == "worker" else report.by_grid
    out = frame.copy()
    out.insert(0, report.period, report.label)
    return str(out.to_csv(index=False))
