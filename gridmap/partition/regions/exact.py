"""Exact regions for an island: a mixed-integer model solved by HiGHS (``scipy.optimize.milp``).

Why: when atoms are coarse (a community of 20 estates of 70-450 households each), spanning-tree
cuts and single-atom moves can leave grids out of band although a better grouping exists, and no
heuristic can say whether the band is reachable at all. An exact model settles it: it finds a
grouping with fewer households outside the band than the heuristic's, or *proves* that none exists.
That proof is what lets a flag say "proved infeasible" instead of "the heuristic found nothing
better". ``least_violation`` asks a ladder of such questions (is the band reachable at all? then
with doubling bounds), which stays fast on islands of hundreds of coarse atoms; ``exact_regions``
is one question. The formulation lives in ``regions_exact_model``.

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
from scipy.optimize import milp

from gridmap.partition.problem import Band
from gridmap.partition.regions.exact_model import CentreFlowModel, allowed_pairs, column_count, reduce_island
from gridmap.partition.regions.graph import AtomGraph, IntArray


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
    island = reduce_island(graph, nodes, households, drop_zero_leaves=free_k)
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
    allowed = allowed_pairs(island, cap)
    if column_count(island, allowed) > params.max_columns:
        return ExactResult(None, bound, False, "too_large")
    model = CentreFlowModel(island, band, allowed)
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
    return len(reduce_island(graph, nodes, households, drop_zero_leaves=drop_zero_leaves).kept)


def model_columns(
    graph: AtomGraph, nodes: IntArray, households: IntArray, band: Band, *, free_k: bool, params: ExactParams
) -> int:
    """Columns of the model asking whether the band is reachable at all (bound 1: the strongest
    pruning); a number above ``params.max_columns`` when the island has too many atoms to tell."""
    island = reduce_island(graph, nodes, households, drop_zero_leaves=free_k)
    if len(island.kept) > params.max_atoms:
        return params.max_columns + 1
    if float(island.hh.max(initial=0.0)) > band.max:
        return 0  # decided without a model
    return column_count(island, allowed_pairs(island, float(band.max)))


def _limit_status(message: str) -> str:
    return "time_limit" if "time" in str(message).lower() else "node_limit"



__all__ = ["ExactParams", "ExactResult", "ExactVerdict", "exact_regions", "least_violation", "model_columns",
           "reduced_size"]
