"""Village settlements (自然村) of the rural communities: houses, lanes, a few units.

A village is a compact cluster of self-built family houses (自建房, 2-4 floors) on plots of about
16 m x 20 m (宅基地), around the village centre where the country road passes, surrounded by
farmland. A self-built house holds one household (about one in seven two: a registered second
household of the next generation, 分户), so unlike estate buildings its households do not grow
with its floors. About one village in three has a primary school, the township seat a market,
one in four a small factory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import Point, Polygon
from shapely.ops import polylabel

from gridmap.demo.estates import footprints_in
from gridmap.demo.hierarchy import AreaDraft
from gridmap.demo.names import NameFactory
from gridmap.demo.roads import GridFrame, RoadDraft
from gridmap.demo.units import _largest, _rect, _unit_record
from gridmap.model import UnitType

PLOT_AREA_M2 = 330.0  # gross settlement area per household: plot plus lanes, m²
HOUSE_FLOORS = (2, 3, 4)
HOUSE_FLOOR_WEIGHTS = (0.45, 0.4, 0.15)


def settlement_for(village: AreaDraft, households: int, rng: np.random.Generator) -> Polygon:
    """A slightly elongated blob around the village centre, big enough for ``households``.

    Twice the plot area: lanes and the country road take their share of house sites. A village
    seed close to the edge of its (clipped) cell moves to the point farthest from the edge, so
    the settlement is not cut in half by the boundary.
    """
    radius = float(np.sqrt(2.0 * households * PLOT_AREA_M2 / np.pi))
    stretch = float(rng.uniform(0.75, 1.3))
    edge = village.geometry.boundary
    centre = Point(village.anchor)
    if edge.distance(centre) < radius * 1.3 + 40.0:
        label = polylabel(village.geometry, tolerance=10.0)
        if edge.distance(label) > edge.distance(centre):
            centre = label
    blob = shapely.affinity.scale(centre.buffer(radius, quad_segs=6), stretch, 1 / stretch)
    blob = shapely.affinity.rotate(blob, float(rng.uniform(0, 180)))
    return _largest(blob.intersection(village.geometry.buffer(-40.0)))


def houses_for(
    village: AreaDraft,
    settlement: Polygon,
    angle: float,
    households: int,
    roads: list[RoadDraft],
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """House records (metres) of one village, about ``households`` households, not touching a road."""
    frame = GridFrame((settlement.centroid.x, settlement.centroid.y), angle)
    rects = footprints_in(settlement, frame, length_m=12.0, depth_m=10.0, row_gap_m=10.0, col_gap_m=4.0,
                          margin_m=2.0)
    if len(rects) == 0:
        return []
    if roads:
        tree = shapely.STRtree(np.asarray([r.geometry for r in roads], dtype=object))
        hit = tree.query(rects, predicate="dwithin", distance=4.0)[0]
        rects = np.delete(rects, np.unique(hit))
    out: list[dict[str, Any]] = []
    total = 0
    for k in rng.permutation(len(rects)).tolist():
        if total >= households:
            break
        hh = 2 if rng.random() < 0.15 else 1
        floors = int(rng.choice(HOUSE_FLOORS, p=HOUSE_FLOOR_WEIGHTS))
        out.append({"geometry": rects[k], "floors": floors, "households": hh, "community_code": village.code})
        total += hh
    return out


def village_units(
    village: AreaDraft, settlement: Polygon, houses: list[dict[str, Any]], *, seat: bool,
    rng: np.random.Generator, names: NameFactory,
) -> list[dict[str, Any]]:
    """A school (1 in 3 villages), a market (township seats), a factory (1 in 4); houses under them removed."""
    stem = village.name.removesuffix("村")
    middle = (settlement.centroid.x, settlement.centroid.y)
    frame = GridFrame(middle, float(rng.uniform(0, np.pi)))
    out: list[dict[str, Any]] = []
    wanted: list[tuple[UnitType, str, tuple[int, int], tuple[float, float], bool]] = []
    if rng.random() < 1 / 3:
        wanted.append((UnitType.SCHOOL, f"{stem}小学", (150, 500), (90.0, 70.0), True))
    if seat:
        wanted.append((UnitType.MARKET, f"{stem}集贸市场", (50, 200), (80.0, 50.0), True))
    if rng.random() < 1 / 4:
        trade = names.pick(("建材", "化工", "食品", "纺织", "机械"))
        wanted.append((UnitType.ENTERPRISE, f"鹤壁{stem}{trade}有限公司", (40, 400), (150.0, 100.0), trade == "化工"))
    for unit_type, name, persons, size, key in wanted:
        geom = _site(village, settlement, middle, frame, size, rng)
        if geom is None:
            continue
        keep_out = geom.buffer(5.0)
        houses[:] = [h for h in houses if not h["geometry"].intersects(keep_out)]
        label = names.unique(_constant(name), "village unit")
        out.append(_unit_record(geom, unit_type, label, int(rng.integers(*persons)), village.code, key, names.person()))
    return out


def _constant(text: str) -> Callable[[], str]:
    """A name maker that always proposes ``text`` (fails loudly on a duplicate instead of looping)."""
    return lambda: text


def _site(
    village: AreaDraft, settlement: Polygon, middle: tuple[float, float], frame: GridFrame, size: tuple[float, float],
    rng: np.random.Generator,
) -> Polygon | None:
    """A free site for a unit at the edge of the settlement, inside the village (None if none fits)."""
    inner = village.geometry.buffer(-30.0)
    reach = float(np.sqrt(settlement.area / np.pi)) + max(size) / 2
    for _ in range(12):
        a = rng.uniform(0, 2 * np.pi)
        cx = middle[0] + reach * np.cos(a)
        cy = middle[1] + reach * np.sin(a)
        rect = _rect(frame, float(cx), float(cy), *size)
        if rect.within(inner):
            return rect
    return None
