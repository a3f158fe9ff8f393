"""An independent check of a written grids file: geopandas, pyogrio and shapely only, no gridmap.

Tests use it to judge what gridmap delivers without trusting gridmap's own certificate. Two
views of the same file:

* in the file's own CRS (what the bytes say): union(grids) against the boundary, areas turned
  into m² with the local scale of a degree (lon/lat) or as they are (projected);
* in the local UTM zone after cutting every edge to at most ~10 m first, so that an edge that
  is straight in lon/lat is compared along its real course (a naive ``to_crs`` of a 2 km edge
  moves its middle by about 0.1 m at 60° N).

Buildings are "cut" when more than ``1%`` of their footprint or more than 1 m² lies outside the
grid holding their representative point (P-23), and "touching" when any area above 0.01 m² does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

#: Edge length (degrees, about 11 m) used before projecting lon/lat geometry.
SEGMENT_DEG = 1e-4


@dataclass(frozen=True)
class Independent:
    grids: int
    native_gap_m2: float
    native_outside_m2: float
    native_overlap_m2: float
    metric_gap_m2: float
    metric_outside_m2: float
    metric_overlap_m2: float
    boundary_vertices_missing: int
    multipart_grids: int
    buildings_cut: int
    buildings_touching: int


def read_grids(path: Path) -> gpd.GeoDataFrame:
    """Grids from any format gridmap writes (CSV: a ``wkt`` column in EPSG:4326)."""
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
        return gpd.GeoDataFrame(frame, geometry=shapely.from_wkt(frame["wkt"].to_numpy()), crs=4326)
    return gpd.read_file(path)


def _native_m2_per_unit(frame: gpd.GeoSeries) -> float:
    crs = pyproj.CRS.from_user_input(frame.crs)
    if not crs.is_geographic:
        return 1.0
    lat = float(np.mean(frame.total_bounds[[1, 3]]))
    return 111_320.0**2 * math.cos(math.radians(lat))


def _areas(grids: np.ndarray, boundary: shapely.Geometry) -> tuple[float, float, float]:
    union = shapely.union_all(grids)
    gap = shapely.difference(boundary, union).area
    outside = shapely.difference(union, boundary).area
    overlap = float(shapely.area(grids).sum() - union.area)
    return gap, outside, overlap


def check_file(path: Path, boundary: gpd.GeoSeries, buildings: gpd.GeoDataFrame | None = None) -> Independent:
    """The independent verdict on the grids file ``path`` against ``boundary`` (one polygon)."""
    return check_grids(read_grids(path).geometry, boundary, buildings)


def check_grids(
    native: gpd.GeoSeries, boundary: gpd.GeoSeries, buildings: gpd.GeoDataFrame | None = None
) -> Independent:
    """The independent verdict on grid geometries ``native`` (in their CRS) against ``boundary``."""
    b_native = boundary.to_crs(native.crs)
    scale = _native_m2_per_unit(native)
    gap, outside, overlap = _areas(np.asarray(native.values), b_native.iloc[0])
    utm = b_native.estimate_utm_crs() if pyproj.CRS.from_user_input(native.crs).is_geographic else native.crs
    geographic = pyproj.CRS.from_user_input(native.crs).is_geographic
    dense = native.segmentize(SEGMENT_DEG) if geographic else native
    b_dense = b_native.segmentize(SEGMENT_DEG) if geographic else b_native
    metric = np.asarray(dense.to_crs(utm).values)
    m_gap, m_out, m_over = _areas(metric, b_dense.to_crs(utm).iloc[0])
    union_xy = set(map(tuple, shapely.get_coordinates(shapely.union_all(np.asarray(native.values)))))
    missing = sum(1 for xy in map(tuple, shapely.get_coordinates(b_native.iloc[0])) if xy not in union_xy)
    cut = touching = 0
    if buildings is not None:
        cut, touching = _cut_buildings(metric, buildings.to_crs(utm))
    return Independent(
        grids=len(native),
        native_gap_m2=gap * scale,
        native_outside_m2=outside * scale,
        native_overlap_m2=overlap * scale,
        metric_gap_m2=m_gap,
        metric_outside_m2=m_out,
        metric_overlap_m2=m_over,
        boundary_vertices_missing=missing,
        multipart_grids=int(sum(len(shapely.get_parts(g)) > 1 for g in metric)),
        buildings_cut=cut,
        buildings_touching=touching,
    )


def _cut_buildings(grids: np.ndarray, buildings: gpd.GeoDataFrame) -> tuple[int, int]:
    footprints = shapely.make_valid(np.asarray(buildings.geometry.values))
    areal = np.flatnonzero(shapely.area(footprints) > 0)
    footprints = footprints[areal]
    points = shapely.point_on_surface(footprints)
    tree = shapely.STRtree(grids)
    p_idx, g_idx = tree.query(points, predicate="within")
    home = np.full(len(footprints), -1)
    home[p_idx] = g_idx
    b_idx, o_idx = tree.query(footprints, predicate="intersects")
    keep = home[b_idx] != o_idx
    b_idx, o_idx = b_idx[keep], o_idx[keep]
    away = np.asarray(shapely.area(shapely.intersection(footprints[b_idx], grids[o_idx])), dtype=float)
    per = np.bincount(b_idx, weights=away, minlength=len(footprints))
    area = shapely.area(footprints)
    cut = (per > 0.01 * area) | (per > 1.0)
    return int(cut.sum()), int((per > 0.01).sum())
