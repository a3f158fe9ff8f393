"""Repair of regions left outside the band: merge with neighbours and re-split (a ReCom step).

Why: single-atom moves get stuck when a region misses the band by less than any boundary atom
it could trade (e.g. 299 households next to neighbours at 300). Re-drawing the boundary of the
region and one or two neighbours from scratch, on fresh random spanning trees, escapes that. The
group keeps its number of regions, so an exact ``n_grids`` stays exact; a new split is taken only
if it lowers the households outside the band, and it is connected by construction.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from gridmap.partition.problem import Band
from gridmap.partition.regions.bisection import BisectParams, BisectStats, parts_from_component
from gridmap.partition.regions.graph import AtomGraph, IntArray


@dataclass
class RepairStats:
    attempts: int = 0
    repaired: int = 0


def repair_out_of_band(
    graph: AtomGraph,
    labels: IntArray,
    households: IntArray,
    band: Band,
    *,
    frozen_regions: list[bool],
    rng: np.random.Generator,
    params: BisectParams,
    stats: RepairStats,
    max_group: int = 3,
    max_resplits: int | None = None,
) -> IntArray:
    """Labels with as many out-of-band regions fixed as merge-and-resplit can manage, trying at
    most ``max_resplits`` groups (None: every group around every region out of band)."""
    labels = labels.copy()
    k = len(frozen_regions)
    # Many small re-splits: fewer trees each (a group that resists 12 trees rarely yields to 40).
    params = dataclasses.replace(params, max_tree_attempts=min(params.max_tree_attempts, 12), trees_per_split=1)
    tried = 0
    for r in range(k):
        if frozen_regions[r] or _violation(_sum_of(labels, households, [r]), band) == 0:
            continue
        for group in _groups_around(r, labels, graph, frozen_regions, max_group):
            if max_resplits is not None and tried >= max_resplits:
                return labels
            tried += 1
            stats.attempts += 1
            if _resplit(group, labels, households, band, graph, rng=rng, params=params):
                stats.repaired += 1
                break
    return labels


def _sum_of(labels: IntArray, households: IntArray, regions: list[int]) -> list[float]:
    return [float(households[labels == r].sum()) for r in regions]


def _violation(sums: list[float], band: Band) -> float:
    return sum(max(0.0, band.min - s) + max(0.0, s - band.max) for s in sums)


def _neighbour_regions(regions: list[int], labels: IntArray, graph: AtomGraph, frozen: list[bool]) -> list[int]:
    """Regions adjacent to any of ``regions``, most shared edges first (then by label, for determinism)."""
    inside = np.isin(labels, regions)
    lu, lv = labels[graph.u], labels[graph.v]
    cross = inside[graph.u] != inside[graph.v]
    outside = np.where(inside[graph.u[cross]], lv[cross], lu[cross])
    counts = np.bincount(outside, minlength=len(frozen))
    found = [int(q) for q in np.flatnonzero(counts) if not frozen[q]]
    return sorted(found, key=lambda q: (-counts[q], q))


def _groups_around(r: int, labels: IntArray, graph: AtomGraph, frozen: list[bool], max_group: int) -> list[list[int]]:
    """Groups of 2..max_group adjacent regions containing ``r``: pairs first, then triples."""
    first = _neighbour_regions([r], labels, graph, frozen)
    groups = [[r, q] for q in first]
    if max_group >= 3:
        for q in first[:4]:
            groups.extend([r, q, p] for p in _neighbour_regions([r, q], labels, graph, frozen)[:3])
    return groups


def _resplit(
    group: list[int],
    labels: IntArray,
    households: IntArray,
    band: Band,
    graph: AtomGraph,
    *,
    rng: np.random.Generator,
    params: BisectParams,
) -> bool:
    """Re-split the union of ``group`` into as many regions; keep it if the band violation drops."""
    before = _violation(_sum_of(labels, households, group), band)
    total = float(households[np.isin(labels, group)].sum())
    if _violation([total / len(group)], band) > 0:
        return False  # no split of this group can be in band on average
    nodes = np.flatnonzero(np.isin(labels, group))
    parts = parts_from_component(graph, nodes, len(group), households, band, rng=rng, params=params,
                                 stats=BisectStats())  # fmt: skip
    after = _violation([float(households[p].sum()) for p in parts], band)
    if after >= before:
        return False
    for label, part in zip(sorted(group), parts, strict=True):
        labels[part] = label
    return True
