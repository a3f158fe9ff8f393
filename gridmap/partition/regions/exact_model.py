"""The centre/flow mixed-integer model of ``regions_exact``: the island reduction, the pair
pruning and the constraint rows.

Kept apart from ``regions_exact`` (what is asked of the solver and what the answers mean) because
this is the part that only changes when the formulation does. See ``regions_exact`` for the model
and why the reductions are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import LinearConstraint
from scipy.sparse import coo_array, csr_matrix
from scipy.sparse.csgraph import dijkstra

from gridmap.partition.problem import Band
from gridmap.partition.regions.graph import AtomGraph, IntArray

#: Tiny arc weight added so that scipy's sparse Dijkstra sees zero-household atoms as arcs.
_EPS = 1e-6

Rows = list[tuple[dict[int, float], float, float]]


@dataclass(frozen=True)
class Island:
    """An island reduced for the model: kept atoms (global ids, sorted) and where the rest go."""

    kept: IntArray  # in model order: most households first
    hh: npt.NDArray[np.float64]
    adj: list[list[int]]  # local adjacency among kept atoms
    attach: dict[int, int]  # removed global atom -> kept global atom whose region it joins


def reduce_island(graph: AtomGraph, nodes: IntArray, households: IntArray, *, drop_zero_leaves: bool) -> Island:
    """Remove zero-household leaves repeatedly (they join their one neighbour's region)."""
    members = set(nodes.tolist())
    nbrs = {v: [u for u in graph.neighbours[v] if u in members] for v in nodes.tolist()}
    attach: dict[int, int] = {}
    if drop_zero_leaves:
        alive = set(members)
        queue = [v for v in nodes.tolist() if households[v] == 0]
        while queue and len(alive) > 1:
            v = queue.pop()
            if v not in alive:
                continue
            live = [u for u in nbrs[v] if u in alive]
            if len(live) != 1:
                continue
            alive.discard(v)
            attach[v] = live[0]
            if households[live[0]] == 0:
                queue.append(live[0])
        members = alive
    # Centres are the lowest-numbered atoms of their regions: numbering the heaviest atoms first
    # makes centres the big atoms, which prunes and branches better than the input order.
    kept = np.asarray(sorted(members, key=lambda v: (-int(households[v]), v)), dtype=np.int64)
    pos = {v: i for i, v in enumerate(kept.tolist())}
    adj = [[pos[u] for u in nbrs[v] if u in pos] for v in kept.tolist()]
    for v in list(attach):  # follow chains of removed leaves to a kept atom
        root = attach[v]
        while root in attach:
            root = attach[root]
        attach[v] = root
    return Island(kept, households[kept].astype(np.float64), adj, attach)


def arcs_of(island: Island) -> tuple[IntArray, IntArray]:
    """Both directions of every edge among the kept atoms (local indices)."""
    a = np.asarray([u for u in range(len(island.kept)) for _ in island.adj[u]], dtype=np.int64)
    b = np.asarray([v for u in range(len(island.kept)) for v in island.adj[u]], dtype=np.int64)
    return a, b


def allowed_pairs(island: Island, cap: float) -> npt.NDArray[np.bool_]:
    """allowed[j, i] (i >= j): some path from centre j to atom i weighs at most ``cap`` households
    (endpoints included), so the two may share a region without exceeding ``cap``."""
    n = len(island.kept)
    upper = np.triu(np.ones((n, n), dtype=bool))
    if not math.isfinite(cap):
        return upper
    a, b = arcs_of(island)
    arcs = csr_matrix((island.hh[b] + _EPS, (a, b)), shape=(n, n))
    dist = dijkstra(arcs, directed=True) + island.hh[:, None]
    np.fill_diagonal(dist, island.hh)
    return np.asarray((dist <= cap + 0.5) & upper, dtype=bool)


def column_count(island: Island, allowed: npt.NDArray[np.bool_]) -> int:
    """Columns the model would have: one per allowed pair, one per flow arc, two slacks per centre."""
    a, b = arcs_of(island)
    both = allowed[:, a] & allowed[:, b]
    both[b, np.arange(len(b))] = False  # no flow into a region's own centre
    return int(allowed.sum()) + int(both.sum()) + 2 * len(island.kept)


class CentreFlowModel:
    """Variable layout and constraint rows of the pruned centre/flow model of one island."""

    def __init__(self, island: Island, band: Band, allowed: npt.NDArray[np.bool_]) -> None:
        self.n = len(island.kept)
        self.hh, self.adj, self.band = island.hh, island.adj, band
        self.members: list[list[int]] = [np.flatnonzero(allowed[j]).tolist() for j in range(self.n)]
        self.x: dict[tuple[int, int], int] = {}
        for j in range(self.n):
            for i in self.members[j]:
                self.x[(i, j)] = len(self.x)
        self.f: dict[tuple[int, int, int], int] = {}
        for j in range(self.n):
            inside = set(self.members[j])
            for a in self.members[j]:
                for b in self.adj[a]:
                    if b in inside and b != j:
                        self.f[(j, a, b)] = len(self.x) + len(self.f)
        self.slack0 = len(self.x) + len(self.f)  # per centre: under-min, over-max
        self.n_columns = self.slack0 + 2 * self.n

    def build(
        self, k_range: tuple[int, int], *, max_violation: float
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.float64], list[LinearConstraint]]:
        rows: Rows = []
        self._assignment_rows(rows, k_range)
        self._flow_rows(rows)
        self._band_rows(rows, max_violation)
        r_idx, c_idx, vals, lo, hi = [], [], [], [], []
        for r, (coefs, lower, upper) in enumerate(rows):
            for col, val in coefs.items():
                r_idx.append(r)
                c_idx.append(col)
                vals.append(val)
            lo.append(lower)
            hi.append(upper)
        a = coo_array((vals, (r_idx, c_idx)), shape=(len(rows), self.n_columns)).tocsr()
        integrality = np.zeros(self.n_columns, dtype=np.int64)
        integrality[: len(self.x)] = 1
        ub = np.full(self.n_columns, np.inf)
        ub[: len(self.x)] = 1.0
        c = np.zeros(self.n_columns)
        c[self.slack0 :] = 1.0
        return c, integrality, ub, [LinearConstraint(a, np.asarray(lo), np.asarray(hi))]

    def _assignment_rows(self, rows: Rows, k_range: tuple[int, int]) -> None:
        x = self.x
        for i in range(self.n):
            rows.append(({x[(i, j)]: 1.0 for j in range(i + 1) if (i, j) in x}, 1.0, 1.0))  # in one region
        for (i, j), col in x.items():
            if i == j:
                continue
            rows.append(({col: 1.0, x[(j, j)]: -1.0}, -np.inf, 0.0))  # only to open centres
            # a member other than the centre has a neighbour in the same region (valid, tightens the LP)
            support = {x[(p, j)]: -1.0 for p in self.adj[i] if (p, j) in x}
            rows.append(({col: 1.0, **support}, -np.inf, 0.0))
        rows.append(({x[(j, j)]: 1.0 for j in range(self.n)}, float(k_range[0]), float(k_range[1])))

    def _flow_rows(self, rows: Rows) -> None:
        x, f = self.x, self.f
        inflow: dict[tuple[int, int], dict[int, float]] = {}
        for (j, a, b), col in f.items():
            cap = float(len(self.members[j]) - 1)
            inflow.setdefault((j, b), {})[col] = 1.0
            if a != j:
                inflow.setdefault((j, a), {})[col] = -1.0
            rows.append(({col: 1.0, x[(b, j)]: -cap}, -np.inf, 0.0))  # flow only into members
            rows.append(({col: 1.0, x[(a, j)]: -cap}, -np.inf, 0.0))  # and only out of members
        for j in range(self.n):
            for i in self.members[j]:
                if i == j:
                    continue
                coefs = dict(inflow.get((j, i), {}))
                coefs[x[(i, j)]] = -1.0
                rows.append((coefs, 0.0, 0.0))  # net inflow = 1 for each member but the centre

    def _band_rows(self, rows: Rows, max_violation: float) -> None:
        x, band = self.x, self.band
        for j in range(self.n):
            load = {x[(i, j)]: float(self.hh[i]) for i in self.members[j]}
            under, over = self.slack0 + 2 * j, self.slack0 + 2 * j + 1
            rows.append(({**load, x[(j, j)]: load[x[(j, j)]] - band.min, under: 1.0}, 0.0, np.inf))
            rows.append(({**load, x[(j, j)]: load[x[(j, j)]] - band.max, over: -1.0}, -np.inf, 0.0))
        if math.isfinite(max_violation):
            rows.append(({self.slack0 + s: 1.0 for s in range(2 * self.n)}, 0.0, max_violation))

    def labels_from(self, solution: npt.NDArray[np.float64], nodes: IntArray, island: Island) -> IntArray:
        """Region 0..k-1 per atom of the whole island (removed leaves join their anchor's region)."""
        centre = np.full(self.n, -1, dtype=np.int64)
        for (i, j), col in self.x.items():
            if solution[col] > 0.5:
                centre[i] = j
        _, local = np.unique(centre, return_inverse=True)
        region_of = dict(zip(island.kept.tolist(), local.tolist(), strict=True))
        for v, root in island.attach.items():
            region_of[v] = region_of[root]
        return np.asarray([region_of[v] for v in nodes.tolist()], dtype=np.int64)


__all__ = ["CentreFlowModel", "Island", "allowed_pairs", "column_count", "reduce_island"]
