"""Residential estates (小区) in urban blocks, and their buildings (楼栋).

Three generations of housing, as in a Chinese new town:
  * old (老旧小区, 1980s-90s work-unit or self-managed): 6-7 floor walk-up slabs;
  * mid (2000s managed estates): 11-18 floor slabs;
  * high (2010s): 18-33 floor towers.
Buildings stand in rows facing south (rows run along the street grid), spaced for daylight.
Households of a building = dwellings per floor x floors. Each urban community is then
calibrated towards its household target (1,500-5,000) by adjusting floors within the type's
range, and by leaving some buildings out when even the lowest floors give too many.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Polygon

from gridmap.demo.names import NameFactory
from gridmap.demo.params import SYNTHETIC_SOURCE
from gridmap.demo.roads import GridFrame
from gridmap.demo.units import SETBACK_M, UrbanBlock, _largest


@dataclass(frozen=True)
class BuildingType:
    """A housing type: footprint (m), floors and dwellings per floor ranges, daylight spacing (m)."""

    kind: str
    length_m: tuple[float, float]
    depth_m: tuple[float, float]
    floors: tuple[int, int]
    dwellings_per_floor: tuple[int, int]
    row_gap_m: float  # gap between rows (daylight spacing), metres
    col_gap_m: float
    share: float  # share of estates of this type


BUILDING_TYPES: tuple[BuildingType, ...] = (
    BuildingType("old", (48, 60), (11, 12.5), (6, 7), (6, 8), 22.0, 10.0, 0.3),
    BuildingType("mid", (36, 50), (13, 15), (11, 18), (4, 6), 38.0, 14.0, 0.35),
    BuildingType("high", (26, 32), (20, 24), (18, 33), (4, 6), 55.0, 22.0, 0.35),
)


def footprints_in(
    poly: Polygon, frame: GridFrame, *, length_m: float, depth_m: float, row_gap_m: float, col_gap_m: float,
    margin_m: float = 5.0,
) -> npt.NDArray[np.object_]:
    """Rectangles ``length_m`` x ``depth_m`` in rows along the street grid that fit inside ``poly``."""
    if poly.is_empty:
        return np.asarray([], dtype=object)
    u, v = frame.to_local(*(np.asarray(c) for c in poly.exterior.xy))
    us = np.arange(u.min() + margin_m + length_m / 2, u.max() - margin_m - length_m / 2 + 1e-6, length_m + col_gap_m)
    vs = np.arange(v.min() + margin_m + depth_m / 2, v.max() - margin_m - depth_m / 2 + 1e-6, depth_m + row_gap_m)
    if len(us) == 0 or len(vs) == 0:
        return np.asarray([], dtype=object)
    uu, vv = (a.ravel() for a in np.meshgrid(us, vs))
    du = np.array([-1, 1, 1, -1, -1]) * length_m / 2
    dv = np.array([-1, -1, 1, 1, -1]) * depth_m / 2
    x, y = frame.to_world(uu[:, None] + du[None, :], vv[:, None] + dv[None, :])
    rects = np.asarray(shapely.polygons(np.stack([x, y], axis=-1)), dtype=object)
    inner = poly.buffer(-margin_m)
    return np.asarray(rects[shapely.contains(inner, rects)], dtype=object)


def _estate_buildings(
    poly: Polygon, frame: GridFrame, btype: BuildingType, rng: np.random.Generator
) -> list[dict[str, Any]]:
    length = float(rng.uniform(*btype.length_m))
    depth = float(rng.uniform(*btype.depth_m))
    rects = footprints_in(poly, frame, length_m=length, depth_m=depth, row_gap_m=btype.row_gap_m,
                          col_gap_m=btype.col_gap_m)
    if len(rects) == 0 and btype.kind != "old":
        rects = footprints_in(poly, frame, length_m=length * 0.7, depth_m=depth, row_gap_m=btype.row_gap_m * 0.8,
                              col_gap_m=btype.col_gap_m)
    upf = int(rng.integers(btype.dwellings_per_floor[0], btype.dwellings_per_floor[1] + 1))
    return [
        {"geometry": r, "floors": int(rng.integers(btype.floors[0], btype.floors[1] + 1)), "per_floor": upf,
         "kind": btype.kind}
        for r in rects
    ]


def estates_in_blocks(
    blocks: list[UrbanBlock], frame: GridFrame, rng: np.random.Generator, names: NameFactory
) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """Estate records and, per estate, its draft buildings (not yet calibrated or numbered)."""
    estates: list[dict[str, Any]] = []
    buildings: list[list[dict[str, Any]]] = []
    shares = np.array([t.share for t in BUILDING_TYPES])
    for block in blocks:
        if block.use != "estate":
            continue
        poly = block.residual if block.residual is not None else _largest(block.geometry.buffer(-SETBACK_M))
        if poly.is_empty or poly.area < 3_000:
            block.use = "vacant"
            continue
        btype = BUILDING_TYPES[int(rng.choice(len(BUILDING_TYPES), p=shares / shares.sum()))]
        drafts = _estate_buildings(poly, frame, btype, rng)
        if not drafts:
            block.use = "vacant"
            continue
        name = names.estate(old=btype.kind == "old")
        kind = "managed"
        if btype.kind == "old":
            kind = "work_unit" if name.endswith(("家属院", "宿舍区")) else "self_managed"
        estates.append({"name": name, "kind": kind, "age": btype.kind, "community_code": block.community_code,
                        "synthetic": True, "source": SYNTHETIC_SOURCE, "geometry": poly})
        buildings.append(drafts)
    return estates, buildings


def _households(drafts: list[dict[str, Any]]) -> int:
    return int(sum(d["floors"] * d["per_floor"] for d in drafts))


def calibrate_households(
    drafts: list[dict[str, Any]], target: int, rng: np.random.Generator, *, tolerance: float = 0.1
) -> list[dict[str, Any]]:
    """Adjust the buildings of one community so they hold about ``target`` households.

    1. When even the top floors cannot reach ``target``, estates are rebuilt one type denser
       (old walk-ups as mid-rise, mid-rise as high-rise, as many were in the 2000s-2010s),
       estate by estate, lowest type first, in random order within a type.
    2. Floors are scaled by target / current, clipped to each type's range (three rounds).
    3. If the lowest floors still give more than ``target * (1 + tolerance)``, random buildings
       are left out (the land stays open space), never the last building of an estate.
    """
    limits = {t.kind: t.floors for t in BUILDING_TYPES}
    _densify(drafts, target, limits, rng)
    for _ in range(3):
        current = _households(drafts)
        if current == 0 or abs(current - target) <= tolerance * target / 2:
            break
        ratio = target / current
        for d in drafts:
            lo, hi = limits[d["kind"]]
            d["floors"] = int(np.clip(round(d["floors"] * ratio), lo, hi))
    return _thin_out(drafts, target * (1 + tolerance), rng)


MAX_DWELLINGS_PER_FLOOR = 8  # 一梯八户: the densest common tower layout


def _densify(
    drafts: list[dict[str, Any]], target: int, limits: dict[str, tuple[int, int]], rng: np.random.Generator
) -> None:
    """Upgrade estates one type (old -> mid -> high) until the top floors could hold ``target``;
    if even that is short, add dwellings per floor (up to 8)."""
    denser = {"old": "mid", "mid": "high"}
    for kind in ("old", "mid"):
        estates = sorted({d["estate"] for d in drafts if d["kind"] == kind})
        for k in rng.permutation(len(estates)).tolist():
            if sum(d["per_floor"] * limits[d["kind"]][1] for d in drafts) >= target:
                return
            new = denser[kind]
            for d in drafts:
                if d["estate"] == estates[k]:
                    d["kind"] = new
                    d["floors"] = int(rng.integers(limits[new][0], limits[new][1] + 1))
    while sum(d["per_floor"] * limits[d["kind"]][1] for d in drafts) < target:  # more dwellings per floor
        smaller = [d for d in drafts if d["per_floor"] < MAX_DWELLINGS_PER_FLOOR]
        if not smaller:
            return
        for d in smaller:
            d["per_floor"] += 1


def _thin_out(drafts: list[dict[str, Any]], ceiling: float, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Leave out random buildings until the households are at most ``ceiling`` (keep one per estate)."""
    per_estate: dict[int, int] = {}
    for d in drafts:
        per_estate[d["estate"]] = per_estate.get(d["estate"], 0) + 1
    total = _households(drafts)
    drop: set[int] = set()
    for k in rng.permutation(len(drafts)).tolist():
        if total <= ceiling:
            break
        d = drafts[k]
        if per_estate[d["estate"]] > 1:
            drop.add(k)
            per_estate[d["estate"]] -= 1
            total -= d["floors"] * d["per_floor"]
    return [d for k, d in enumerate(drafts) if k not in drop]
