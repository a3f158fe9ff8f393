"""Buildings and their households, each assigned whole to exactly one block.

A building is never split (P-23, P-24): it belongs to the block that contains its representative
point (``shapely.point_on_surface``, always inside the footprint, unlike the centroid of an L
shape). Problems are reported, never dropped silently:

* a building whose point lies outside the community is listed in ``outside`` and not counted;
* identical geometries are counted once (the first row wins) and listed in ``duplicates`` with a
  warning: two identical footprints are one building digitised twice, not two buildings;
* footprints that overlap by at least ``OVERLAP_SHARE`` of the smaller one are listed in
  ``overlaps`` (a warning; both are kept because the households may be genuine).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import ValidationError
from gridmap.schema import BUILDINGS_SPEC

HOUSEHOLDS = BUILDINGS_SPEC.column("households").name
POPULATION = BUILDINGS_SPEC.column("population").name
BUILDING_ID = BUILDINGS_SPEC.column("building_id").name
ESTATE_ID = BUILDINGS_SPEC.column("estate_id").name
BLOCK_ID = "block_id"
REP_X = "rep_x"
REP_Y = "rep_y"

#: Two footprints overlapping by this share of the smaller one are reported as overlapping.
OVERLAP_SHARE = 0.1
#: At most this many offending features are listed in an error message or report entry.
MAX_LISTED = 20


@dataclass
class BuildingAssignment:
    """Buildings kept (metric CRS, with ``block_id``) and what was set aside, for the report."""

    buildings: gpd.GeoDataFrame
    outside: list[str] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: counts plus the first offending building ids."""
        return {
            "buildings": len(self.buildings),
            "households": int(self.buildings[HOUSEHOLDS].sum()) if len(self.buildings) else 0,
            "outside": {"count": len(self.outside), "building_ids": self.outside[:MAX_LISTED]},
            "duplicates": {"count": len(self.duplicates), "pairs": self.duplicates[:MAX_LISTED]},
            "overlaps": {"count": len(self.overlaps), "pairs": self.overlaps[:MAX_LISTED]},
            "repaired_geometries": {"count": len(self.repaired), "building_ids": self.repaired[:MAX_LISTED]},
            "warnings": list(self.warnings),
        }


def buildings_from_input(
    buildings: gpd.GeoDataFrame,
    *,
    crs: pyproj.CRS,
    households_column: str = HOUSEHOLDS,
    source: str = "buildings",
) -> gpd.GeoDataFrame:
    """Validated buildings in the working CRS with integer ``households`` and a ``building_id``.

    Raises ValidationError naming ``source`` when the households column is missing or has
    empty, negative or non-numeric values (listing the first offending building ids).
    """
    if buildings.crs is None:
        raise ValidationError(f"{source}: the building layer has no CRS")
    frame = buildings.to_crs(crs).reset_index(drop=True)
    if BUILDING_ID not in frame.columns:
        frame[BUILDING_ID] = [str(i) for i in range(len(frame))]
    frame[BUILDING_ID] = frame[BUILDING_ID].astype(str)
    if households_column not in frame.columns:
        raise ValidationError(
            f"{source}: no households column {households_column!r} (columns: {', '.join(map(str, frame.columns))});"
            " name it with --households-column or estimate households first"
        )
    values = pd.to_numeric(frame[households_column], errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        ids = frame.loc[bad, BUILDING_ID].tolist()[:MAX_LISTED]
        raise ValidationError(
            f"{source}: {int(bad.sum())} building(s) have a missing, negative or non-numeric "
            f"{households_column!r} (every building needs a household count, 0 for non-residential): "
            + ", ".join(ids)
        )
    frame[HOUSEHOLDS] = np.rint(values.to_numpy(dtype=float)).astype(np.int64)
    empty = np.asarray(shapely.is_empty(np.asarray(frame.geometry.values, dtype=object)), dtype=bool)
    empty |= frame.geometry.isna().to_numpy()
    if empty.any():
        ids = frame.loc[empty, BUILDING_ID].tolist()[:MAX_LISTED]
        raise ValidationError(f"{source}: {int(empty.sum())} building(s) have no geometry: " + ", ".join(ids))
    return frame


def _repair(frame: gpd.GeoDataFrame) -> list[str]:
    """Make invalid footprints valid in place (polygonal part only); returns the repaired ids."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    for i in invalid:
        fixed = shapely.make_valid(geoms[i])
        polys = [g for g in shapely.get_parts(fixed) if g.geom_type == "Polygon"]
        geoms[i] = shapely.union_all(polys) if polys else shapely.point_on_surface(geoms[i])
    frame.geometry = gpd.GeoSeries(geoms, crs=frame.crs, index=frame.index)
    return frame[BUILDING_ID].iloc[invalid].tolist()


def _duplicates(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Mask of rows to keep (first of each set of identical geometries) and the dropped pairs."""
    wkb = shapely.to_wkb(shapely.normalize(np.asarray(frame.geometry.values, dtype=object)))
    first: dict[bytes, int] = {}
    keep = np.ones(len(frame), dtype=bool)
    pairs: list[dict[str, Any]] = []
    ids = frame[BUILDING_ID].tolist()
    for i, key in enumerate(wkb.tolist()):
        if key in first:
            keep[i] = False
            pairs.append({"kept": ids[first[key]], "dropped": ids[i]})
        else:
            first[key] = i
    return keep, pairs


def _overlaps(frame: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    """Pairs of footprints overlapping by >= OVERLAP_SHARE of the smaller one."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    polygonal = np.asarray(shapely.area(geoms), dtype=float) > 0
    idx = np.flatnonzero(polygonal)
    if len(idx) < 2:
        return []
    sub = geoms[idx]
    a, b = shapely.STRtree(sub).query(sub, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    inter = np.asarray(shapely.area(shapely.intersection(sub[a], sub[b])), dtype=float)
    smaller = np.minimum(shapely.area(sub[a]), shapely.area(sub[b]))
    hit = inter >= OVERLAP_SHARE * smaller
    ids = frame[BUILDING_ID].to_numpy()[idx]
    return [
        {"a": str(ids[i]), "b": str(ids[j]), "overlap_m2": round(float(x), 2)}
        for i, j, x in zip(a[hit], b[hit], inter[hit], strict=True)
    ]


def assign_buildings_to_blocks(
    buildings: gpd.GeoDataFrame,
    blocks: gpd.GeoDataFrame,
    *,
    area: BaseGeometry,
    block_column: str = BLOCK_ID,
) -> BuildingAssignment:
    """Give every building inside ``area`` to exactly one block by its representative point.

    ``buildings`` come from :func:`buildings_from_input` (same metric CRS as ``blocks``). A point
    on the edge between two blocks goes to the first block in row order, so the assignment is
    deterministic. Returns the kept buildings with ``block_id``, ``rep_x`` and ``rep_y`` (metres).
    """
    frame = buildings.copy()
    repaired = _repair(frame)
    keep, dupes = _duplicates(frame)
    warnings: list[str] = []
    if dupes:
        warnings.append(f"{len(dupes)} building(s) with identical geometry were counted once")
    frame = frame[keep].reset_index(drop=True)
    rep = shapely.point_on_surface(np.asarray(frame.geometry.values, dtype=object))
    block_geoms = np.asarray(blocks.geometry.values, dtype=object)
    owner = np.full(len(frame), -1, dtype=np.int64)
    p_idx, b_idx = shapely.STRtree(block_geoms).query(rep, predicate="intersects")
    for p, b in sorted(zip(p_idx.tolist(), b_idx.tolist(), strict=True), reverse=True):
        owner[p] = b
    shapely.prepare(area)
    for p in np.flatnonzero(owner < 0):
        if shapely.intersects(area, rep[p]) and len(block_geoms):
            owner[p] = int(np.argmin(shapely.distance(block_geoms, rep[p])))
    outside = frame[BUILDING_ID].to_numpy()[owner < 0].tolist()
    if outside:
        warnings.append(f"{len(outside)} building(s) lie outside the community and were not counted")
    overlaps = _overlaps(frame)
    if overlaps:
        warnings.append(f"{len(overlaps)} pair(s) of buildings overlap; both were counted")
    frame[block_column] = np.where(owner >= 0, blocks[block_column].to_numpy()[np.maximum(owner, 0)], -1)
    frame[REP_X] = shapely.get_x(rep)
    frame[REP_Y] = shapely.get_y(rep)
    inside = frame[owner >= 0].reset_index(drop=True)
    return BuildingAssignment(inside, outside, dupes, overlaps, repaired, warnings)
