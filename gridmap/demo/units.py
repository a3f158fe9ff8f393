"""Units (单位) of the demo: schools, hospitals, markets, parks, office towers, enterprises.

They are the candidates for dedicated grids (专属网格, P-29), and markets and schools are where
incidents cluster. Counts follow the number of urban communities (a primary school per ~2.5
communities, a hospital per ~6...); each unit takes a whole urban block, except office towers
(two footprints) and markets in big blocks (a 90 m x 60 m hall, the rest stays residential).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon

from gridmap.demo.names import NameFactory
from gridmap.demo.params import SYNTHETIC_SOURCE
from gridmap.demo.roads import GridFrame
from gridmap.model import UnitType

SETBACK_M = 8.0  # from the road centre line to the block's usable edge (half a street plus pavement)
#: Units are not put where they would leave a community less than this for housing (m², ~1,500 households).
MIN_HOUSING_M2 = 150_000.0


@dataclass
class UrbanBlock:
    """A block of the urban street grid (metres) and what it is used for."""

    geometry: Polygon
    community_code: str
    use: str = "estate"  # estate | unit | vacant
    #: Part of the block still free for an estate (None = the whole shrunk block).
    residual: Polygon | None = None
    units: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class UnitRule:
    """How many units of a type per urban community, how big a block they need (m²), how far
    apart they stay (m), their persons and name suffixes, and whether they are key units (重点单位)."""

    unit_type: UnitType
    per_community: float  # units per urban community
    min_area_m2: float
    min_spacing_m: float
    persons: tuple[int, int]
    suffixes: tuple[str, ...]
    key_unit: bool


URBAN_RULES: tuple[UnitRule, ...] = (
    UnitRule(UnitType.HOSPITAL, 1 / 6, 15_000, 1200, (400, 1500), ("医院", "人民医院", "中医院"), True),
    UnitRule(UnitType.SCHOOL, 1 / 5, 18_000, 900, (1200, 3000), ("中学", "实验中学"), True),
    UnitRule(UnitType.SCHOOL, 1 / 2.5, 12_000, 600, (600, 1800), ("小学", "实验小学"), True),
    UnitRule(UnitType.MARKET, 1 / 2, 5_000, 500, (80, 300), ("农贸市场", "菜市场"), True),
    UnitRule(UnitType.PARK, 1 / 3, 15_000, 700, (8, 40), ("公园", "游园"), False),
    UnitRule(UnitType.ENTERPRISE, 1 / 10, 20_000, 400, (150, 1500), ("机械有限公司", "食品有限公司", "电子有限公司"),
             False),
)
OFFICE_PERSONS = (600, 2500)


def _unit_record(
    geometry: Polygon, rule_type: UnitType, name: str, persons: int, community_code: str, key: bool, manager: str
) -> dict[str, Any]:
    return {
        "name": name,
        "unit_type": rule_type.value,
        "persons": persons,
        "households": None,
        "community_code": community_code,
        "responsible_person": manager,
        "key_unit": key,
        "synthetic": True,
        "source": SYNTHETIC_SOURCE,
        "geometry": geometry,
    }


def _free_area(blocks: list[UrbanBlock]) -> dict[str, float]:
    """Per community, the area (m²) of blocks still free for estates."""
    out: dict[str, float] = {}
    for b in blocks:
        if b.use == "estate" and b.residual is None:
            out[b.community_code] = out.get(b.community_code, 0.0) + b.geometry.area
    return out


def _pick_block(
    blocks: list[UrbanBlock], rule: UnitRule, placed: list[tuple[float, float]], rng: np.random.Generator
) -> int | None:
    """A free block big enough, preferring ones ``min_spacing_m`` from the same type (spread out)
    and in communities that keep at least ``MIN_HOUSING_M2`` of blocks for housing."""
    free = [i for i, b in enumerate(blocks) if b.use == "estate" and b.geometry.area >= rule.min_area_m2]
    if not free:
        return None
    order = [free[k] for k in rng.permutation(len(free))]
    housing = _free_area(blocks)
    roomy = [i for i in order if housing[blocks[i].community_code] - blocks[i].geometry.area >= MIN_HOUSING_M2]
    for i in roomy:
        c = blocks[i].geometry.centroid
        if all(np.hypot(c.x - x, c.y - y) >= rule.min_spacing_m for x, y in placed):
            return i
    return (roomy or order)[0]


def _rect(frame: GridFrame, cx: float, cy: float, length_m: float, depth_m: float) -> Polygon:
    u0, v0 = frame.to_local(np.array([cx]), np.array([cy]))
    du = np.array([-1, 1, 1, -1]) * length_m / 2
    dv = np.array([-1, -1, 1, 1]) * depth_m / 2
    x, y = frame.to_world(u0[0] + du, v0[0] + dv)
    return Polygon(np.column_stack([x, y]))


def place_urban_units(
    blocks: list[UrbanBlock], frame: GridFrame, core_centre: tuple[float, float], rng: np.random.Generator,
    names: NameFactory, *, n_communities: int,
) -> list[dict[str, Any]]:
    """Assign blocks to units (by the rules above) and return the unit records (metres)."""
    units: list[dict[str, Any]] = []
    for rule in URBAN_RULES:
        placed: list[tuple[float, float]] = []
        for _ in range(max(1, round(n_communities * rule.per_community))):
            i = _pick_block(blocks, rule, placed, rng)
            if i is None:
                break
            block = blocks[i]
            shrunk = _largest(block.geometry.buffer(-SETBACK_M))
            c = shrunk.point_on_surface()
            placed.append((c.x, c.y))
            geom = shrunk
            if rule.unit_type is UnitType.MARKET and shrunk.area > 12_000:
                hall = _rect(frame, c.x, c.y, 90.0, 60.0)
                if hall.within(shrunk):
                    geom = hall
                    block.residual = _largest(shrunk.difference(hall.buffer(SETBACK_M)))
            block.use = "estate" if block.residual is not None else "unit"
            name = names.place(rule.suffixes, rule.unit_type.value)
            persons = int(rng.integers(*rule.persons))
            units.append(_unit_record(geom, rule.unit_type, name, persons, block.community_code, rule.key_unit,
                                      names.person()))
    units.extend(_office_towers(blocks, frame, core_centre, rng, names, n_blocks=max(1, round(n_communities / 8))))
    return units


def _office_towers(
    blocks: list[UrbanBlock], frame: GridFrame, core_centre: tuple[float, float], rng: np.random.Generator,
    names: NameFactory, *, n_blocks: int,
) -> list[dict[str, Any]]:
    """Two office towers in each of the ``n_blocks`` free blocks nearest the core centre (the CBD)."""
    free = [i for i, b in enumerate(blocks) if b.use == "estate" and b.residual is None and b.geometry.area > 15_000]
    dist = [np.hypot(blocks[i].geometry.centroid.x - core_centre[0], blocks[i].geometry.centroid.y - core_centre[1])
            for i in free]
    out: list[dict[str, Any]] = []
    taken = 0
    for i in [free[k] for k in np.argsort(dist, kind="stable")]:
        block = blocks[i]
        if taken == n_blocks:
            break
        if _free_area(blocks)[block.community_code] - block.geometry.area < MIN_HOUSING_M2:
            continue
        taken += 1
        block.use = "unit"
        shrunk = _largest(block.geometry.buffer(-SETBACK_M - 10.0))
        c = shrunk.point_on_surface()
        for du in (-35.0, 35.0):
            u0, v0 = frame.to_local(np.array([c.x]), np.array([c.y]))
            x, y = frame.to_world(u0 + du, v0)
            tower = _rect(frame, float(x[0]), float(y[0]), 40.0, 32.0)
            if not tower.within(shrunk):
                continue
            name = names.place(("大厦", "国际中心", "商务中心"), "office")
            out.append(_unit_record(tower, UnitType.OFFICE_TOWER, name, int(rng.integers(*OFFICE_PERSONS)),
                                    block.community_code, False, names.person()))
    return out


def _largest(geom: Any) -> Polygon:
    """The biggest polygon of ``geom`` (a negative buffer of a thin block can fall apart)."""
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    if not parts:
        return Polygon()
    return max(parts, key=lambda p: p.area)
