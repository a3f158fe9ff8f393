"""Splits and re-divisions in a rebalance repair: the region strategy on a grid's own units.

Why separate from the moves: a division runs the partition strategy (``regions``) on a sub-problem
and then decides which part keeps which old code (the part holding most of a grid's households
keeps its code; parts that continue no grid get new codes later).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridmap.partition.problem import Band, PartitionProblem
from gridmap.partition.rebalance.state import RepairState, violation
from gridmap.partition.regions.strategy import region_result_from_problem


def subproblem(problem: PartitionProblem, units: list[int]) -> PartitionProblem:
    """The problem restricted to ``units`` (edges between them only), same band."""
    idx = np.asarray(sorted(units), dtype=np.int64)
    pos = np.full(problem.n, -1, dtype=np.int64)
    pos[idx] = np.arange(len(idx))
    edges = np.asarray(problem.edges, dtype=np.int64).reshape(-1, 2)
    keep = (pos[edges[:, 0]] >= 0) & (pos[edges[:, 1]] >= 0) if len(edges) else np.zeros(0, dtype=bool)
    return PartitionProblem(
        households=problem.households[idx],
        xy_m=problem.xy_m[idx],
        area_m2=problem.area_m2[idx],
        edges=pos[edges[keep]].reshape(-1, 2),
        edge_length_m=problem.edge_length_m[keep],
        edge_cut_weight=problem.edge_cut_weight[keep],
        band=problem.band,
    )


@dataclass
class Division:
    """A trial re-division of some regions: the parts, which old region each part continues, the cost."""

    regions: list[int]
    parts: list[list[int]]
    owner: dict[int, int]
    violation: float
    moved: int


def trial(state: RepairState, regions: list[int], rng: np.random.Generator) -> Division | None:
    """Re-divide the union of ``regions`` with the region strategy; None when it cannot be divided."""
    units = sorted(set().union(*(state.members[r] for r in regions)))
    if len(units) < 2:
        return None
    labels = region_result_from_problem(subproblem(state.problem, units), rng=rng).labels
    parts = [[units[i] for i in np.flatnonzero(labels == k).tolist()] for k in np.unique(labels).tolist()]
    parts.sort(key=lambda p: (-int(state.h[p].sum()), min(p)))
    overlap = sorted(
        (-int(state.h[sorted(set(p) & state.members[o])].sum()), -len(set(p) & state.members[o]), i, o)
        for i, p in enumerate(parts)
        for o in regions
        if set(p) & state.members[o]
    )
    owner: dict[int, int] = {}
    for _, _, i, o in overlap:
        if i not in owner and o not in owner.values():
            owner[i] = o
    moved = sum(int(state.h[[u for u in p if i not in owner or u not in state.members[owner[i]]]].sum())
                for i, p in enumerate(parts))  # fmt: skip
    return Division(regions, parts, owner, sum(violation(float(state.h[p].sum()), state.band) for p in parts), moved)


def apply_division(state: RepairState, division: Division) -> None:
    """Give every part its region (old or new); regions left without units are retired."""
    before = {state.name(o): state.sums[o] for o in division.regions}
    for i, part in enumerate(division.parts):
        target = division.owner.get(i)
        if target is None:
            target = max(state.members) + 1
            state.members[target] = set()
            state.codes[target] = None
        for u in part:
            state.members[int(state.labels[u])].discard(u)
            state.labels[u] = target
            state.members[target].add(u)
    for o in list(state.members):
        if not state.members[o]:
            state.members.pop(o)
            code = state.codes.pop(o)
            if code is not None:
                state.retired.append(code)
    state.sums = {o: int(state.h[sorted(m)].sum()) for o, m in state.members.items()}
    kind = "split" if len(division.regions) == 1 else "merge_and_divide"
    state.actions.append({"action": kind, "grids": before, "parts": [int(state.h[p].sum()) for p in division.parts],
                          "households_moved": division.moved})


def feasible(total: int, band: Band) -> bool:
    """Can ``total`` households be divided into grids that are all inside the band?"""
    lo = max(1, -(-total // band.max))
    return lo <= (total // band.min if band.min > 0 else total)


def redivide(state: RepairState, r: int, rng: np.random.Generator) -> None:
    """Re-divide ``r`` together with one neighbour: the trial with least violation, then fewest
    households moved, wins, and only if it lowers the violation of the grids involved."""
    trials = [
        t
        for n in sorted(state.neighbours(r))
        if feasible(state.sums[r] + state.sums[n], state.band)
        for t in [trial(state, [r, n], rng)]
        if t is not None
    ]
    best = min(trials, key=lambda t: (t.violation - sum(violation(state.sums[o], state.band) for o in t.regions),
                                      t.moved), default=None)  # fmt: skip
    if best is not None and best.violation < sum(violation(state.sums[o], state.band) for o in best.regions):
        apply_division(state, best)
