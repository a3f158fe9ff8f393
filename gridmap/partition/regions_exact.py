"""Exact regions for small islands: a mixed-integer model solved by HiGHS (``scipy.optimize.milp``).

Why: when atoms are coarse (a community of 20 estates of 70-450 households each), spanning-tree
cuts and single-atom moves can leave grids out of band although a better grouping exists, and no
heuristic can say whether the band is reachable at all. For islands of a few dozen atoms an exact
model settles it: it finds a grouping with fewer households outside the band than the heuristic's,
or *proves* that none exists. That proof is what lets a flag say "proved infeasible" instead of
"the heuristic found nothing better".

Model (centres + flows, after Shirabe 2005 / Validi & Buchanan 2022): ``x[i, j] = 1`` puts atom
``i`` in the region whose centre is atom ``j``, the lowest-numbered atom of its region (``i >= j``,
which also removes symmetric copies). Contiguity: the centre sends one unit of flow to every atom
of its region along edges between atoms of that region. The objective is the households outside
the band (slack below ``band.min`` plus above ``band.max``); balance and compactness are left to
the local search that runs afterwards, because optimising them here would make proofs slow.

What keeps the model small (all reductions are exact):

* zero-household atoms hanging off the island (leaves, repeatedly) are set aside and later join
  their neighbour's region: they can never help a region reach the band;
* with an incumbent of ``V`` households outside the band, only solutions with at most ``V - 1``
  are sought, so no region may exceed ``band.max + V - 1`` households; atom ``i`` can then share a
  region with centre ``j`` only if some path from ``j`` to ``i`` weighs at most that (every atom on
  the path would be in the region). On estate-sized atoms this removes most pairs.

The search is deterministic: HiGHS is stopped by a node limit (a time limit stays as a safety net
and is reported when it fires).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import LinearConstraint, milp
from scipy.sparse import coo_array, csr_matrix
from scipy.sparse.csgraph import dijkstra

from gridmap.partition.problem import Band
from gridmap.partition.regions_graph import AtomGraph, IntArray

#: Tiny arc weight added so that scipy's sparse Dijkstra sees zero-household atoms as arcs.
_EPS = 1e-6

Rows = list[tuple[dict[int, float], float, float]]


@dataclass(frozen=True)
class ExactParams:
    """Which islands get the exact model and how long it may search (deterministic node limit)."""

    #: Islands with more atoms than this (after removing zero-household leaves) are not tried (the
    #: pruning needs all pairwise path weights: an atoms x atoms matrix).
    max_atoms: int = 400
    #: Largest model: allowed (atom, centre) pairs plus flow arcs. Coarse islands (estates of
    #: 100-480 households) prune to a few columns per atom; fine ones (blocks of 20-120) do not.
    max_columns: int = 12_000
    #: Models up to this size are asked right after the first heuristic attempt; larger ones only
    #: after the restarts and repair windows failed (finding a feasible grouping is where a large
    #: model is slow, and where the heuristic is good).
    early_columns: int = 2500
    #: Branch-and-bound nodes: ``node_work // columns``, between ``min_nodes`` and ``node_limit``
    #: (bigger models get fewer nodes, so the effort stays bounded and deterministic).
    node_limit: int = 4000
    node_work: int = 2_000_000
    min_nodes: int = 100
    #: Safety net only (a run stopped by it is reported as such; results may then vary by machine).
    time_limit_s: float = 20.0
    #: Solves in one ``least_violation`` ladder at most, and the largest model after the first.
    ladder_steps: int = 12
    ladder_columns: int = 4000

    def nodes_for(self, columns: int) -> int:
        return int(min(self.node_limit, max(self.min_nodes, self.node_work // max(columns, 1))))


@dataclass(frozen=True)
class ExactResult:
    """What the model found for one island.

    ``labels`` (region 0..k-1 per island atom) is None when no grouping better than the upper bound
    exists or none was found within the limits. ``violation`` is the households outside the band of
    the best grouping known (found here, or the upper bound). ``proven``: no grouping does better.
    """

    labels: IntArray | None
    violation: float
    proven: bool
    status: str  # "optimal" | "bound_is_optimal" | "node_limit" | "time_limit" | "too_large"


@dataclass(frozen=True)
class ExactVerdict:
    """What a ladder of exact solves established about one island (see :func:`least_violation`).

    ``lower_bound``: proved, no grouping leaves fewer households outside the band (> 0 means the
    band is proved unreachable). ``violation``: households outside the band of the best grouping
    known (``labels`` when the model found it, else the incumbent's). ``status``: the last solve's.
    """

    labels: IntArray | None
    violation: float
    lower_bound: float
    status: str
    solves: int

    @property
    def proven(self) -> bool:
        """The best grouping known is optimal: nothing leaves fewer households outside the band."""
        return self.violation <= self.lower_bound

    @property
    def infeasible(self) -> bool:
        """Proved: no grouping keeps every region in band."""
        return self.lower_bound > 0


def least_violation(
    graph: AtomGraph,
    nodes: IntArray,
    households: IntArray,
    band: Band,
    *,
    k_range: tuple[int, int],
    params: ExactParams,
    incumbent: float,
) -> ExactVerdict:
    """Fewest households outside the band for one island, by a ladder of bounded exact solves.

    Why a ladder: "is there a grouping with fewer than ``b`` households outside?" prunes hard for
    small ``b`` (no region may exceed ``band.max + b - 1``), so ``b = 1`` (is the band reachable at
    all?) is answered in milliseconds even on islands of hundreds of coarse atoms, while one solve
    bounded only by a poor ``incumbent`` can take minutes. ``b`` doubles while the answer is "no"
    (each "no" proves a lower bound); the first "yes" solved to optimality is the minimum. The ladder
    stops at the incumbent, at a model too large or at a node limit; what is proved so far stands.
    """
    lower, best, labels, status, solves = 0.0, float(incumbent), None, "", 0
    b = 1.0
    later = dataclasses.replace(params, max_columns=min(params.max_columns, params.ladder_columns))
    while b <= best and solves < params.ladder_steps:
        step = params if solves == 0 else later  # the first question (is the band reachable?) matters most
        res = exact_regions(graph, nodes, households, band, k_range=k_range, params=step, upper_bound=b)
        solves, status = solves + 1, res.status
        if res.status == "bound_is_optimal":
            lower = b
            if b >= best:
                break
            b = min(2.0 * b, best)
            continue
        if res.labels is not None and res.violation < best:
            best, labels = res.violation, res.labels
            if res.proven:
                lower = res.violation
        break
    return ExactVerdict(labels, best, min(lower, best), status, solves)


@dataclass(frozen=True)
class _Island:
    """An island reduced for the model: kept atoms (global ids, sorted) and where the rest go."""

    kept: IntArray  # in model order: most households first
    hh: npt.NDArray[np.float64]
    adj: list[list[int]]  # local adjacency among kept atoms
    attach: dict[int, int]  # removed global atom -> kept global atom whose region it joins


def exact_regions(
    graph: AtomGraph,
    nodes: IntArray,
    households: IntArray,
    band: Band,
    *,
    k_range: tuple[int, int],
    params: ExactParams,
    upper_bound: float | None = None,
) -> ExactResult:
    """The grouping of one island (sorted global atom ids) into ``k_range`` connected regions with
    the fewest households outside the band, or the proof that none beats ``upper_bound``."""
    free_k = k_range[0] <= 1 and k_range[1] >= len(nodes)
    island = _reduce(graph, nodes, households, drop_zero_leaves=free_k)
    n = len(island.kept)
    bound = math.inf if upper_bound is None else float(upper_bound)
    if bound <= 0:
        return ExactResult(None, 0.0, True, "bound_is_optimal")
    if n > params.max_atoms:
        return ExactResult(None, bound, False, "too_large")
    cap = band.max + bound - 1 if math.isfinite(bound) else math.inf
    k_lo, k_hi = (1, n) if free_k else k_range
    if math.isfinite(bound):  # at most bound - 1 households outside: k*max >= total - slack, k*min <= total + slack
        total, slack = float(households[nodes].sum()), bound - 1
        k_lo = max(k_lo, math.ceil((total - slack) / band.max))
        k_hi = min(k_hi, math.floor((total + slack) / band.min) if band.min > 0 else k_hi)
        if k_lo > k_hi:
            return ExactResult(None, bound, True, "bound_is_optimal")
    if float(island.hh.max(initial=0.0)) > cap:  # one atom alone exceeds what a better solution allows
        return ExactResult(None, bound, True, "bound_is_optimal")
    allowed = _allowed_pairs(island, cap)
    if _column_count(island, allowed) > params.max_columns:
        return ExactResult(None, bound, False, "too_large")
    model = _Model(island, band, allowed)
    c, integrality, ub, constraints = model.build((k_lo, k_hi), max_violation=bound - 1)
    options = {"node_limit": params.nodes_for(model.n_columns), "time_limit": params.time_limit_s, "presolve": True}
    res = milp(c, integrality=integrality, bounds=(np.zeros(len(c)), ub), constraints=constraints, options=options)
    if res.status == 2:  # infeasible: nothing beats the bound, so the bound is the minimum
        return ExactResult(None, bound, True, "bound_is_optimal")
    if res.x is None:
        return ExactResult(None, bound, False, _limit_status(res.message))
    labels = model.labels_from(res.x, nodes, island)
    sums = np.bincount(labels, weights=households[nodes].astype(np.float64))
    violation = float(np.sum(np.maximum(band.min - sums, 0) + np.maximum(sums - band.max, 0)))
    proven = bool(res.status == 0)
    return ExactResult(labels, violation, proven, "optimal" if proven else _limit_status(res.message))


def reduced_size(graph: AtomGraph, nodes: IntArray, households: IntArray, *, drop_zero_leaves: bool) -> int:
    """Atoms of an island that the model would keep (what ``ExactParams.max_atoms`` is compared with)."""
    return len(_reduce(graph, nodes, households, drop_zero_leaves=drop_zero_leaves).kept)


def model_columns(
    graph: AtomGraph, nodes: IntArray, households: IntArray, band: Band, *, free_k: bool, params: ExactParams
) -> int:
    """Columns of the model asking whether the band is reachable at all (bound 1: the strongest
    pruning); a number above ``params.max_columns`` when the island has too many atoms to tell."""
    island = _reduce(graph, nodes, households, drop_zero_leaves=free_k)
    if len(island.kept) > params.max_atoms:
        return params.max_columns + 1
    if float(island.hh.max(initial=0.0)) > band.max:
        return 0  # decided without a model
    return _column_count(island, _allowed_pairs(island, float(band.max)))


def _limit_status(message: str) -> str:
    return "time_limit" if "time" in str(message).lower() else "node_limit"


def _reduce(graph: AtomGraph, nodes: IntArray, households: IntArray, *, drop_zero_leaves: bool) -> _Island:
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
    return _Island(kept, households[kept].astype(np.float64), adj, attach)


def _arcs(island: _Island) -> tuple[IntArray, IntArray]:
    """Both directions of every edge among the kept atoms (local indices)."""
    a = np.asarray([u for u in range(len(island.kept)) for _ in island.adj[u]], dtype=np.int64)
    b = np.asarray([v for u in range(len(island.kept)) for v in island.adj[u]], dtype=np.int64)
    return a, b


def _allowed_pairs(island: _Island, cap: float) -> npt.NDArray[np.bool_]:
    """allowed[j, i] (i >= j): some path from centre j to atom i weighs at most ``cap`` households
    (endpoints included), so the two may share a region without exceeding ``cap``."""
    n = len(island.kept)
    upper = np.triu(np.ones((n, n), dtype=bool))
    if not math.isfinite(cap):
        return upper
    a, b = _arcs(island)
    arcs = csr_matrix((island.hh[b] + _EPS, (a, b)), shape=(n, n))
    dist = dijkstra(arcs, directed=True) + island.hh[:, None]
    np.fill_diagonal(dist, island.hh)
    return np.asarray((dist <= cap + 0.5) & upper, dtype=bool)


def _column_count(island: _Island, allowed: npt.NDArray[np.bool_]) -> int:
    """Columns the model would have: one per allowed pair, one per flow arc, two slacks per centre."""
    a, b = _arcs(island)
    both = allowed[:, a] & allowed[:, b]
    both[b, np.arange(len(b))] = False  # no flow into a region's own centre
    return int(allowed.sum()) + int(both.sum()) + 2 * len(island.kept)


class _Model:
    """Variable layout and constraint rows of the pruned centre/flow model of one island."""

    def __init__(self, island: _Island, band: Band, allowed: npt.NDArray[np.bool_]) -> None:
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

    def labels_from(self, solution: npt.NDArray[np.float64], nodes: IntArray, island: _Island) -> IntArray:
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


__all__ = ["ExactParams", "ExactResult", "ExactVerdict", "exact_regions", "least_violation", "model_columns",
           "reduced_size"]
