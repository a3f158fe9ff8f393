"""Heatmap data: weighted points per category and per week, aggregated on the server when large.

Why aggregate: a Leaflet heat layer draws every point it is given, and the page carries each
one as JSON (about 28 bytes a point). 200,000 incidents would make a 6 MB page that takes
seconds to parse; summed into H3 hexagons (weight = the incidents' summed weights, placed at the
hexagon's centre) the picture at district zoom is the same and the page stays small. The
resolution is chosen per layer: the finest H3 resolution (from ``FINEST_RESOLUTION``, edges of
about 25 m, finer than a heat blob) at which the layer has at most ``max_points`` points.

Budgets: ``heat_layers`` shares ``DEFAULT_BUDGET_POINTS`` between the "all" layer and the
category layers; ``weekly_heat_frames`` shares it between the weeks of the animated view.
Coordinates are rounded to 1e-5 degrees (about 1 m).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from h3.api import basic_int as h3_int

from gridmap.analysis.emerging import period_labels
from gridmap.analysis.incident_input import (
    CATEGORY_COLUMN,
    TIME_COLUMN,
    incident_points,
    incident_times,
    incident_weights,
)
from gridmap.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
CellArray = npt.NDArray[np.uint64]
_RESOLUTION_SHIFT = 52
_RESOLUTION_MASK = np.uint64(0xF << _RESOLUTION_SHIFT)
#: Points of all heat layers of one page together (about 1.7 MB of JSON at most).
DEFAULT_BUDGET_POINTS = 60_000
#: A single layer never gets more than this many points, nor fewer than the floor.
MAX_LAYER_POINTS = 20_000
MIN_LAYER_POINTS = 500
FINEST_RESOLUTION = 11
#: Cells of the weekly animation: edges of about 65 m, one scale for every week.
WEEKLY_RESOLUTION = 10
DECIMALS = 5
ALL = "__all__"


@dataclass(frozen=True)
class HeatPoints:
    """(n, 3) rows of [lat, lon, weight]; ``resolution`` is the H3 resolution used, None when not aggregated."""

    data: FloatArray
    incidents: int
    resolution: int | None = None

    @property
    def aggregated(self) -> bool:
        return self.resolution is not None


@dataclass
class HeatLayers:
    """The "all incidents" layer and one layer per category (largest first)."""

    all: HeatPoints
    categories: dict[str, HeatPoints] = field(default_factory=dict)

    @property
    def points(self) -> int:
        return len(self.all.data) + sum(len(p.data) for p in self.categories.values())


def _rounded(lat: FloatArray, lon: FloatArray, weight: FloatArray) -> FloatArray:
    return np.column_stack([np.round(lat, DECIMALS), np.round(lon, DECIMALS), np.round(weight, 3)])


def heat_points_from_arrays(
    lat: FloatArray,
    lon: FloatArray,
    weight: FloatArray,
    *,
    max_points: int = MAX_LAYER_POINTS,
    resolution: int | None = None,
    cells: CellArray | None = None,
) -> HeatPoints:
    """Points as they are when there are at most ``max_points``; else summed into H3 cells (see module doc).

    With ``resolution`` the points are always summed into cells of that resolution (coarser if the
    budget needs it), so that several layers (the weeks of an animation) share one scale. ``cells``
    are the points' H3 cells (64-bit ids) at the starting resolution when the caller already has them.
    """
    n = len(lat)
    if n <= max_points and resolution is None:
        return HeatPoints(_rounded(lat, lon, weight), n)
    start = FINEST_RESOLUTION if resolution is None else resolution
    found = cells if cells is not None else h3_cells(lat, lon, start)
    ids, sums = _summed(found, weight)
    resolution = start
    while len(ids) > max_points and resolution > 0:
        resolution -= 1
        ids, sums = _summed(parent_cells(ids, resolution), sums)
    centres = np.array([h3_int.cell_to_latlng(int(c)) for c in ids.tolist()], dtype=float).reshape(-1, 2)
    return HeatPoints(_rounded(centres[:, 0], centres[:, 1], sums), n, resolution)


def _summed(cells: CellArray, weight: FloatArray) -> tuple[CellArray, FloatArray]:
    """The distinct cells (sorted) and the summed weight of each (vectorised: no Python per point)."""
    ids, inverse = np.unique(cells, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=np.asarray(weight, dtype=np.float64), minlength=len(ids))
    return ids, sums.astype(np.float64)


def parent_cells(cells: CellArray, resolution: int) -> CellArray:
    """The parent of every H3 cell at the coarser ``resolution``, by bit arithmetic on the 64-bit ids.

    Why not ``h3.cell_to_parent``: it is one Python call per cell. An H3 cell id keeps its resolution
    in bits 52-55 and one 3-bit digit per finer resolution below; a parent has the resolution field
    lowered and the digits below it set to 7 (unused), which is what this computes for all at once.
    """
    ids = np.asarray(cells, dtype=np.uint64)
    unused = np.uint64((1 << (3 * (15 - resolution))) - 1)
    return (ids & ~_RESOLUTION_MASK) | np.uint64(resolution << _RESOLUTION_SHIFT) | unused


def h3_cells(lat: FloatArray, lon: FloatArray, resolution: int) -> CellArray:
    """The H3 cell id (64-bit integer) of every point (under 1 µs a point)."""
    if len(lat) != len(lon):
        raise ValidationError(f"heat points: {len(lat)} latitudes but {len(lon)} longitudes; rule: one of each a point")
    # map() keeps the loop in C; one h3 call a point remains (h3 has no vectorised latlng_to_cell)
    found = map(h3_int.latlng_to_cell, lat.tolist(), lon.tolist(), repeat(resolution, len(lat)))
    return np.fromiter(found, dtype=np.uint64, count=len(lat))


def heat_points_from_incidents(
    incidents: gpd.GeoDataFrame,
    *,
    weight_column: str | None = None,
    max_points: int = MAX_LAYER_POINTS,
    source: str = "incidents",
) -> HeatPoints:
    """One heat layer from incidents (validated: every incident needs a location; weights >= 0)."""
    points = incident_points(incidents, source=source)
    weights = incident_weights(incidents, weight_column, source=source)
    return heat_points_from_arrays(points.y.to_numpy(), points.x.to_numpy(), weights, max_points=max_points)


def layer_budget(n_layers: int, *, budget: int = DEFAULT_BUDGET_POINTS) -> int:
    """Points allowed per layer when ``n_layers`` share ``budget``."""
    return int(min(MAX_LAYER_POINTS, max(MIN_LAYER_POINTS, budget // max(1, n_layers))))


def heat_layers(
    incidents: gpd.GeoDataFrame,
    *,
    weight_column: str | None = None,
    categories: Sequence[str] | None = None,
    budget: int = DEFAULT_BUDGET_POINTS,
    source: str = "incidents",
) -> HeatLayers:
    """The "all" layer plus one layer per category (all categories present, or those asked for)."""
    points = incident_points(incidents, source=source)
    weights = incident_weights(incidents, weight_column, source=source)
    lat, lon = points.y.to_numpy(), points.x.to_numpy()
    if CATEGORY_COLUMN in incidents.columns:
        cats = incidents[CATEGORY_COLUMN].astype("string").fillna("")
        present = [str(c) for c in cats.value_counts().index if str(c)]
    else:
        cats, present = pd.Series("", index=incidents.index, dtype="string"), []
    wanted = [c for c in present if not categories or c in categories]
    codes, uniques = pd.factorize(cats)  # one pass over the strings, then integer masks per category
    code_of = {str(u): i for i, u in enumerate(uniques)}
    per_layer = layer_budget(1 + len(wanted), budget=budget)
    # cells once for every layer that needs them (the "all" layer needs them whenever any layer does)
    cells = h3_cells(lat, lon, FINEST_RESOLUTION) if len(lat) > per_layer else None
    out = HeatLayers(all=heat_points_from_arrays(lat, lon, weights, max_points=per_layer, cells=cells))
    for cat in wanted:
        mask = codes == code_of[cat]
        out.categories[cat] = heat_points_from_arrays(lat[mask], lon[mask], weights[mask], max_points=per_layer,
                                                      cells=None if cells is None else cells[mask])
    return out


@dataclass(frozen=True)
class HeatFrames:
    """Frames of the animated view: one label (the week's Monday, ISO date) and one layer per week."""

    labels: list[str]
    frames: list[HeatPoints]

    @property
    def points(self) -> int:
        return sum(len(f.data) for f in self.frames)


def weekly_heat_frames(
    incidents: gpd.GeoDataFrame,
    *,
    time_column: str = TIME_COLUMN,
    weight_column: str | None = None,
    budget: int = DEFAULT_BUDGET_POINTS,
    source: str = "incidents",
) -> HeatFrames:
    """One heat layer per week from the first to the last incident (empty weeks included, so time runs evenly).

    Every week is summed into H3 cells of ``WEEKLY_RESOLUTION`` so that a cell's weight means the
    same in every frame and the animation can share one colour scale.
    """
    points = incident_points(incidents, source=source)
    weights = incident_weights(incidents, weight_column, source=source)
    if len(points) == 0:
        return HeatFrames([], [])
    weeks = period_labels(incident_times(incidents, time_column, source=source), "week")
    all_weeks = pd.period_range(weeks.min(), weeks.max(), freq=weeks.freq)
    position = np.asarray(all_weeks.get_indexer(weeks))
    per_frame = layer_budget(len(all_weeks), budget=budget)
    lat, lon = points.y.to_numpy(), points.x.to_numpy()
    cells = h3_cells(lat, lon, WEEKLY_RESOLUTION)
    frames = []
    for t in range(len(all_weeks)):
        mask = position == t
        frames.append(heat_points_from_arrays(lat[mask], lon[mask], weights[mask], max_points=per_frame,
                                              resolution=WEEKLY_RESOLUTION, cells=cells[mask]))
    return HeatFrames([str(p.start_time.date()) for p in all_weeks], frames)
