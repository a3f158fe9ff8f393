"""The rules of the coverage certificate, one function per check (see ``checks.py`` for the list).

Each rule takes the projected :class:`~gridmap.partition.certificate.checks.Layers` and returns a
:class:`CheckResult` whose issues name the grid(s), community or building and carry the measured
numbers (areas in m², lengths in metres, households) and, for shapes, GeoJSON in EPSG:4326.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.partition.certificate.report import (
    BUILDINGS_ASSIGNED,
    BUILDINGS_STRADDLING,
    CONTIGUOUS,
    COVERAGE_VALID,
    COVERS_PARENT,
    GEOMETRY_VALID,
    HOUSEHOLDS_IN_BAND,
    HOUSEHOLDS_MATCH_BUILDINGS,
    NO_OVERLAPS,
    WITHIN_ONE_COMMUNITY,
    CheckResult,
)
from gridmap.partition.problem import Band

if TYPE_CHECKING:
    from gridmap.partition.certificate.layers import Layers

#: Flags that make a multi-part grid acceptable (set by the partition engine or by hand).
ACCEPTED_MULTIPART_FLAGS = frozenset({"disconnected_part", "multipart"})
#: Grid kinds the household band applies to; dedicated and other grids follow their own rules (P-29).
BAND_KINDS = frozenset({"base"})


def _m2(value: float) -> float:
    return round(float(value), 2)


def _polygonal_ok(layers: Layers) -> npt.NDArray[np.bool_]:
    g = layers.grids
    present = ~(shapely.is_missing(g) | shapely.is_empty(g))
    kinds = np.asarray([geom.geom_type if geom is not None else "" for geom in g], dtype=object)
    return present & np.isin(kinds, ["Polygon", "MultiPolygon"]) & shapely.is_valid(g)


def geometry_valid(layers: Layers) -> CheckResult:
    issues = []
    for i, geom in enumerate(layers.grids):
        if geom is None or geom.is_empty:
            problem = "empty geometry"
        elif geom.geom_type not in ("Polygon", "MultiPolygon"):
            problem = f"a {geom.geom_type}, not a polygon"
        elif not geom.is_valid:
            problem = shapely.is_valid_reason(geom)
        else:
            continue
        issues.append({"grid": layers.grid_ids[i], "problem": problem})
    ok = not issues
    msg = f"all {len(layers.grids)} grids are valid polygons" if ok else f"{len(issues)} grid(s) are not valid polygons"
    return CheckResult(GEOMETRY_VALID, ok, msg, tuple(issues), {"invalid": len(issues)})


def coverage_valid(layers: Layers) -> CheckResult:
    """Edge-to-edge without overlaps, per community (GEOS coverage validation).

    Judged on the grids as the layer holds them (its own CRS): matching vertices is a property of
    the stored coordinates, and the metric copy cannot keep it, because densifying a shared lon/lat
    edge from either end gives points that differ in the last bits. Offending edges are reported
    in metres.
    """
    native = layers.native_grids is not None and layers.native_crs is not None
    grids = layers.native_grids if layers.native_grids is not None else layers.grids
    good = _polygonal_ok(layers)
    issues: list[dict[str, Any]] = []
    bad_length = 0.0
    for c, code in enumerate(layers.community_codes):
        idx = np.flatnonzero((layers.grid_community == c) & good)
        if len(idx) < 2 or shapely.coverage_is_valid(grids[idx]):
            continue
        edges = np.asarray(shapely.coverage_invalid_edges(grids[idx]), dtype=object)
        if native:
            edges = np.asarray(gpd.GeoSeries(edges, crs=layers.native_crs).to_crs(layers.crs).values, dtype=object)
        for i, edge in zip(idx.tolist(), edges, strict=True):
            if edge is None or edge.is_empty:
                continue
            bad_length += edge.length
            issues.append({"community": code, "grid": layers.grid_ids[i], "length_m": round(edge.length, 2),
                           "geometry": layers.geojson(edge)})  # fmt: skip
    ok = not issues
    msg = ("grids meet edge to edge with no overlaps" if ok
           else f"{len(issues)} grid(s) have edges that do not match a neighbour ({bad_length:.1f} m)")  # fmt: skip
    return CheckResult(COVERAGE_VALID, ok, msg, tuple(issues), {"invalid_edge_length_m": round(bad_length, 2)})


def no_overlaps(layers: Layers) -> CheckResult:
    """Every pair of grids whose interiors overlap, with the overlap's area and shape."""
    good = np.flatnonzero(_polygonal_ok(layers))
    geoms = layers.grids[good]
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    pieces = shapely.intersection(geoms[a], geoms[b])
    areas = shapely.area(pieces)
    issues = []
    for i, j, piece, area in zip(a.tolist(), b.tolist(), pieces, areas.tolist(), strict=True):
        if area > layers.tolerance_m2:
            issues.append({"grids": [layers.grid_ids[good[i]], layers.grid_ids[good[j]]], "area_m2": _m2(area),
                           "geometry": layers.geojson(_polygons_of(piece))})  # fmt: skip
    total = float(areas.sum())
    ok = not issues
    msg = f"no overlaps (total {total:.2f} m²)" if ok else f"{len(issues)} overlap(s), {total:.1f} m² in all"
    return CheckResult(NO_OVERLAPS, ok, msg, tuple(issues), {"overlap_area_m2": _m2(total), "overlaps": len(issues)})


def covers_parent(layers: Layers) -> CheckResult:
    """Union of each community's grids equals the community: gaps (incl. holes) and parts outside."""
    good = _polygonal_ok(layers)
    issues: list[dict[str, Any]] = []
    gap_total = outside_total = parent_total = 0.0
    for c, (code, community) in enumerate(zip(layers.community_codes, layers.communities, strict=True)):
        idx = np.flatnonzero((layers.grid_community == c) & good)
        union = shapely.union_all(layers.grids[idx]) if len(idx) else shapely.Polygon()
        gap = _polygons_of(shapely.difference(community, union))
        outside = _polygons_of(shapely.difference(union, community))
        parent_total += community.area
        gap_total += gap.area
        outside_total += outside.area
        for part in shapely.get_parts(gap):
            if part.area > layers.tolerance_m2:
                kind = "gap" if part.intersects(community.boundary) else "hole"
                issues.append({"community": code, "kind": kind, "area_m2": _m2(part.area),
                               "geometry": layers.geojson(part)})  # fmt: skip
        for part in shapely.get_parts(outside):
            if part.area > layers.tolerance_m2:
                issues.append({"community": code, "kind": "outside", "area_m2": _m2(part.area),
                               "geometry": layers.geojson(part)})  # fmt: skip
    # pieces only the layer's own CRS shows are listed; ones the metric check found are not listed twice
    native_gap, native_outside = _native_fit(layers, good, [] if issues else issues)
    ok = not issues
    msg = (f"grids cover their communities exactly (gaps {gap_total:.2f} m², outside {outside_total:.2f} m²;"
           f" in the layer's own CRS {native_gap:.4f} m² and {native_outside:.4f} m²)" if ok
           else f"gaps {gap_total:.1f} m² and {outside_total:.1f} m² outside the communities"
           f" ({native_gap:.1f} m² and {native_outside:.1f} m² in the layer's own CRS)")  # fmt: skip
    metrics = {"gap_area_m2": _m2(gap_total), "outside_area_m2": _m2(outside_total),
               "parent_area_m2": _m2(parent_total), "native_gap_area_m2": round(native_gap, 6),
               "native_outside_area_m2": round(native_outside, 6)}  # fmt: skip
    return CheckResult(COVERS_PARENT, ok, msg, tuple(issues), metrics)


def _native_fit(layers: Layers, good: npt.NDArray[np.bool_], issues: list[dict[str, Any]]) -> tuple[float, float]:
    """Gap and outside area (m²) per community in the grids' own CRS, no reprojection; pieces over
    the tolerance are added to ``issues`` (kind ``native_gap`` / ``native_outside``)."""
    if layers.native_grids is None or layers.native_communities is None:
        return 0.0, 0.0
    scale = layers.native_m2_per_unit2
    gap_total = outside_total = 0.0
    for c, (code, community) in enumerate(zip(layers.community_codes, layers.native_communities, strict=True)):
        idx = np.flatnonzero((layers.grid_community == c) & good)
        union = shapely.union_all(layers.native_grids[idx]) if len(idx) else shapely.Polygon()
        for kind, piece in (("native_gap", shapely.difference(community, union)),
                            ("native_outside", shapely.difference(union, community))):  # fmt: skip
            parts = [p for p in shapely.get_parts(_polygons_of(piece)) if p.area * scale > layers.tolerance_m2]
            area = float(_polygons_of(piece).area) * scale
            if kind == "native_gap":
                gap_total += area
            else:
                outside_total += area
            issues.extend({"community": code, "kind": kind, "area_m2": _m2(p.area * scale)} for p in parts)
    return gap_total, outside_total


def contiguous(layers: Layers) -> CheckResult:
    issues = []
    accepted = 0
    for i, geom in enumerate(layers.grids):
        if geom is None or geom.is_empty:
            continue
        parts = [p.area for p in shapely.get_parts(geom) if p.area > layers.tolerance_m2]
        if len(parts) <= 1:
            continue
        if layers.flags[i] & ACCEPTED_MULTIPART_FLAGS:
            accepted += 1
            continue
        issues.append({"grid": layers.grid_ids[i], "parts": len(parts),
                       "part_areas_m2": sorted((_m2(a) for a in parts), reverse=True)})  # fmt: skip
    ok = not issues
    msg = "every grid is one polygon" if ok else f"{len(issues)} grid(s) are in several pieces"
    if accepted:
        msg += f" ({accepted} flagged as accepted disconnected parts)"
    return CheckResult(CONTIGUOUS, ok, msg, tuple(issues), {"split": len(issues), "accepted_multipart": accepted})


def within_one_community(layers: Layers) -> CheckResult:
    """Each grid lies in exactly one community and sticks out of it by no more than the tolerance."""
    good = np.flatnonzero(_polygonal_ok(layers))
    tree = shapely.STRtree(layers.communities)
    g, c = tree.query(layers.grids[good], predicate="intersects")
    areas = shapely.area(shapely.intersection(layers.grids[good][g], layers.communities[c]))
    inside: dict[int, dict[int, float]] = {}
    for gi, ci, a in zip(good[g].tolist(), c.tolist(), areas.tolist(), strict=True):
        if a > layers.tolerance_m2:
            inside.setdefault(gi, {})[ci] = a
    issues: list[dict[str, Any]] = []
    codes = layers.community_codes
    for gi in np.flatnonzero(layers.code_community == -2).tolist():
        issues.append({"grid": layers.grid_ids[gi], "problem": f"its community_code "
                       f"{layers.grid_community_codes[gi]} names no community of the parent layer"})  # fmt: skip
    for gi in good.tolist():
        found = inside.get(gi, {})
        grid = layers.grid_ids[gi]
        if not found:
            issues.append({"grid": grid, "problem": "outside every community"})
        elif len(found) > 1:
            issues.append({"grid": grid, "problem": "crosses a community boundary",
                           "communities": {codes[ci]: _m2(a) for ci, a in found.items()}})  # fmt: skip
        else:
            (ci, a), = found.items()
            out = layers.grids[gi].area - a
            if out > layers.tolerance_m2:
                issues.append({"grid": grid, "problem": f"sticks out of community {codes[ci]}", "area_m2": _m2(out)})
            elif layers.code_community[gi] >= 0 and layers.code_community[gi] != ci:
                issues.append({"grid": grid, "problem": f"its community_code is {codes[layers.code_community[gi]]} "
                               f"but it lies in community {codes[ci]}"})  # fmt: skip
    ok = not issues
    msg = "every grid lies inside exactly one community" if ok else f"{len(issues)} grid(s) break the nesting rule"
    return CheckResult(WITHIN_ONE_COMMUNITY, ok, msg, tuple(issues), {"violations": len(issues)})


@dataclass(frozen=True)
class BuildingAssignment:
    """Grids holding each building's representative point (-1 when none), and how many hold it."""

    grid_of: npt.NDArray[np.int64]
    count: npt.NDArray[np.int64]
    pairs: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]


def building_assignment(layers: Layers) -> BuildingAssignment | None:
    if layers.building_points is None:
        return None
    good = np.flatnonzero(_polygonal_ok(layers))
    tree = shapely.STRtree(layers.grids[good])
    b, g = tree.query(layers.building_points, predicate="intersects")
    g = good[g]
    count = np.bincount(b, minlength=len(layers.building_points)).astype(np.int64)
    grid_of = np.full(len(layers.building_points), -1, dtype=np.int64)
    order = np.lexsort((g, b))  # first (lowest) grid per building wins the household sum
    b_sorted, g_sorted = b[order], g[order]
    first = np.r_[True, b_sorted[1:] != b_sorted[:-1]] if len(b_sorted) else np.zeros(0, dtype=bool)
    grid_of[b_sorted[first]] = g_sorted[first]
    return BuildingAssignment(grid_of, count, (b.astype(np.int64), g.astype(np.int64)))


def buildings_assigned(layers: Layers, assignment: BuildingAssignment | None) -> CheckResult:
    if assignment is None:
        return CheckResult(BUILDINGS_ASSIGNED, True, "no buildings given", skipped=True)
    assert layers.building_points is not None
    issues: list[dict[str, Any]] = []
    for i in np.flatnonzero(assignment.count == 0).tolist():
        lonlat = layers.geojson(layers.building_points[i])["coordinates"]
        issues.append({"building": layers.building_ids[i], "grids": [], "problem": "in no grid", "lonlat": lonlat})
    b, g = assignment.pairs
    for i in np.flatnonzero(assignment.count > 1).tolist():
        grids = sorted(layers.grid_ids[j] for j in g[b == i].tolist())
        issues.append({"building": layers.building_ids[i], "grids": grids, "problem": f"in {len(grids)} grids"})
    n = len(layers.building_points)
    zero, many = int((assignment.count == 0).sum()), int((assignment.count > 1).sum())
    ok = not issues
    msg = f"all {n} buildings are in exactly one grid" if ok else f"{zero} building(s) in no grid, {many} in several"
    metrics: dict[str, float | int] = {"buildings": n, "unassigned": zero, "multiple": many}
    return CheckResult(BUILDINGS_ASSIGNED, ok, msg, tuple(issues), metrics)


def grid_households(layers: Layers, assignment: BuildingAssignment | None) -> npt.NDArray[np.float64] | None:
    """Households per grid: the grids' own column, else the sum of their buildings, else None."""
    if layers.grid_households is not None:
        return layers.grid_households
    if assignment is None or layers.building_households is None:
        return None
    inside = assignment.grid_of >= 0
    return np.bincount(assignment.grid_of[inside], weights=layers.building_households[inside],
                       minlength=len(layers.grids)).astype(np.float64)  # fmt: skip


def not_checked(name: str, why: str) -> CheckResult:
    """A check that was deliberately not run: it holds nothing and fails nothing ("not checked")."""
    return CheckResult(name, True, f"not checked: {why}", skipped=True)


def households_in_band(layers: Layers, assignment: BuildingAssignment | None, band: Band | None) -> CheckResult:
    if band is None:
        return CheckResult(HOUSEHOLDS_IN_BAND, True, "not checked: no household band given", skipped=True)
    households = grid_households(layers, assignment)
    if households is None:
        return CheckResult(HOUSEHOLDS_IN_BAND, True, "not checked: the grids have no households column and no "
                           "buildings with households were given", skipped=True)  # fmt: skip
    checked = [i for i, k in enumerate(layers.kinds) if k in BAND_KINDS]
    issues = []
    for i in checked:
        h = float(households[i])
        if h < band.min:
            reason = f"below the minimum {band.min} by {band.min - h:g}"
        elif h > band.max:
            reason = f"above the maximum {band.max} by {h - band.max:g}"
        else:
            continue
        issues.append({"grid": layers.grid_ids[i], "households": h, "reason": reason})
    share = 1.0 - len(issues) / len(checked) if checked else 1.0
    metrics = {"band_min": band.min, "band_max": band.max, "checked": len(checked), "out_of_band": len(issues),
               "exempt": len(layers.kinds) - len(checked), "share_in_band": round(share, 4)}  # fmt: skip
    ok = not issues
    span = f"{band.min}..{band.max} households"
    bad = f"{len(issues)} of {len(checked)} base grids are outside {span}"
    msg = f"all {len(checked)} base grids hold {span}" if ok else bad
    return CheckResult(HOUSEHOLDS_IN_BAND, ok, msg, tuple(issues), metrics)


def households_match_buildings(layers: Layers, assignment: BuildingAssignment | None) -> CheckResult:
    if assignment is None or layers.grid_households is None or layers.building_households is None:
        return CheckResult(HOUSEHOLDS_MATCH_BUILDINGS, True, "needs both a grid households column and buildings "
                           "with households", skipped=True)  # fmt: skip
    inside = assignment.grid_of >= 0
    from_buildings = np.bincount(assignment.grid_of[inside], weights=layers.building_households[inside],
                                 minlength=len(layers.grids))  # fmt: skip
    issues = [
        {"grid": layers.grid_ids[i], "households": float(layers.grid_households[i]),
         "buildings_households": float(from_buildings[i])}
        for i in np.flatnonzero(np.abs(layers.grid_households - from_buildings) > 0.5).tolist()
    ]  # fmt: skip
    metrics = {"grid_total": float(layers.grid_households.sum()), "buildings_total": float(from_buildings.sum()),
               "buildings_outside_grids_households": float(layers.building_households[~inside].sum())}  # fmt: skip
    ok = not issues
    msg = ("grid household counts equal the sums of their buildings" if ok
           else f"{len(issues)} grid(s) disagree with their buildings' households")  # fmt: skip
    return CheckResult(HOUSEHOLDS_MATCH_BUILDINGS, ok, msg, tuple(issues), metrics)


#: A building is cut (P-23) when more than this share of its footprint lies outside its own grid...
STRADDLE_SHARE = 0.01
#: ... or more than this area (m²).
STRADDLE_M2 = 1.0


def buildings_straddling(
    layers: Layers, assignment: BuildingAssignment | None, *, allowed: bool = False
) -> CheckResult:
    """Buildings cut by a grid edge: more than 1% of the footprint or 1 m² outside the grid of its
    representative point (P-23: a building is never split between grids).

    A failure unless ``allowed`` (``--allow-straddling``, for hand-drawn grids under review): then
    a warning. The issue names the building, its grid, and the area (m²) lying in each other grid.
    """
    if assignment is None or layers.building_footprints is None:
        return CheckResult(BUILDINGS_STRADDLING, True, "no buildings given", skipped=True, warning=allowed)
    good = np.flatnonzero(_polygonal_ok(layers))
    footprints = shapely.make_valid(layers.building_footprints)
    b, g = shapely.STRtree(layers.grids[good]).query(footprints, predicate="intersects")
    g = good[g]
    away = assignment.grid_of[b] != g
    b, g = b[away], g[away]
    inside = np.asarray(shapely.area(shapely.intersection(footprints[b], layers.grids[g])), dtype=float)
    per_building = np.bincount(b, weights=inside, minlength=len(footprints))
    area = np.asarray(shapely.area(footprints), dtype=float)
    cut = np.flatnonzero((per_building > STRADDLE_SHARE * area) | (per_building > STRADDLE_M2))
    issues = []
    for bi in cut.tolist():
        home = int(assignment.grid_of[bi])
        also = {layers.grid_ids[gi]: _m2(a) for bj, gi, a in zip(b.tolist(), g.tolist(), inside.tolist(), strict=True)
                if bj == bi and a > 0}  # fmt: skip
        issues.append({"building": layers.building_ids[bi], "grid": layers.grid_ids[home] if home >= 0 else None,
                       "also_in": also, "area_m2": _m2(area[bi]), "outside_m2": _m2(per_building[bi])})  # fmt: skip
    ok = not issues or allowed
    msg = ("no building is cut by a grid edge" if not issues
           else f"{len(issues)} building(s) cut by grid edges (more than 1% or 1 m² of the footprint in another grid)"
           + ("; allowed by --allow-straddling" if allowed else ""))  # fmt: skip
    metrics: dict[str, float | int] = {"straddling": len(issues), "outside_area_m2": _m2(per_building[cut].sum())}
    return CheckResult(BUILDINGS_STRADDLING, ok, msg, tuple(issues), metrics, warning=allowed)


def _polygons_of(geom: BaseGeometry) -> BaseGeometry:
    """Only the areal part of an overlay result (drops the lines and points GEOS may add)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon") and p.area > 0]
    if not parts:
        return shapely.Polygon()
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(list(shapely.get_parts(parts)))
