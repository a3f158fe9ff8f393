"""One island of atoms, solved as well as the budget allows: choice of k, restarts, exact fallback.

Why: ``k = round(households / target)`` is only a guess. Twelve blocks of 225 households with a
300-500 band give k = round(2700 / 400) = 7, which cannot work (each grid needs two blocks), while
k = 6 fits exactly. So every k that fits the band by count, ``ceil(total / max) .. floor(total /
min)``, is a candidate (the two just outside when that range is empty), tried in order of
closeness to ``total / target``. Each attempt is a fresh spanning-tree bisection plus local search
and repair with its own child generator of ``rng``; attempts are compared by (grids out of band,
households outside the band, balance, cut cost). When the heuristic still leaves grids out of
band and the island is small, the exact model (``regions_exact``) either finds a grouping in band
or proves that none exists: the island's ``status`` then says which ("proved_infeasible" or
"heuristic"), and ``reason`` says so in words for the grid flags.

The budget is counted in work, not seconds, so the same ``rng`` always gives the same result:
extra attempts are allowed while ``attempts x atoms`` stays under ``IslandParams`` limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gridmap.partition.problem import Band
from gridmap.partition.regions.bisection import BisectParams, BisectStats, parts_from_component
from gridmap.partition.regions.exact import ExactParams, ExactVerdict, least_violation, model_columns
from gridmap.partition.regions.graph import AtomGraph, FloatArray, IntArray
from gridmap.partition.regions.repair import RepairStats, repair_out_of_band
from gridmap.partition.regions.search import SearchParams, SearchStats, improve_labels
from gridmap.partition.regions.verdict import (
    HEURISTIC,
    IN_BAND,
    PROVED_INFEASIBLE,
    IslandFacts,
    k_range_of,
    verdict_of,
)
from gridmap.partition.regions.window import WindowParams, WindowStats, repair_with_windows

__all__ = ["HEURISTIC", "IN_BAND", "PROVED_INFEASIBLE", "Counters", "IslandOutcome", "IslandParams", "RegionParams",
           "k_candidates", "k_range_of", "solve_island"]


@dataclass(frozen=True)
class IslandParams:
    """Work budget of the restarts (atoms x attempts, so results do not depend on machine speed)."""

    #: Extra attempts, once an attempt is in band, to find better balance and cut cost: at most
    #: ``improve_atoms // atoms`` of them and never more than ``improve_attempts``.
    improve_atoms: int = 600
    improve_attempts: int = 1
    #: Extra attempts while grids are out of band: at most ``repair_atoms // atoms`` of them and
    #: never more than ``repair_attempts``.
    repair_atoms: int = 1200
    repair_attempts: int = 8
    #: No further attempt once the island's attempts have drawn this many spanning trees.
    tree_budget: int = 2500
    #: Attempts made before the exact model is called on an island small enough for it.
    before_exact: int = 1
    #: Merge-and-resplit groups tried per attempt (``regions_repair``); the exact repair windows
    #: do that job better on coarse islands, where re-splitting mostly fails.
    max_resplits: int = 24


@dataclass(frozen=True)
class RegionParams:
    """All tuning knobs of the strategy (defaults are what the benchmarks measured best)."""

    bisect: BisectParams = field(default_factory=BisectParams)
    search: SearchParams = field(default_factory=SearchParams)
    island: IslandParams = field(default_factory=IslandParams)
    #: The exact fallback for small islands left out of band; None switches it off.
    exact: ExactParams | None = field(default_factory=ExactParams)
    #: Exact repair windows for larger islands left out of band (need ``exact``); None: off.
    windows: WindowParams | None = field(default_factory=WindowParams)


@dataclass
class Counters:
    """How hard the strategy worked, summed over islands (reported in the diagnostics)."""

    bisect: BisectStats = field(default_factory=BisectStats)
    search: SearchStats = field(default_factory=SearchStats)
    repair: RepairStats = field(default_factory=RepairStats)
    windows: WindowStats = field(default_factory=WindowStats)
    attempts: int = 0


@dataclass(frozen=True)
class IslandOutcome:
    """The chosen regions of one island (labels 0..k-1 per island atom) and what is known about them."""

    labels: IntArray
    k: int
    ks_tried: tuple[int, ...]
    attempts: int
    out_of_band: int
    violation: float
    status: str  # IN_BAND | PROVED_INFEASIBLE | HEURISTIC
    reason: str  # "" in band, else a sentence starting "proved infeasible:" or "heuristic:"
    exact: ExactVerdict | None = None


@dataclass(frozen=True)
class _Attempt:
    labels: IntArray
    k: int
    key: tuple[int, float, float, float]  # out-of-band regions, households outside, balance, cut cost


def k_candidates(total: int, atoms: int, band: Band) -> list[int]:
    """Every k that fits by count (or the two around an empty range), closest to total/target first."""
    lo, hi = k_range_of(total, band)
    ks = set(range(lo, hi + 1)) if lo <= hi else {hi, lo, round(total / band.target)}
    ideal = total / band.target
    return sorted((k for k in ks if 1 <= k <= max(atoms, 1)), key=lambda k: (abs(k - ideal), k)) or [1]


def solve_island(
    graph: AtomGraph,
    households: IntArray,
    area_m2: FloatArray,
    xy_m: FloatArray,
    band: Band,
    *,
    k_fixed: int | None,
    rng: np.random.Generator,
    params: RegionParams,
    counters: Counters,
) -> IslandOutcome:
    """Regions of one connected island (``graph`` is the island's own graph, atoms 0..n-1)."""
    n, total = graph.n, int(households.sum())
    if n == 1 or (total < band.min and k_fixed is None):
        whole = np.zeros(n, dtype=np.int64)
        single = _Attempt(whole, 1, _key(graph, whole, households, band))
        return _outcome(single, (1,), 0, None, total, n, band, k_fixed=k_fixed, params=params)
    search = _IslandSearch(graph, households, area_m2, xy_m, band, k_fixed=k_fixed, rng=rng, params=params,
                           counters=counters)  # fmt: skip
    search.run()
    assert search.best is not None
    counters.attempts += len(search.tried)
    return _outcome(search.best, tuple(dict.fromkeys(search.tried)), len(search.tried), search.exact, total, n, band,
                    k_fixed=k_fixed, params=params)  # fmt: skip


def _outcome(
    best: _Attempt,
    tried: tuple[int, ...],
    attempts: int,
    exact: ExactVerdict | None,
    total: int,
    n: int,
    band: Band,
    *,
    k_fixed: int | None,
    params: RegionParams,
) -> IslandOutcome:
    oob, violation = best.key[0], best.key[1]
    status, reason = IN_BAND, ""
    if oob:
        facts = IslandFacts(total, n, attempts, tried, k_fixed, violation)
        status, reason = verdict_of(facts, exact, band, exact_params=params.exact, windows=params.windows is not None)
    return IslandOutcome(best.labels, int(best.labels.max()) + 1, tried, attempts, oob, violation, status, reason,
                         exact)  # fmt: skip


class _IslandSearch:
    """The attempts on one island: candidates in order, the exact model as soon as it can help,
    restarts while the work budget lasts."""

    def __init__(
        self,
        graph: AtomGraph,
        households: IntArray,
        area_m2: FloatArray,
        xy_m: FloatArray,
        band: Band,
        *,
        k_fixed: int | None,
        rng: np.random.Generator,
        params: RegionParams,
        counters: Counters,
    ) -> None:
        self.graph, self.households, self.area, self.xy, self.band = graph, households, area_m2, xy_m, band
        self.k_fixed, self.rng, self.params, self.counters = k_fixed, rng, params, counters
        total = int(households.sum())
        self.candidates = [k_fixed] if k_fixed is not None else k_candidates(total, graph.n, band)
        self.best: _Attempt | None = None
        self.tried: list[int] = []
        self.exact: ExactVerdict | None = None

    @property
    def perfect(self) -> bool:
        return self.best is not None and self.best.key[0] == 0

    def run(self) -> None:
        n, ip = self.graph.n, self.params.island
        improve = min(ip.improve_attempts, ip.improve_atoms // n)
        repair = min(ip.repair_attempts, ip.repair_atoms // n)
        # Coarse islands make a small exact model (and defeat the heuristic): ask it early. Fine
        # islands make a large one (and suit the heuristic): attempts and windows first.
        size = self._model_size()
        early = self.params.exact is not None and size <= self.params.exact.early_columns
        trees_before = self.counters.bisect.trees
        for attempt in range(1 + max(improve, repair)):
            if (self.perfect and attempt > improve) or (self.exact is not None and self.exact.infeasible):
                break
            if attempt > 0 and self.counters.bisect.trees - trees_before >= ip.tree_budget:
                break  # coarse islands make every cut a fallback: more attempts rarely help there
            self._try(_next_k(attempt, self.candidates, self.best))
            if not self.perfect and early and self.exact is None and len(self.tried) >= ip.before_exact:
                self._run_exact()
        if not self.perfect and not (self.exact is not None and self.exact.proven):
            self._run_windows()
        if not self.perfect and self.exact is None and self.params.exact is not None:
            self._run_exact()

    def _model_size(self) -> int:
        """Columns of the exact model asking "is the band reachable?" (0 when exact is off)."""
        if self.params.exact is None:
            return 0
        nodes = np.arange(self.graph.n, dtype=np.int64)
        return model_columns(self.graph, nodes, self.households, self.band, free_k=self.k_fixed is None,
                             params=self.params.exact)  # fmt: skip

    def _try(self, k: int) -> None:
        self.tried.append(k)
        labels = _attempt(self.graph, k, self.households, self.area, self.xy, self.band, rng=_child(self.rng),
                          params=self.params, counters=self.counters)  # fmt: skip
        self._offer(labels, k)

    def _offer(self, labels: IntArray, k: int) -> None:
        current = _Attempt(labels, k, _key(self.graph, labels, self.households, self.band))
        if self.best is None or current.key < self.best.key:
            self.best = current

    def _run_windows(self) -> None:
        """Exact repair windows around the regions still out of band (``regions_window``)."""
        if self.params.windows is None or self.params.exact is None:
            return
        assert self.best is not None
        before = self.best.labels
        labels = repair_with_windows(self.graph, before, self.households, self.band,
                                     k_fixed=self.k_fixed is not None, params=self.params.windows,
                                     exact=self.params.exact, stats=self.counters.windows)  # fmt: skip
        changed = _changed_regions(before, labels)
        if changed:
            labels = _polish(self.graph, labels, self.households, self.area, self.xy, self.band, rng=self.rng,
                             params=self.params, counters=self.counters, repair=False, movable=changed)  # fmt: skip
            self._offer(labels, int(labels.max()) + 1)

    def _run_exact(self) -> None:
        assert self.best is not None and self.params.exact is not None
        n = self.graph.n
        k_range = (self.k_fixed, self.k_fixed) if self.k_fixed is not None else (1, n)
        self.exact = least_violation(self.graph, np.arange(n, dtype=np.int64), self.households, self.band,
                                     k_range=k_range, params=self.params.exact, incumbent=self.best.key[1])  # fmt: skip
        if self.exact.labels is not None and self.exact.violation < self.best.key[1]:
            labels = _polish(self.graph, self.exact.labels, self.households, self.area, self.xy, self.band,
                             rng=self.rng, params=self.params, counters=self.counters, repair=False)  # fmt: skip
            self.best = None
            self._offer(labels, int(labels.max()) + 1)


def _child(rng: np.random.Generator) -> np.random.Generator:
    """An independent generator drawn from ``rng`` (each attempt gets its own stream)."""
    return np.random.default_rng(int(rng.integers(2**63 - 1)))


def _next_k(attempt: int, candidates: list[int], best: _Attempt | None) -> int:
    """Each candidate once in order; once in band (or out of candidates) restart the best k."""
    if best is None:
        return candidates[0]
    if best.key[0] == 0 or attempt >= len(candidates):
        return best.k
    return candidates[attempt]


def _attempt(
    graph: AtomGraph,
    k: int,
    households: IntArray,
    area_m2: FloatArray,
    xy_m: FloatArray,
    band: Band,
    *,
    rng: np.random.Generator,
    params: RegionParams,
    counters: Counters,
) -> IntArray:
    """One bisection into ``k`` parts, then local search and repair."""
    labels = np.zeros(graph.n, dtype=np.int64)
    nodes = np.arange(graph.n, dtype=np.int64)
    for r, part in enumerate(parts_from_component(graph, nodes, k, households, band, rng=rng, params=params.bisect,
                                                  stats=counters.bisect)):  # fmt: skip
        labels[part] = r
    return _polish(graph, labels, households, area_m2, xy_m, band, rng=rng, params=params, counters=counters,
                   repair=True)  # fmt: skip


def _polish(
    graph: AtomGraph,
    labels: IntArray,
    households: IntArray,
    area_m2: FloatArray,
    xy_m: FloatArray,
    band: Band,
    *,
    rng: np.random.Generator,
    params: RegionParams,
    counters: Counters,
    repair: bool,
    movable: set[int] | None = None,
) -> IntArray:
    """Local search, merge-and-resplit of regions still out of band, local search again; only the
    ``movable`` regions take part when given (the rest of a big island stays as it was).

    Never returns labels with more households outside the band than it was given.
    """
    k = int(labels.max()) + 1
    total = float(households.sum())
    targets = [min(max(total / k, band.min), band.max)] * k
    frozen = [False] * k if movable is None else [r not in movable for r in range(k)]

    def search(current: IntArray) -> IntArray:
        return improve_labels(graph, current, households, area_m2, xy_m, targets=targets, frozen_regions=frozen,
                              band=band, rng=rng, params=params.search, stats=counters.search)  # fmt: skip

    start = _violation(labels, households, band)
    out = search(labels)
    if repair and _violation(out, households, band) > 0:
        out = repair_out_of_band(graph, out, households, band, frozen_regions=frozen, rng=rng, params=params.bisect,
                                 stats=counters.repair, max_resplits=params.island.max_resplits)  # fmt: skip
        out = search(out)
    return out if _violation(out, households, band) <= start else labels


def _changed_regions(before: IntArray, after: IntArray) -> set[int]:
    """Regions of ``after`` that are not exactly a region of ``before`` (same atoms)."""
    pairs = np.unique(np.column_stack([before, after]), axis=0)
    old_count = np.bincount(pairs[:, 0], minlength=int(before.max()) + 1)
    new_count = np.bincount(pairs[:, 1], minlength=int(after.max()) + 1)
    same = (old_count[pairs[:, 0]] == 1) & (new_count[pairs[:, 1]] == 1)
    return {int(r) for r in pairs[~same, 1]}


def _sums(labels: IntArray, households: IntArray) -> FloatArray:
    sums = np.bincount(labels, weights=households.astype(np.float64), minlength=int(labels.max()) + 1)
    return np.asarray(sums, dtype=np.float64)


def _violation(labels: IntArray, households: IntArray, band: Band) -> float:
    sums = _sums(labels, households)
    return float(np.sum(np.maximum(band.min - sums, 0.0) + np.maximum(sums - band.max, 0.0)))


def _key(graph: AtomGraph, labels: IntArray, households: IntArray, band: Band) -> tuple[int, float, float, float]:
    """(regions out of band, households outside the band, mean squared relative deviation, cut cost)."""
    sums = _sums(labels, households)
    outside = np.maximum(band.min - sums, 0.0) + np.maximum(sums - band.max, 0.0)
    balance = float(np.mean(((sums - band.target) / max(band.target, 1)) ** 2))
    cut = float(graph.cost[labels[graph.u] != labels[graph.v]].sum())
    return int((outside > 0).sum()), float(outside.sum()), round(balance, 12), round(cut, 9)
