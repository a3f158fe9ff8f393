"""The coverage certificate: does a grids layer tile its communities, hold whole buildings, fit the band?

``check_partition`` runs on ANY grids layer: the output of a partition strategy, or grids drawn by
hand and imported from a file. It works in a metric CRS (areas in m²) and checks, per community:

* ``geometry_valid``: every grid is a non-empty, valid polygon;
* ``coverage_valid``: grids meet edge to edge without overlaps (``shapely.coverage_is_valid``),
  with the offending edges as GeoJSON;
* ``no_overlaps``: area (m²) and shape of every overlap between two grids;
* ``covers_parent``: the union of the grids equals the community: gap and outside areas (m²) with
  the gap polygons. A valid coverage may still have holes; this is the check that catches them;
* ``contiguous``: each grid is one polygon, unless flagged ``disconnected_part`` (or ``multipart``
  for a dedicated grid of separate unit sites);
* ``within_one_community``: each grid lies inside exactly one community;
* ``buildings_assigned``: each building's representative point is in exactly one grid;
* ``households_in_band``: base grids hold band.min..band.max households (others are exempt);
* ``households_match_buildings``: a grid's households column equals its buildings' sum;
* ``buildings_straddling``: buildings cut by a grid edge, i.e. with more than 1% of the footprint
  or 1 m² in a grid other than the one holding their representative point (P-23); a failure
  unless ``allow_straddling`` (then a warning).

``covers_parent`` also measures the gap and outside areas in the grids' *own* CRS (for lon/lat,
areas in degrees² turned into m² with the local scale), without any reprojection: a file whose
outer edges are the community's own vertices has none, whatever a reader projects it to.

Geometry stored in lon/lat has edges that are straight in lon/lat: before projecting, every edge is
cut into pieces of at most ``DENSIFY_M`` metres, so that a 5 km boundary edge is compared along
its real course and not as a straight line in metres (which bows away from it by metres).

Pieces smaller than ``tolerance_m2`` (digitising noise) do not fail a check, but their total area
is still reported.
"""

from __future__ import annotations

import json
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.crs import working_crs_for
from gridmap.errors import ValidationError
from gridmap.partition.certificate import rules
from gridmap.partition.certificate.layers import Layers
from gridmap.partition.certificate.report import Certificate, CheckResult, GeoJsonWriter
from gridmap.partition.problem import Band
from gridmap.schema import AREAS_SPEC, BUILDINGS_SPEC, GRIDS_SPEC

CODE = GRIDS_SPEC.column("code").name
NAME = GRIDS_SPEC.column("name").name
KIND = GRIDS_SPEC.column("kind").name
FLAGS = GRIDS_SPEC.column("flags").name
COMMUNITY_CODE = GRIDS_SPEC.column("community_code").name
HOUSEHOLDS = GRIDS_SPEC.column("households").name
AREA_CODE = AREAS_SPEC.column("code").name
BUILDING_ID = BUILDINGS_SPEC.column("building_id").name

#: Default tolerance: pieces (gaps, overlaps, slivers) below 1 m² are digitising noise.
DEFAULT_TOLERANCE_M2 = 1.0
#: Longest edge (m) kept when projecting lon/lat geometry; shorter edges bow by well under 1 mm.
DENSIFY_M = 50.0
#: Metres per degree of latitude (edge lengths in degrees are converted with it; a degree of
#: longitude is never longer, so DENSIFY_M is an upper bound).
_M_PER_DEGREE = 111_320.0

Parent: TypeAlias = BaseGeometry | gpd.GeoDataFrame | gpd.GeoSeries


def check_partition(
    grids: gpd.GeoDataFrame,
    parent: Parent,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    band: Band | None = None,
    households_column: str = HOUSEHOLDS,
    tolerance_m2: float = DEFAULT_TOLERANCE_M2,
    parent_code_column: str | None = None,
    source: str = "grids",
    allow_straddling: bool = False,
    certified: str = "grids in memory",
    coverage_only: bool = False,
) -> Certificate:
    """The coverage certificate of ``grids`` against ``parent`` (one polygon or a layer of communities).

    A shapely ``parent`` is taken to be in the grids' CRS. With a layer of several communities,
    grids are matched by their ``community_code`` column when it names the communities (given by
    ``parent_code_column``, default ``code``), otherwise by largest overlap. Households per grid come
    from ``households_column`` of the grids, or else from the buildings' ``households_column``.
    ``certified`` names what the grids are (``"grids.geojson as written"``) in the report.
    ``coverage_only`` certifies the tiling alone (gaps, overlaps, containment, contiguity, and the
    buildings when given) and reports the two household checks as not checked: grids drawn on
    real road blocks before anyone has counted households can still be proven to tile.
    """
    layers = layers_from_input(grids, parent, buildings=buildings, households_column=households_column,
                               tolerance_m2=tolerance_m2, parent_code_column=parent_code_column,
                               source=source)  # fmt: skip
    assignment = rules.building_assignment(layers)
    checks: list[CheckResult] = [
        rules.geometry_valid(layers),
        rules.coverage_valid(layers),
        rules.no_overlaps(layers),
        rules.covers_parent(layers),
        rules.contiguous(layers),
        rules.within_one_community(layers),
        rules.buildings_assigned(layers, assignment),
        *(rules.not_checked(name, "coverage only (households are not judged)")
          for name in (rules.HOUSEHOLDS_IN_BAND, rules.HOUSEHOLDS_MATCH_BUILDINGS) if coverage_only),
        *(() if coverage_only else (rules.households_in_band(layers, assignment, band),
                                    rules.households_match_buildings(layers, assignment))),
        rules.buildings_straddling(layers, assignment, allowed=allow_straddling),
    ]
    return Certificate(
        checks=tuple(checks),
        communities=tuple(layers.community_codes),
        working_crs=layers.crs.to_string(),
        tolerance_m2=tolerance_m2,
        n_grids=len(layers.grid_ids),
        certified=certified,
    )


def validate_community(
    grids: gpd.GeoDataFrame,
    community_row: pd.Series | gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    band: Band | None,
    *,
    tolerance_m2: float = DEFAULT_TOLERANCE_M2,
    certified: str = "grids in memory",
    coverage_only: bool = False,
) -> Certificate:
    """Certificate of one community's grids, for store mode (``gridmap validate --community CODE``).

    ``community_row`` is a row of the ``areas`` layer (a Series with ``code`` and ``geometry``, in
    the grids' CRS, which is the storage CRS in a store) or a one-row GeoDataFrame.
    """
    if isinstance(community_row, gpd.GeoDataFrame):
        parent = community_row
    else:
        row = community_row.to_dict()
        geom_keys = [k for k, v in row.items() if isinstance(v, BaseGeometry)]
        if not geom_keys:
            raise ValidationError(f"community {row.get(AREA_CODE, '?')}: the row has no geometry to validate against")
        geom = row.pop(geom_keys[0])
        parent = gpd.GeoDataFrame([row], geometry=[geom], crs=grids.crs)
    return check_partition(grids, parent, buildings=buildings, band=band, tolerance_m2=tolerance_m2,
                           parent_code_column=AREA_CODE if AREA_CODE in parent.columns else None,
                           source=f"community {_first_code(parent)}", certified=certified,
                           coverage_only=coverage_only)  # fmt: skip


def _first_code(parent: gpd.GeoDataFrame) -> str:
    return str(parent[AREA_CODE].iloc[0]) if AREA_CODE in parent.columns and len(parent) else "(no code)"


def layers_from_input(
    grids: gpd.GeoDataFrame,
    parent: Parent,
    *,
    buildings: gpd.GeoDataFrame | None,
    households_column: str,
    tolerance_m2: float,
    parent_code_column: str | None,
    source: str,
) -> Layers:
    """Validate and project the inputs once; raise ValidationError naming the input and the rule."""
    if not isinstance(grids, gpd.GeoDataFrame):
        raise ValidationError(f"{source}: expected a layer of grid polygons, got {type(grids).__name__}")
    if grids.crs is None:
        raise ValidationError(f"{source}: the grids layer has no CRS; declare it (e.g. EPSG:4326) before validating")
    if tolerance_m2 < 0:
        raise ValidationError(f"{source}: tolerance_m2 must be >= 0, got {tolerance_m2}")
    parents = _parent_frame(parent, grids.crs, source)
    crs = _metric_crs(grids, parents)
    same_crs = pyproj.CRS.from_user_input(grids.crs).equals(crs)
    grids_m = projected(grids, crs)
    parents_m = projected(parents, crs)
    geoms = np.asarray(grids_m.geometry.values, dtype=object)
    community_geoms = np.asarray(parents_m.geometry.values, dtype=object)
    codes, named = _community_codes(parents_m, parent_code_column)
    ids = _grid_ids(grids_m)
    by_code, raw_codes = _communities_by_code(grids_m, codes if named else None)
    by_geometry = _communities_by_geometry(geoms, community_geoms)
    points, footprints, b_ids, b_households = _buildings(buildings, crs, households_column, source)
    return Layers(
        grids=geoms,
        grid_ids=ids,
        kinds=[str(k) for k in grids_m[KIND]] if KIND in grids_m.columns else ["base"] * len(ids),
        flags=[_flag_codes(f) for f in grids_m[FLAGS]] if FLAGS in grids_m.columns else [set() for _ in ids],
        grid_households=_numeric(grids_m, households_column),
        communities=community_geoms,
        community_codes=codes,
        grid_community=np.where(by_code >= 0, by_code, by_geometry),
        code_community=by_code,
        grid_community_codes=raw_codes,
        building_points=points,
        building_footprints=footprints,
        building_ids=b_ids,
        building_households=b_households,
        tolerance_m2=tolerance_m2,
        geojson=GeoJsonWriter(crs),
        crs=crs,
        native_grids=None if same_crs else np.asarray(grids.geometry.values, dtype=object),
        native_communities=None if same_crs else np.asarray(parents.to_crs(grids.crs).geometry.values, dtype=object),
        native_m2_per_unit2=_m2_per_unit2(grids),
        native_crs=None if same_crs else pyproj.CRS.from_user_input(grids.crs),
    )


def _m2_per_unit2(grids: gpd.GeoDataFrame) -> float:
    """m² per squared CRS unit: 1 in a metric CRS; in lon/lat, a degree² at the layer's mean latitude."""
    crs = pyproj.CRS.from_user_input(grids.crs)
    if not crs.is_geographic or len(grids) == 0:
        return 1.0
    lat = float(np.mean(grids.total_bounds[[1, 3]]))
    return float(_M_PER_DEGREE**2 * np.cos(np.radians(lat)))


def projected(frame: gpd.GeoDataFrame, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """``frame`` in ``crs``; from a geographic CRS every edge is first cut to at most ``DENSIFY_M``."""
    source = pyproj.CRS.from_user_input(frame.crs)
    if source.is_geographic and len(frame):
        frame = frame.set_geometry(frame.geometry.segmentize(DENSIFY_M / _M_PER_DEGREE))
    return frame.to_crs(crs)


def _parent_frame(parent: Parent, grids_crs: Any, source: str) -> gpd.GeoDataFrame:
    if isinstance(parent, gpd.GeoDataFrame):
        frame = parent
    elif isinstance(parent, gpd.GeoSeries):
        frame = gpd.GeoDataFrame(geometry=parent)
    elif isinstance(parent, BaseGeometry):
        frame = gpd.GeoDataFrame(geometry=[parent], crs=grids_crs)
    else:
        raise ValidationError(f"{source}: the parent must be a polygon or a layer of communities")
    if frame.crs is None:
        raise ValidationError(f"{source}: the parent (community) layer has no CRS; declare it before validating")
    if len(frame) == 0:
        raise ValidationError(f"{source}: the parent layer has no community polygon")
    bad = [i for i, g in enumerate(frame.geometry) if g is None or g.is_empty or g.geom_type not in _POLYGONAL]
    if bad:
        raise ValidationError(f"{source}: parent feature(s) {bad[:10]} are not polygons; a community must be an area")
    return frame.reset_index(drop=True)


_POLYGONAL = ("Polygon", "MultiPolygon")


def _metric_crs(grids: gpd.GeoDataFrame, parents: gpd.GeoDataFrame) -> pyproj.CRS:
    """The grids' own CRS if it is projected in metres, else the working CRS for the communities."""
    crs = pyproj.CRS.from_user_input(grids.crs)
    if crs.is_projected and all(a.unit_name in ("metre", "meter") for a in crs.axis_info[:2]):
        return crs
    return working_crs_for(parents)


def _community_codes(parents: gpd.GeoDataFrame, column: str | None) -> tuple[list[str], bool]:
    """Codes of the communities, and whether they are real codes (else labels made up for reports)."""
    col = column or (AREA_CODE if AREA_CODE in parents.columns else None)
    if col is None:
        return ([f"#{i}" for i in range(len(parents))] if len(parents) > 1 else ["parent"]), False
    if col not in parents.columns:
        raise ValidationError(f"parent layer has no column {col!r}; columns: {', '.join(map(str, parents.columns))}")
    return [str(v) for v in parents[col]], True


def _grid_ids(grids: gpd.GeoDataFrame) -> list[str]:
    for col in (CODE, NAME):
        if col in grids.columns and grids[col].notna().all() and grids[col].astype(str).is_unique:
            return [str(v) for v in grids[col]]
    return [f"#{i}" for i in range(len(grids))]


def _flag_codes(value: Any) -> set[str]:
    """Flag codes of a grid: a list of {"code", "message"} dicts, or its JSON text (from a file)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {value}
    if isinstance(value, list | tuple | np.ndarray):
        return {str(f.get("code", "")) if isinstance(f, dict) else str(f) for f in value}
    return set()


def _numeric(frame: pd.DataFrame, column: str) -> npt.NDArray[np.float64] | None:
    if column not in frame.columns or frame[column].isna().all():
        return None
    return pd.to_numeric(frame[column], errors="coerce").fillna(0.0).to_numpy(dtype=np.float64)


def _communities_by_code(
    grids: gpd.GeoDataFrame, codes: list[str] | None
) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Community index named by each grid's ``community_code`` (-1: none given, -2: not in the parent layer).

    ``codes`` is None when the parent layer has no code column: then codes cannot be checked.
    """
    if COMMUNITY_CODE not in grids.columns or codes is None:
        return np.full(len(grids), -1, dtype=np.int64), [""] * len(grids)
    index = {c: i for i, c in enumerate(codes)}
    raw = ["" if pd.isna(v) else str(v) for v in grids[COMMUNITY_CODE]]
    return np.asarray([index.get(v, -2) if v else -1 for v in raw], dtype=np.int64), raw


def _communities_by_geometry(
    geoms: npt.NDArray[np.object_], communities: npt.NDArray[np.object_]
) -> npt.NDArray[np.int64]:
    """Index of the community holding the largest part of each grid (-1: touches none)."""
    out = np.full(len(geoms), -1, dtype=np.int64)
    present = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    tree = shapely.STRtree(communities)
    g_idx, c_idx = tree.query(geoms[present], predicate="intersects")
    if len(g_idx) == 0:
        return out
    areas = shapely.area(shapely.intersection(shapely.make_valid(geoms[present][g_idx]), communities[c_idx]))
    best: dict[int, tuple[float, int]] = {}
    for g, c, a in zip(present[g_idx].tolist(), c_idx.tolist(), areas.tolist(), strict=True):
        if a > best.get(g, (-1.0, -1))[0]:
            best[g] = (a, c)
    for g, (_, c) in best.items():
        out[g] = c
    return out


def _buildings(
    buildings: gpd.GeoDataFrame | None, crs: pyproj.CRS, households_column: str, source: str
) -> tuple[
    npt.NDArray[np.object_] | None, npt.NDArray[np.object_] | None, list[str], npt.NDArray[np.float64] | None
]:
    """Representative points (a point inside each footprint), footprints, ids and households."""
    if buildings is None:
        return None, None, [], None
    if buildings.crs is None:
        raise ValidationError(f"{source}: the buildings layer has no CRS; declare it before validating")
    frame = buildings[~(buildings.geometry.isna() | buildings.geometry.is_empty)].to_crs(crs)
    footprints = np.asarray(frame.geometry.values, dtype=object)
    points = np.asarray(shapely.point_on_surface(footprints), dtype=object)
    if BUILDING_ID in frame.columns and frame[BUILDING_ID].notna().all():
        ids = [str(v) for v in frame[BUILDING_ID]]
    else:
        ids = [f"#{i}" for i in frame.index]
    return points, footprints, ids, _numeric(frame, households_column)
