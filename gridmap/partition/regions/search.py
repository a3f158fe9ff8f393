"""Local search that repairs and improves region labels by moving boundary atoms.

Why: bisection gets every region connected and (nearly always) in band, but its cuts are chosen
one at a time on random trees. Moving single boundary atoms between adjacent regions fixes the
rest cheaply. A move is taken only if it lowers the score and keeps the losing region connected
(the atom is not an articulation point of its region: checked with a BFS that stops as soon as all
of the atom's same-region neighbours are reached, which on planar block graphs is usually after
a handful of steps). The score is, in decreasing order of weight: households outside the band,
squared relative deviation from the target, cut cost (in "average edges") and compactness
(moment of inertia around the region centroid, normalised so that a disc scores 1).

Everything is plain Python over lists: regions are small, moves are local, and numpy's per-call
overhead would dominate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gridmap.partition.problem import Band
from gridmap.partition.regions.graph import AtomGraph, FloatArray, IntArray

_TWO_PI = 2.0 * math.pi


@dataclass(frozen=True)
class SearchParams:
    """Weights of the local-search score; band >> balance >> cut cost >> compactness."""

    max_sweeps: int = 40
    band_weight: float = 100.0
    balance_weight: float = 1.0
    cut_weight: float = 0.004
    compact_weight: float = 0.004


@dataclass
class SearchStats:
    sweeps: int = 0
    moves: int = 0


class _Regions:
    """Running sums per region, so a move is scored in O(degree)."""

    def __init__(
        self,
        labels: list[int],
        n_regions: int,
        households: list[float],
        area: list[float],
        xy: list[tuple[float, float]],
        targets: list[float],
        band: Band,
        params: SearchParams,
    ) -> None:
        self.band = band
        self.params = params
        self.targets = targets
        self.h = [0.0] * n_regions
        self.a = [0.0] * n_regions
        self.sx = [0.0] * n_regions
        self.sy = [0.0] * n_regions
        self.sxx = [0.0] * n_regions
        self.own = [0.0] * n_regions  # sum of each atom's own inertia, as a disc: a^2 / 2pi
        self.size = [0] * n_regions
        for i, r in enumerate(labels):
            self._add(r, households[i], area[i], xy[i], 1)
        self.score = [self.region_score(r, 0.0, 0.0, (0.0, 0.0), 0) for r in range(n_regions)]

    def _add(self, r: int, h: float, a: float, xy: tuple[float, float], sign: int) -> None:
        x, y = xy
        self.h[r] += sign * h
        self.a[r] += sign * a
        self.sx[r] += sign * a * x
        self.sy[r] += sign * a * y
        self.sxx[r] += sign * a * (x * x + y * y)
        self.own[r] += sign * a * a / _TWO_PI
        self.size[r] += sign

    def region_score(self, r: int, h: float, a: float, xy: tuple[float, float], sign: int) -> float:
        """Score of region ``r`` after adding (sign=1) or removing (sign=-1) one atom."""
        p = self.params
        t = self.targets[r]
        hh = self.h[r] + sign * h
        violation = max(0.0, self.band.min - hh) + max(0.0, hh - self.band.max)
        rv = violation / t
        dev = (hh - t) / t
        score = p.band_weight * (rv + rv * rv) + p.balance_weight * dev * dev
        aa = self.a[r] + sign * a
        if aa > 0 and p.compact_weight > 0:
            x, y = xy
            sx = self.sx[r] + sign * a * x
            sy = self.sy[r] + sign * a * y
            inertia = self.sxx[r] + sign * a * (x * x + y * y) - (sx * sx + sy * sy) / aa
            inertia += self.own[r] + sign * a * a / _TWO_PI
            score += p.compact_weight * _TWO_PI * max(inertia, 0.0) / (aa * aa)
        return score

    def move(self, r_from: int, r_to: int, h: float, a: float, xy: tuple[float, float]) -> None:
        self._add(r_from, h, a, xy, -1)
        self._add(r_to, h, a, xy, 1)
        self.score[r_from] = self.region_score(r_from, 0.0, 0.0, xy, 0)
        self.score[r_to] = self.region_score(r_to, 0.0, 0.0, xy, 0)


def improve_labels(
    graph: AtomGraph,
    labels: IntArray,
    households: IntArray,
    area_m2: FloatArray,
    xy_m: FloatArray,
    *,
    targets: list[float],
    frozen_regions: list[bool],
    band: Band,
    rng: np.random.Generator,
    params: SearchParams,
    stats: SearchStats,
) -> IntArray:
    """Labels after hill-climbing single-atom moves; the number of regions never changes."""
    lab = labels.tolist()
    centred = xy_m - xy_m.mean(axis=0) if len(xy_m) else xy_m  # keeps the inertia sums well conditioned
    xy = [(float(x), float(y)) for x, y in centred]
    hh = households.astype(np.float64).tolist()
    area = area_m2.astype(np.float64).tolist()
    regions = _Regions(lab, len(targets), hh, area, xy, targets, band, params)
    movable = np.flatnonzero(~np.asarray(frozen_regions, dtype=bool)[labels])
    for _ in range(params.max_sweeps):
        stats.sweeps += 1
        moved = 0
        for v in rng.permutation(movable).tolist():
            target = _best_move(v, lab, graph, regions, frozen_regions, hh[v], area[v], xy[v])
            if target < 0 or not _stays_connected(v, lab, graph.neighbours):
                continue
            regions.move(lab[v], target, hh[v], area[v], xy[v])
            lab[v] = target
            moved += 1
        stats.moves += moved
        if moved == 0:
            break
    return np.asarray(lab, dtype=np.int64)


def _best_move(
    v: int,
    lab: list[int],
    graph: AtomGraph,
    regions: _Regions,
    frozen_regions: list[bool],
    h: float,
    a: float,
    xy: tuple[float, float],
) -> int:
    """The neighbouring region whose gain of ``v`` lowers the score most, or -1."""
    here = lab[v]
    if regions.size[here] <= 1:
        return -1
    cost_here = 0.0
    cost_to: dict[int, float] = {}
    for u, c in zip(graph.neighbours[v], graph.neighbour_costs[v], strict=True):
        r = lab[u]
        if r == here:
            cost_here += c
        elif not frozen_regions[r]:
            cost_to[r] = cost_to.get(r, 0.0) + c
    if not cost_to:
        return -1
    loss = regions.region_score(here, h, a, xy, -1) - regions.score[here]
    cut_weight = regions.params.cut_weight
    best, best_delta = -1, -1e-12
    for r, c in cost_to.items():
        delta = loss + regions.region_score(r, h, a, xy, 1) - regions.score[r] + cut_weight * (cost_here - c)
        if delta < best_delta:
            best, best_delta = r, delta
    return best


def _stays_connected(v: int, lab: list[int], neighbours: list[list[int]]) -> bool:
    """True if v's region stays connected without v (BFS that stops once v's neighbours are met)."""
    here = lab[v]
    same = [u for u in neighbours[v] if lab[u] == here]
    if len(same) <= 1:
        return True
    pending = set(same[1:])
    seen = {v, same[0]}
    frontier = [same[0]]
    while frontier:
        node = frontier.pop()
        for u in neighbours[node]:
            if u in seen or lab[u] != here:
                continue
            seen.add(u)
            pending.discard(u)
            if not pending:
                return True
            frontier.append(u)
    return False
