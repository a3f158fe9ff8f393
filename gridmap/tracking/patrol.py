"""Patrol analytics from tracks: time in own grid (R-15), patrol-a-day (R-16), street/building/point coverage.

Pure functions over frames (no store): gridmap.tracking.report reads positions day by day and calls them.

Definitions (documented in the report and the README):

* **Tracked time** of a worker-day: the sum of the intervals between consecutive fixes, each interval
  counted only when it is at most ``max_gap`` long (``settings.stale_position_minutes``): a phone that
  went silent is not "working time". An interval is attributed to the grid of the fix that starts it.
* **Time in own grid**: tracked time in the worker's main or extra grids. R-15 asks for at least half of
  working time in the grid: ``own_share >= 0.5``.
* **Patrolled** (R-16, 每日至少1次巡查): at least ``settings.patrol_min_minutes`` in the own grid that day.
* **Coverage**: the track (fixes joined in time order, split where an interval exceeds ``max_gap``) is
  buffered by ``distance_m`` (``settings.patrol_distance_m``) in a metric CRS. Street coverage is the
  covered share of the road length inside the grid(s); building and point (key unit, G-31) coverage is
  the share of those features in the grid(s) that lie within ``distance_m`` of the track.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

#: Share of working time a worker must spend in the own grid (R-15).
OWN_SHARE_TARGET = 0.5


@dataclass(frozen=True)
class TimeInGrids:
    """Seconds tracked in total, in the own grids, and per grid code (None = outside every grid)."""

    tracked_s: float
    own_s: float
    by_grid_s: Mapping[str | None, float]

    @property
    def own_share(self) -> float | None:
        return None if self.tracked_s <= 0 else self.own_s / self.tracked_s


def time_in_grids(
    times: Sequence[np.datetime64] | npt.NDArray[np.datetime64],
    codes: Sequence[str | None],
    *,
    own_grids: frozenset[str],
    max_gap: timedelta,
) -> TimeInGrids:
    """Tracked and own-grid time of fixes sorted by time (see the module docstring)."""
    stamps = np.asarray(times, dtype="datetime64[ms]")
    if stamps.size < 2:
        return TimeInGrids(0.0, 0.0, {})
    if np.any(np.diff(stamps) < np.timedelta64(0, "ms")):
        raise ValueError("fixes must be sorted by time")
    gaps = np.diff(stamps).astype("int64") / 1000.0
    counted = gaps <= max_gap.total_seconds()
    by_grid: dict[str | None, float] = {}
    for code, seconds in zip(codes[:-1], np.where(counted, gaps, 0.0).tolist(), strict=True):
        if seconds > 0:
            by_grid[code] = by_grid.get(code, 0.0) + seconds
    tracked = float(sum(by_grid.values()))
    own = float(sum(s for c, s in by_grid.items() if c is not None and c in own_grids))
    return TimeInGrids(tracked, own, by_grid)


def track_from_points(
    xs: Sequence[float] | npt.NDArray[np.float64],
    ys: Sequence[float] | npt.NDArray[np.float64],
    times: Sequence[np.datetime64] | npt.NDArray[np.datetime64],
    *,
    max_gap: timedelta,
) -> BaseGeometry | None:
    """The track through time-sorted points (metric x/y), split where an interval exceeds ``max_gap``.

    A run of one point stays a point (a worker standing at one place still passes what is near).
    """
    x, y = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    if x.size == 0:
        return None
    stamps = np.asarray(times, dtype="datetime64[ms]")
    breaks = np.flatnonzero(np.diff(stamps).astype("int64") / 1000.0 > max_gap.total_seconds()) + 1
    parts: list[BaseGeometry] = []
    for idx in np.split(np.arange(x.size), breaks):
        coords = np.column_stack([x[idx], y[idx]])
        parts.append(shapely.Point(coords[0]) if len(idx) == 1 else shapely.LineString(coords))
    return parts[0] if len(parts) == 1 else shapely.GeometryCollection(parts)


@dataclass(frozen=True)
class GridFeatures:
    """What a grid offers to patrol, in a metric CRS: its road lines (clipped), buildings and key points."""

    code: str
    polygon: BaseGeometry
    roads: BaseGeometry  # road lines inside the grid (may be empty)
    road_length_m: float
    buildings: npt.NDArray[np.object_]
    points: npt.NDArray[np.object_]


def grid_features(
    code: str, polygon: BaseGeometry, roads: npt.NDArray[np.object_], buildings: npt.NDArray[np.object_],
    points: npt.NDArray[np.object_],
) -> GridFeatures:
    """Clip ``roads`` to the grid and keep the buildings and points whose representative point is inside."""
    shapely.prepare(polygon)
    near = roads[shapely.intersects(polygon, roads)] if len(roads) else roads
    clipped = shapely.union_all(shapely.intersection(near, polygon)) if len(near) else shapely.GeometryCollection()
    return GridFeatures(code, polygon, clipped, float(shapely.length(clipped)), _inside(polygon, buildings),
                        _inside(polygon, points))


def _inside(polygon: BaseGeometry, geoms: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """The geometries whose representative point lies in ``polygon`` (a building counts for one grid)."""
    return geoms[shapely.contains(polygon, shapely.point_on_surface(geoms))] if len(geoms) else geoms


@dataclass(frozen=True)
class Coverage:
    """Covered amounts against totals; shares are None where the grid(s) have none of the feature."""

    road_m: float
    road_total_m: float
    buildings: int
    buildings_total: int
    points: int
    points_total: int

    @staticmethod
    def _share(part: float, total: float) -> float | None:
        return None if total <= 0 else part / total

    @property
    def street_share(self) -> float | None:
        return self._share(self.road_m, self.road_total_m)

    @property
    def building_share(self) -> float | None:
        return self._share(self.buildings, self.buildings_total)

    @property
    def point_share(self) -> float | None:
        return self._share(self.points, self.points_total)


def coverage_of(track: BaseGeometry | None, grids: Iterable[GridFeatures], *, distance_m: float) -> Coverage:
    """How much of the grids' roads, buildings and points the track passes within ``distance_m``."""
    road_m = road_total = 0.0
    buildings = buildings_total = points = points_total = 0
    area = None if track is None else shapely.buffer(track, distance_m)
    for grid in grids:
        road_total += grid.road_length_m
        buildings_total += len(grid.buildings)
        points_total += len(grid.points)
        if area is None:
            continue
        if grid.road_length_m > 0:
            road_m += float(shapely.length(shapely.intersection(grid.roads, area)))
        if len(grid.buildings):
            buildings += int(shapely.dwithin(grid.buildings, track, distance_m).sum())
        if len(grid.points):
            points += int(shapely.dwithin(grid.points, track, distance_m).sum())
    return Coverage(road_m, road_total, buildings, buildings_total, points, points_total)


def union_tracks(tracks: Iterable[BaseGeometry | None]) -> BaseGeometry | None:
    """Several tracks as one geometry (for a month, or every worker in a grid); None when there are none."""
    found = [t for t in tracks if t is not None and not t.is_empty]
    if not found:
        return None
    return found[0] if len(found) == 1 else shapely.GeometryCollection(found)
