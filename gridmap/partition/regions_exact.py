"""Exact regions for small islands: a mixed-integer model solved by HiGHS (``scipy.optimize.milp``).

Why: when atoms are coarse (a community of 20 blocks of 150-480 households each), spanning-tree
cuts and single-atom moves often leave a few grids out of band although a better grouping exists,
and no heuristic can say whether the band is reachable at all. For islands of a few dozen atoms
an exact model settles it: it finds the grouping with the fewest households outside the band
(then the smallest deviation from the target) or proves that none does better.

Model (centres + flows, after Shirabe 2005 / Validi & Buchanan 2022): ``x[i, j] = 1`` puts atom
``i`` in the region whose centre is atom ``j``, the lowest-numbered atom of its region (``i >= j``,
which also removes symmetric copies). Contiguity: the centre sends one unit of flow to every atom
of its region along edges between atoms of that region. Band violations are slack variables with a
large weight, so an infeasible band still gives the least-bad answer instead of "no solution".
Compactness enters with a small weight as the sum of squared distances to the centre (metres²).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import LinearConstraint, milp
from scipy.sparse import coo_array

from gridmap.partition.problem import Band
from gridmap.partition.regions_graph import AtomGraph, FloatArray, IntArray

#: Weight of one household outside the band, against one household of deviation from the target.
_VIOLATION_WEIGHT = 1000.0
#: Weight of compactness: all squared centre distances together are worth this many households.
_COMPACT_WEIGHT = 1.0


@dataclass(frozen=True)
class ExactParams:
    """Which islands get the exact model and how long it may search (deterministic node limit)."""

    max_atoms: int = 40
    node_limit: int = 2000
    time_limit_s: float = 10.0


@dataclass(frozen=True)
class ExactResult:
    labels: IntArray  # region per atom of the island (0..k-1)
    violation: float  # households outside the band, summed over regions
    proven: bool  # True when HiGHS proved the result optimal


def exact_regions(
    graph: AtomGraph,
    nodes: IntArray,
    households: IntArray,
    xy_m: FloatArray,
    band: Band,
    *,
    k_range: tuple[int, int],
    params: ExactParams,
) -> ExactResult | None:
    """Best regions of one island (sorted global atom ids) with ``k_range[0]..k_range[1]`` regions, or None
    when the solver found no solution within its limits."""
    model = _Model(graph, nodes, households[nodes].astype(np.float64), xy_m[nodes], band)
    c, integrality, lb, ub, constraints = model.build(k_range)
    options = {"node_limit": params.node_limit, "time_limit": params.time_limit_s, "presolve": True}
    res = milp(c, integrality=integrality, bounds=(lb, ub), constraints=constraints, options=options)
    if res.x is None:
        return None
    centre_of = model.centres_from(res.x)
    _, labels = np.unique(centre_of, return_inverse=True)
    sums = np.bincount(labels, weights=households[nodes].astype(np.float64))
    violation = float(np.sum(np.maximum(band.min - sums, 0) + np.maximum(sums - band.max, 0)))
    return ExactResult(labels.astype(np.int64), violation, bool(res.status == 0))


class _Model:
    """Variable layout and constraint rows of the centre/flow model for one island."""

    def __init__(self, graph: AtomGraph, nodes: IntArray, hh: FloatArray, xy: FloatArray, band: Band) -> None:
        self.n = len(nodes)
        self.hh, self.xy, self.band = hh, xy, band
        in_island = np.zeros(graph.n, dtype=bool)
        in_island[nodes] = True
        keep = in_island[graph.u] & in_island[graph.v]
        lu = np.searchsorted(nodes, graph.u[keep])
        lv = np.searchsorted(nodes, graph.v[keep])
        self.arcs = np.concatenate([np.stack([lu, lv], 1), np.stack([lv, lu], 1)]).tolist()
        # x[i, j] for i >= j, then per centre j its flow arcs, then slack/deviation per centre.
        self.x_index: dict[tuple[int, int], int] = {}
        for j in range(self.n):
            for i in range(j, self.n):
                self.x_index[(i, j)] = len(self.x_index)
        self.flow_index: dict[tuple[int, int, int], int] = {}
        base = len(self.x_index)
        for j in range(self.n):
            for a, b in self.arcs:
                if a >= j and b > j:
                    self.flow_index[(j, a, b)] = base + len(self.flow_index)
        self.slack0 = base + len(self.flow_index)  # per centre: under-min, over-max, deviation
        self.n_vars = self.slack0 + 3 * self.n

    def build(
        self, k_range: tuple[int, int]
    ) -> tuple[FloatArray, npt.NDArray[np.int64], FloatArray, FloatArray, list[LinearConstraint]]:
        rows: list[tuple[dict[int, float], float, float]] = []
        self._assignment_rows(rows, k_range)
        self._flow_rows(rows)
        self._band_rows(rows)
        r_idx, c_idx, vals, lo, hi = [], [], [], [], []
        for r, (coefs, lower, upper) in enumerate(rows):
            for col, val in coefs.items():
                r_idx.append(r)
                c_idx.append(col)
                vals.append(val)
            lo.append(lower)
            hi.append(upper)
        a = coo_array((vals, (r_idx, c_idx)), shape=(len(rows), self.n_vars)).tocsr()
        constraints = [LinearConstraint(a, np.asarray(lo), np.asarray(hi))]
        integrality = np.zeros(self.n_vars, dtype=np.int64)
        integrality[: len(self.x_index)] = 1
        lb = np.zeros(self.n_vars)
        ub = np.full(self.n_vars, np.inf)
        ub[: len(self.x_index)] = 1.0
        return self._objective(), integrality, lb, ub, constraints

    def _assignment_rows(self, rows: list[tuple[dict[int, float], float, float]], k_range: tuple[int, int]) -> None:
        x = self.x_index
        for i in range(self.n):
            rows.append(({x[(i, j)]: 1.0 for j in range(i + 1)}, 1.0, 1.0))  # each atom in one region
            for j in range(i):
                rows.append(({x[(i, j)]: 1.0, x[(j, j)]: -1.0}, -np.inf, 0.0))  # only to open centres
        rows.append(({x[(j, j)]: 1.0 for j in range(self.n)}, float(k_range[0]), float(k_range[1])))

    def _flow_rows(self, rows: list[tuple[dict[int, float], float, float]]) -> None:
        x, f = self.x_index, self.flow_index
        cap = float(self.n - 1)
        balance: dict[tuple[int, int], dict[int, float]] = {}
        for (j, a, b), col in f.items():
            balance.setdefault((j, b), {})[col] = balance.get((j, b), {}).get(col, 0.0) + 1.0
            if a != j:
                balance.setdefault((j, a), {})[col] = balance.get((j, a), {}).get(col, 0.0) - 1.0
            rows.append(({col: 1.0, x[(b, j)]: -cap}, -np.inf, 0.0))  # flow only into members
            rows.append(({col: 1.0, x[(a, j)]: -cap}, -np.inf, 0.0))  # and only out of members
        for j in range(self.n):
            for i in range(j + 1, self.n):
                coefs = dict(balance.get((j, i), {}))
                coefs[x[(i, j)]] = coefs.get(x[(i, j)], 0.0) - 1.0
                rows.append((coefs, 0.0, 0.0))  # net inflow = 1 for each member but the centre

    def _band_rows(self, rows: list[tuple[dict[int, float], float, float]]) -> None:
        x, band = self.x_index, self.band
        target = float(band.target)
        for j in range(self.n):
            load = {x[(i, j)]: float(self.hh[i]) for i in range(j, self.n)}
            under, over, dev = self.slack0 + 3 * j, self.slack0 + 3 * j + 1, self.slack0 + 3 * j + 2
            rows.append(({**load, x[(j, j)]: load[x[(j, j)]] - band.min, under: 1.0}, 0.0, np.inf))
            rows.append(({**load, x[(j, j)]: load[x[(j, j)]] - band.max, over: -1.0}, -np.inf, 0.0))
            rows.append(({**load, x[(j, j)]: load[x[(j, j)]] - target, dev: -1.0}, -np.inf, 0.0))
            rows.append(({**{c: -v for c, v in load.items()}, x[(j, j)]: target - load[x[(j, j)]], dev: -1.0},
                         -np.inf, 0.0))  # fmt: skip

    def _objective(self) -> FloatArray:
        c = np.zeros(self.n_vars)
        d2 = ((self.xy[:, None, :] - self.xy[None, :, :]) ** 2).sum(axis=2)
        scale = _COMPACT_WEIGHT / max(float(d2.sum()), 1e-9)
        for (i, j), col in self.x_index.items():
            c[col] = d2[i, j] * scale
        for j in range(self.n):
            c[self.slack0 + 3 * j] = _VIOLATION_WEIGHT
            c[self.slack0 + 3 * j + 1] = _VIOLATION_WEIGHT
            c[self.slack0 + 3 * j + 2] = 1.0
        return c

    def centres_from(self, solution: FloatArray) -> IntArray:
        centre = np.full(self.n, -1, dtype=np.int64)
        for (i, j), col in self.x_index.items():
            if solution[col] > 0.5:
                centre[i] = j
        return centre


@dataclass(frozen=True)
class ExactReport:
    """What the exact model said about one island: the least households outside the band it found
    (``proven``: no partition does better), and whether its answer replaced the heuristic's."""

    component: int
    violation: float
    proven: bool
    used: bool


def improve_with_exact(
    graph: AtomGraph,
    labels: IntArray,
    households: IntArray,
    xy_m: FloatArray,
    band: Band,
    *,
    components: list[IntArray],
    counts: list[int],
    exact_k: bool,
    params: ExactParams,
) -> tuple[IntArray, tuple[ExactReport, ...]]:
    """Re-solve exactly every small island that the heuristic left with regions out of band."""
    labels = labels.copy()
    reports: list[ExactReport] = []
    for c, nodes in enumerate(components):
        if len(nodes) > params.max_atoms or len(nodes) < 2:
            continue
        current = _violation_of(labels[nodes], households[nodes], band)
        if current == 0:
            continue
        k_range = (counts[c], counts[c]) if exact_k else (1, len(nodes))
        found = exact_regions(graph, nodes, households, xy_m, band, k_range=k_range, params=params)
        if found is None:
            continue
        used = found.violation < current
        if used:
            labels[nodes] = found.labels + int(labels.max()) + 1
        reports.append(ExactReport(c, found.violation, found.proven, used))
    return labels, tuple(reports)


def _violation_of(labels: IntArray, households: IntArray, band: Band) -> float:
    _, local = np.unique(labels, return_inverse=True)
    sums = np.bincount(local, weights=households.astype(np.float64))
    return float(np.sum(np.maximum(band.min - sums, 0) + np.maximum(sums - band.max, 0)))
