"""Twelve months of synthetic incidents (事件) with realistic clustering in space and time.

Space: most reports come from where people live (buildings weighted by households); the rest
cluster around markets, school gates, old estates and enterprises, by category (see
``incident_profiles``); a few *emerging* hotspots (a newly occupied estate, a busy market) grow
over the year. Time: seasons per category, fewer reports at weekends (most come from workers on
patrol), a daily cycle. Each incident is located to its grid, community and street by a
vectorised point-in-polygon (shapely STRtree). The window ends at a date fixed by the seed, so
the demo is reproducible.
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely

from gridmap import schema
from gridmap.demo.frames import typed_frame
from gridmap.demo.incident_profiles import (
    ANCHOR_KINDS,
    CATEGORIES,
    CLOSED,
    EMERGING_CATEGORIES,
    EMERGING_WEIGHTS,
    HOURS,
    LEVEL_WEIGHTS,
    LEVELS,
    OPEN_STATUSES,
    REPORTER_WEIGHTS,
    REPORTERS,
    SEASONS,
)
from gridmap.demo.params import SYNTHETIC_SOURCE
from gridmap.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
LOCAL_TZ = "Asia/Shanghai"
EMERGING_SHARE = 0.08
EMERGING_SPOTS = 4
SPREAD_M = {"background": 12.0, "market": 55.0, "school": 60.0, "old_estate": 45.0, "enterprise": 70.0}


def _anchors(
    buildings: gpd.GeoDataFrame, units: gpd.GeoDataFrame, estates: gpd.GeoDataFrame
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Per anchor kind: (xy in metres, sampling weights). Frames must already be in the working CRS."""
    def xy(frame: gpd.GeoDataFrame) -> FloatArray:
        return np.asarray(shapely.get_coordinates(shapely.point_on_surface(frame.geometry.values)), dtype=np.float64)

    out: dict[str, tuple[FloatArray, FloatArray]] = {}
    hh = buildings["households"].fillna(0).to_numpy(dtype=np.float64)
    out["background"] = (xy(buildings), hh)
    for kind in ("market", "school", "enterprise"):
        sel = units[units["unit_type"] == kind]
        out[kind] = (xy(sel), sel["persons"].fillna(1).to_numpy(dtype=np.float64))
    old = estates[estates["kind"].isin(["work_unit", "self_managed"])]
    per_estate = buildings.groupby("estate_id")["households"].sum()
    out["old_estate"] = (xy(old), old["estate_id"].map(per_estate).fillna(1).to_numpy(dtype=np.float64))
    return out


def _sample_points(
    anchors: tuple[FloatArray, FloatArray], n: int, spread_m: float, rng: np.random.Generator
) -> FloatArray:
    xy, weight = anchors
    if n == 0:
        return np.zeros((0, 2))
    if len(xy) == 0 or weight.sum() <= 0:
        raise ValidationError("demo incidents: an anchor kind with reports has no features to cluster around")
    pick = rng.choice(len(xy), size=n, p=weight / weight.sum())
    return xy[pick] + rng.normal(0.0, spread_m, size=(n, 2))


def _days(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="D", inclusive="left").as_unit("ns")


def _sample_times(
    days: pd.DatetimeIndex, n: int, day_weight: FloatArray, hours: FloatArray, rng: np.random.Generator
) -> pd.DatetimeIndex:
    """``n`` local times: a day by ``day_weight``, an hour by the daily cycle, a uniform minute."""
    day = rng.choice(len(days), size=n, p=day_weight / day_weight.sum())
    hour = rng.choice(24, size=n, p=hours)
    seconds = rng.integers(0, 3600, size=n)
    offsets = pd.to_timedelta(hour * 3600 + seconds, unit="s")
    return pd.DatetimeIndex(days[day] + offsets).as_unit("ns")


def _day_weights(days: pd.DatetimeIndex, season: str, weekend: float) -> FloatArray:
    month = np.asarray(SEASONS[season], dtype=np.float64)[days.month.to_numpy() - 1]
    dow = np.where(days.day_of_week.to_numpy() >= 5, weekend, 1.0)
    return np.asarray(month * dow, dtype=np.float64)


def _draw(
    anchors: dict[str, tuple[FloatArray, FloatArray]], days: pd.DatetimeIndex, total: int, rng: np.random.Generator
) -> tuple[FloatArray, list[str], pd.DatetimeIndex]:
    """Points (m), categories and local times of the regular (non-emerging) reports."""
    shares = np.array([c.share for c in CATEGORIES])
    counts = rng.multinomial(total, shares / shares.sum())
    present = np.array([len(anchors[k][0]) > 0 and anchors[k][1].sum() > 0 for k in ANCHOR_KINDS])
    xy_parts, cats, times = [], [], []
    for cat, n in zip(CATEGORIES, counts.tolist(), strict=True):
        # a small district may lack e.g. enterprises: their share goes to the other components
        affinity = np.where(present, np.array(cat.affinity), 0.0)
        kinds = rng.multinomial(n, affinity / affinity.sum())
        for kind, m in zip(ANCHOR_KINDS, kinds.tolist(), strict=True):
            if m:
                xy_parts.append(_sample_points(anchors[kind], m, SPREAD_M[kind], rng))
        cats.extend([cat.name] * n)
        times.append(_sample_times(days, n, _day_weights(days, cat.season, cat.weekend), HOURS[cat.hours], rng))
    return np.vstack(xy_parts), cats, _utc(np.concatenate([t.as_unit("ns").asi8 for t in times]))


def _draw_emerging(
    anchors: dict[str, tuple[FloatArray, FloatArray]], days: pd.DatetimeIndex, total: int, rng: np.random.Generator
) -> tuple[FloatArray, list[str], pd.DatetimeIndex]:
    """Reports around a few spots whose rate grows with time (quadratically from ~0 at the start)."""
    xy, weight = anchors["background"]
    spots = xy[rng.choice(len(xy), size=EMERGING_SPOTS, replace=False, p=weight / weight.sum())]
    pick = rng.integers(0, EMERGING_SPOTS, size=total)
    pts = spots[pick] + rng.normal(0.0, 50.0, size=(total, 2))
    cats = [str(c) for c in rng.choice(EMERGING_CATEGORIES, size=total, p=EMERGING_WEIGHTS)]
    ramp = ((np.arange(len(days)) + 1) / len(days)) ** 2 * _day_weights(days, "flat", 0.8)
    return pts, cats, _sample_times(days, total, ramp, HOURS["office"], rng)


def locate(
    points: npt.NDArray[np.object_], polygons: gpd.GeoDataFrame, code_column: str = "code"
) -> npt.NDArray[np.object_]:
    """The code of the polygon containing each point (None outside all), via one STRtree query."""
    out = np.full(len(points), None, dtype=object)
    if polygons is None or polygons.empty:
        return out
    tree = shapely.STRtree(np.asarray(polygons.geometry.values, dtype=object))
    pt_idx, poly_idx = tree.query(points, predicate="within")
    codes = polygons[code_column].astype(str).to_numpy()
    # a point on a shared edge is "within" neither; a point in two (overlap) keeps the first
    first = np.unique(pt_idx, return_index=True)[1]
    out[pt_idx[first]] = codes[poly_idx[first]]
    return out


def _utc(ns: npt.NDArray[np.int64]) -> pd.DatetimeIndex:
    """UTC timestamps from int64 nanoseconds (NaT where the value is NaT's integer)."""
    return pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC")


def _statuses(
    reported: pd.DatetimeIndex, end: pd.Timestamp, rng: np.random.Generator
) -> tuple[list[str], pd.DatetimeIndex, pd.DatetimeIndex]:
    """Status, updated_at and closed_at (NaT while open) from a handling time (median ~1.5 days).

    About one case in thirty is a long one (10-60 days: disputes, repairs); cases whose handling
    time has not run out by ``end`` are still open, at a step proportional to the elapsed share.
    """
    n = len(reported)
    hours = np.exp(rng.normal(np.log(36.0), 1.0, size=n)).clip(0.5, 24 * 60)
    long = rng.random(n) < 1 / 30
    hours[long] = rng.uniform(240, 1440, size=int(long.sum()))
    rep_ns = reported.as_unit("ns").asi8
    dur_ns = np.round(hours * 3600).astype(np.int64) * 1_000_000_000
    due_ns = rep_ns + dur_ns
    end_ns = end.as_unit("ns").value
    closed = due_ns < end_ns
    elapsed = (end_ns - rep_ns) / dur_ns
    step = np.clip((elapsed * len(OPEN_STATUSES)).astype(int), 0, len(OPEN_STATUSES) - 1)
    status = [CLOSED if c else OPEN_STATUSES[s] for c, s in zip(closed.tolist(), step.tolist(), strict=True)]
    partial_ns = (np.clip(elapsed, 0, 1) * dur_ns * rng.uniform(0.3, 1.0, size=n)).astype(np.int64)
    partial_ns -= partial_ns % 1_000_000_000
    updated = _utc(np.where(closed, due_ns, rep_ns + partial_ns))
    closed_at = _utc(np.where(closed, due_ns, np.iinfo(np.int64).min))
    return status, updated, closed_at


def incidents_for(
    areas: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    estates: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame | None = None,
    *,
    rng: np.random.Generator,
    working_crs: pyproj.CRS,
    end: datetime,
    months: int = 12,
    per_household_year: float = 0.45,
) -> gpd.GeoDataFrame:
    """Incidents (schema.INCIDENTS_SPEC columns, storage CRS) for ``months`` months ending at ``end``.

    About ``per_household_year`` reports per household and year. Located to ``grids`` when given
    (else grid_code is NULL), always to community and street.
    """
    storage_crs = areas.crs
    b_m = buildings.to_crs(working_crs)
    anchors = _anchors(b_m, units.to_crs(working_crs), estates.to_crs(working_crs))
    end_local = pd.Timestamp(end).tz_convert(LOCAL_TZ)
    days = _days(end_local - pd.DateOffset(months=months), end_local)
    total = round(float(buildings["households"].sum()) * per_household_year * months / 12)
    emerging = round(total * EMERGING_SHARE)
    xy1, cats1, t1 = _draw(anchors, days, total - emerging, rng)
    xy2, cats2, t2 = _draw_emerging(anchors, days, emerging, rng)
    xy = np.vstack([xy1, xy2])
    cats = np.asarray(cats1 + cats2, dtype=object)
    when = _utc(np.concatenate([t1.as_unit("ns").asi8, t2.as_unit("ns").asi8]))
    order = np.argsort(when.asi8, kind="stable")
    xy, cats, when = xy[order], cats[order], when[order]
    communities = areas[areas["level"] == "community"]
    points_m = np.asarray(shapely.points(xy), dtype=object)
    nearest = shapely.STRtree(np.asarray(b_m.geometry.values, dtype=object)).query_nearest(
        points_m, all_matches=False)[1]
    pts = np.asarray(gpd.GeoSeries(points_m, crs=working_crs).to_crs(storage_crs).values, dtype=object)
    community = locate(pts, communities)
    outside = np.flatnonzero(pd.isna(community))
    if len(outside):  # jittered off the district edge: put it at the nearest building instead
        pts[outside] = shapely.point_on_surface(np.asarray(buildings.geometry.values, dtype=object)[nearest[outside]])
        community[outside] = locate(pts[outside], communities)
    return _incident_frame(pts, cats, when, community, locate(pts, grids) if grids is not None else None,
                           buildings.iloc[nearest], end_local.tz_convert("UTC"), storage_crs, rng)


def _incident_frame(
    pts: npt.NDArray[np.object_], cats: npt.NDArray[np.object_], when: pd.DatetimeIndex,
    community: npt.NDArray[np.object_], grid: npt.NDArray[np.object_] | None, near: pd.DataFrame,
    end: pd.Timestamp, crs: pyproj.CRS, rng: np.random.Generator,
) -> gpd.GeoDataFrame:
    n = len(pts)
    status, updated, closed_at = _statuses(when, end, rng)
    by_name = {c.name: c.templates for c in CATEGORIES}
    place = near["estate_name"].fillna(near["road_name"]).fillna("").astype(str).to_numpy()
    pick = rng.integers(0, 1000, size=n)
    descriptions = [by_name[c][k % len(by_name[c])].format(place=p) for c, k, p in zip(cats, pick, place, strict=True)]
    address = (near["road_name"].fillna("") + near["house_number"].fillna("")).to_numpy()
    level = rng.choice(LEVELS, size=n, p=LEVEL_WEIGHTS)
    weight = rng.choice([1.0, 2.0, 3.0], size=n, p=[0.88, 0.10, 0.02])
    records = {
        "incident_id": [f"EV{k + 1:06d}" for k in range(n)],
        "category": list(cats), "description": descriptions, "status": status,
        "reported_at": when, "updated_at": updated, "closed_at": closed_at,
        "grid_code": list(grid) if grid is not None else [None] * n,
        "community_code": list(community),
        "street_code": [None if c is None else str(c)[:9] for c in community],
        "level": [str(v) for v in level], "weight": weight, "address": list(address),
        "reporter": [str(r) for r in rng.choice(REPORTERS, size=n, p=REPORTER_WEIGHTS)],
        "synthetic": [True] * n, "source": [SYNTHETIC_SOURCE] * n,
    }
    frame = typed_frame(schema.INCIDENTS_SPEC, [], columns=records)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(pts, crs=crs), crs=crs)
