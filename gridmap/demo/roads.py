"""Synthetic roads of the demo district: a perturbed street grid in the urban core, lanes inside
some blocks, highways and country roads between villages, and lanes inside village settlements.

Spacing follows Chinese new-town planning: arterials (主干路) every ~600-800 m, local streets
(支路) every ~150-250 m, lanes (巷) through some blocks. All coordinates are metres in the working
CRS. Roads cut at the core ring overshoot it by ``OVERSHOOT_M`` so that noding surely joins them
(the overshoot is a dangle that polygonize drops, invisible at map scale).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from gridmap.demo.names import NameFactory
from gridmap.model import RoadClass

FloatArray = npt.NDArray[np.float64]
OVERSHOOT_M = 2.0


@dataclass(frozen=True)
class RoadDraft:
    """One road centre line (metres), its class and name (lanes may be unnamed)."""

    geometry: LineString
    road_class: RoadClass
    name: str | None


@dataclass(frozen=True)
class GridFrame:
    """The local frame of the urban street grid: origin (m) and rotation (radians, counter-clockwise)."""

    origin: tuple[float, float]
    angle: float

    def to_world(self, u: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        c, s = np.cos(self.angle), np.sin(self.angle)
        return self.origin[0] + c * u - s * v, self.origin[1] + s * u + c * v

    def to_local(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        c, s = np.cos(self.angle), np.sin(self.angle)
        dx, dy = x - self.origin[0], y - self.origin[1]
        return c * dx + s * dy, -s * dx + c * dy


def _positions(
    lo: float, hi: float, start: float, spacing: tuple[float, float], rng: np.random.Generator
) -> list[float]:
    """Positions from ``start`` outwards in both directions, gaps drawn from ``spacing`` (m)."""
    out = [start]
    p = start
    while p < hi:
        p += float(rng.uniform(*spacing))
        out.append(p)
    p = start
    while p > lo:
        p -= float(rng.uniform(*spacing))
        out.append(p)
    return sorted(out)


def _wobbly_line(
    frame: GridFrame, fixed: float, lo: float, hi: float, *, along_u: bool, amp_m: float, rng: np.random.Generator
) -> LineString:
    """A grid line at ``fixed`` from ``lo`` to ``hi`` with a smooth sideways wobble of ~``amp_m``."""
    t = np.linspace(lo, hi, max(3, int((hi - lo) / 80.0)))
    phase = rng.uniform(0, 2 * np.pi, 2)
    wave = amp_m * (0.7 * np.sin(t / 450.0 + phase[0]) + 0.3 * np.sin(t / 170.0 + phase[1]))
    u, v = (t, fixed + wave) if along_u else (fixed + wave, t)
    x, y = frame.to_world(u, v)
    return LineString(np.column_stack([x, y]))


def _clip(line: LineString, region: BaseGeometry, min_length_m: float) -> list[LineString]:
    parts = shapely.get_parts(shapely.intersection(line, region))
    return [p for p in parts if p.geom_type == "LineString" and p.length >= min_length_m]


def urban_grid(
    core: Polygon, frame: GridFrame, rng: np.random.Generator, names: NameFactory
) -> list[RoadDraft]:
    """Arterials every 600-800 m and local streets every 150-250 m across ``core``, plus the ring road."""
    ring = core.exterior
    region = core.buffer(OVERSHOOT_M)
    xs, ys = np.asarray(ring.xy[0]), np.asarray(ring.xy[1])
    u, v = frame.to_local(xs, ys)
    lo_u, hi_u, lo_v, hi_v = u.min() - 50, u.max() + 50, v.min() - 50, v.max() + 50
    roads: list[RoadDraft] = [RoadDraft(LineString(ring.coords), RoadClass.ARTERIAL, names.road("arterial"))]
    for along_u in (True, False):
        lo, hi = (lo_v, hi_v) if along_u else (lo_u, hi_u)
        span_lo, span_hi = (lo_u, hi_u) if along_u else (lo_v, hi_v)
        arterials = [p for p in _positions(lo, hi, float(rng.uniform(-150, 150)), (600, 800), rng) if lo < p < hi]
        fixed: list[tuple[float, RoadClass]] = [(p, RoadClass.ARTERIAL) for p in arterials]
        bounds = [lo, *arterials, hi]
        for a, b in itertools.pairwise(bounds):
            pieces = max(1, round((b - a) / rng.uniform(170, 230)))
            for k in range(1, pieces):
                jitter = float(rng.uniform(-15, 15))
                fixed.append((a + (b - a) * k / pieces + jitter, RoadClass.LOCAL))
        for pos, cls in sorted(fixed, key=lambda item: item[0]):
            amp = 6.0 if cls is RoadClass.ARTERIAL else 12.0
            line = _wobbly_line(frame, pos, span_lo, span_hi, along_u=along_u, amp_m=amp, rng=rng)
            name = names.road("arterial" if cls is RoadClass.ARTERIAL else "local")
            roads.extend(RoadDraft(part, cls, name) for part in _clip(line, region, 60.0))
    return roads


def lanes_in_blocks(
    blocks: list[Polygon], frame: GridFrame, rng: np.random.Generator, names: NameFactory, *, share: float = 0.35
) -> list[RoadDraft]:
    """A lane across the middle of about ``share`` of the blocks bigger than 2.5 ha, along the short axis.

    The lane is cut from the block and extended by ``OVERSHOOT_M`` at both ends so it surely
    meets the surrounding streets when noded.
    """
    lanes: list[RoadDraft] = []
    for block in blocks:
        if block.area < 25_000 or rng.random() >= share:
            continue
        cx, cy = block.centroid.x, block.centroid.y
        bu, bv = frame.to_local(*(np.asarray(c) for c in block.exterior.xy))
        along_v = (bu.max() - bu.min()) > (bv.max() - bv.min())  # cut the long side in half
        cu, cv = frame.to_local(np.array([cx]), np.array([cy]))
        span = 2.0 * float(max(bu.max() - bu.min(), bv.max() - bv.min()))
        t = np.array([-span, span])
        u = np.full(2, cu[0]) if along_v else cu[0] + t
        v = cv[0] + t if along_v else np.full(2, cv[0])
        x, y = frame.to_world(u, v)
        cut = shapely.intersection(LineString(np.column_stack([x, y])), block)
        for part in shapely.get_parts(cut):
            if part.geom_type != "LineString" or part.length < 40:
                continue
            coords = np.asarray(part.coords)
            d = coords[-1] - coords[0]
            d = d / np.hypot(*d)
            coords[0] -= d * OVERSHOOT_M
            coords[-1] += d * OVERSHOOT_M
            name = names.road("lane") if rng.random() < 0.6 else None
            lanes.append(RoadDraft(LineString(coords), RoadClass.LANE, name))
    return lanes


def _meander(a: FloatArray, b: FloatArray, rng: np.random.Generator, *, amp_share: float = 0.06) -> LineString:
    """A country road from ``a`` to ``b`` that bends a little (midpoint displacement, 2 levels)."""
    pts = [a, b]
    for level in range(2):
        new = [pts[0]]
        for p, q in itertools.pairwise(pts):
            d = q - p
            normal = np.array([-d[1], d[0]])
            mid = (p + q) / 2 + normal * rng.normal(0, amp_share / (level + 1))
            new.extend([mid, q])
        pts = new
    return LineString(np.asarray(pts))


def rural_roads(
    district: Polygon,
    core: Polygon,
    villages_xy: FloatArray,
    seats: list[int],
    rng: np.random.Generator,
    names: NameFactory,
) -> list[RoadDraft]:
    """Highways (arterial) from the core ring to each township seat; country roads (local) joining villages.

    Country roads are the minimum spanning tree of the villages' Delaunay graph plus the core, so
    every village is reachable; everything is clipped to the district.
    """
    centre = np.array([core.centroid.x, core.centroid.y])
    roads: list[RoadDraft] = []
    region = district.buffer(-1.0)
    for s in seats:
        target = villages_xy[s]
        start = np.asarray(shapely.get_coordinates(core.exterior.interpolate(core.exterior.project(
            shapely.Point(*target)))))[0]
        line = _meander(start, target, rng, amp_share=0.03)
        name = names.road("arterial")
        roads.extend(RoadDraft(p, RoadClass.ARTERIAL, name) for p in _clip(line, region, 50.0))
    nodes = np.vstack([centre, villages_xy])
    if len(nodes) >= 3:
        tri = Delaunay(nodes)
        edges = {tuple(sorted((int(a), int(b)))) for simplex in tri.simplices for a, b in
                 ((simplex[0], simplex[1]), (simplex[1], simplex[2]), (simplex[0], simplex[2]))}
    else:
        edges = {(0, 1)} if len(nodes) == 2 else set()
    pairs = np.array(sorted(edges), dtype=np.int64).reshape(-1, 2)
    if len(pairs):
        length = np.hypot(*(nodes[pairs[:, 0]] - nodes[pairs[:, 1]]).T)
        graph = coo_matrix((length, (pairs[:, 0], pairs[:, 1])), shape=(len(nodes), len(nodes)))
        tree = minimum_spanning_tree(graph).tocoo()
        for a, b in sorted(zip(tree.row.tolist(), tree.col.tolist(), strict=True)):
            line = _meander(nodes[a], nodes[b], rng)
            cut = shapely.difference(line, core) if a == 0 or b == 0 else line
            name = names.road("country")
            for part in shapely.get_parts(cut):
                roads.extend(RoadDraft(p, RoadClass.LOCAL, name) for p in _clip(part, region, 50.0))
    return roads


def village_lanes(settlement: Polygon, angle: float, rng: np.random.Generator, *, spacing_m: float = 70.0) -> list[
    RoadDraft
]:
    """A small grid of lanes through a village settlement (``spacing_m`` apart), unnamed."""
    frame = GridFrame((settlement.centroid.x, settlement.centroid.y), angle)
    xs, ys = (np.asarray(c) for c in settlement.exterior.xy)
    u, v = frame.to_local(xs, ys)
    lanes: list[RoadDraft] = []
    region = settlement.buffer(15.0)
    for along_u in (True, False):
        lo, hi = (v.min(), v.max()) if along_u else (u.min(), u.max())
        span = (u.min() - 20, u.max() + 20) if along_u else (v.min() - 20, v.max() + 20)
        offset = float(rng.uniform(0, spacing_m))
        for pos in np.arange(lo + offset, hi, spacing_m):
            line = _wobbly_line(frame, float(pos), span[0], span[1], along_u=along_u, amp_m=4.0, rng=rng)
            lanes.extend(RoadDraft(p, RoadClass.LANE, None) for p in _clip(line, region, 30.0))
    return lanes
