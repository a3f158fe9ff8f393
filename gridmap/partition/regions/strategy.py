"""Band-constrained contiguous regions: the default partition strategy.

``regions_from_problem(problem, rng=...)`` is the plain strategy (a label 0..k-1 per atom);
``region_result_from_problem`` returns the same labels with :class:`RegionDiagnostics` that say
what could not be done and why (islands under the band, atoms over the band, an infeasible number
of grids, regions left out of band) and, per region out of band, whether that is *proved* (by
arithmetic or by the exact model) or only what the heuristic reached.

How (see partition-notes.md): atoms heavier than ``band.max`` are left alone as their own region
(the geometry side splits those before). The rest of the atom graph is cut into connected
components (islands); an island too small for a grid that touches such a heavy atom joins it (one
grid over the band instead of two grids out of it). Every other island is solved on its own by
``regions_island.solve_island``: each k that fits the band by count is tried (closest to
``households / target`` first), each attempt a recursive spanning-tree bisection (``regions_bisect``)
polished by single-atom moves (``regions_search``) and merge-and-resplit (``regions_repair``), and
small islands still out of band go to the exact model (``regions_exact``). All randomness comes
from the ``rng`` argument: the same seed gives the same labels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gridmap.errors import InfeasiblePartitionError
from gridmap.partition.problem import Band, PartitionProblem
from gridmap.partition.regions.exact import ExactParams
from gridmap.partition.regions.graph import AtomGraph, IntArray, graph_from_problem, subgraph_of
from gridmap.partition.regions.island import (
    HEURISTIC,
    IN_BAND,
    PROVED_INFEASIBLE,
    Counters,
    IslandOutcome,
    RegionParams,
    k_range_of,
    solve_island,
)


@dataclass(frozen=True)
class ComponentReport:
    """One island (connected component of the atom graph, heavy atoms removed)."""

    index: int
    atoms: int
    households: int
    regions: int
    #: Region counts that fit the band by households alone: ceil(total/max) .. floor(total/min).
    k_min: int
    k_max: int
    note: str = ""
    #: "in_band", "proved_infeasible" or "heuristic" (see ``regions_island``); "merged" when the
    #: island joined a neighbouring heavy atom.
    status: str = IN_BAND
    #: Why the island's grids are out of band ("proved infeasible: ..." / "heuristic: ..."), or "".
    reason: str = ""
    attempts: int = 0
    ks_tried: tuple[int, ...] = ()
    #: Households outside the band over the island's regions.
    violation: float = 0.0
    #: What the exact model said ("" when it was not run): status of its last solve, see
    #: ``regions_exact.ExactResult.status``.
    exact_status: str = ""
    #: Proved by the exact model: at least this many households fall outside the band (0: no proof).
    lower_bound: float = 0.0


@dataclass(frozen=True)
class ExactReport:
    """What the exact model said about one island: the least households outside the band known
    (``proven``: no partition does better), and whether its answer replaced the heuristic's."""

    component: int
    violation: float
    proven: bool
    used: bool
    status: str = ""


@dataclass(frozen=True)
class RegionDiagnostics:
    """What the strategy did and what it could not fix. Indices are atom indices of the problem."""

    n_regions: int
    components: tuple[ComponentReport, ...]
    #: Atoms with more households than band.max, each left as its own region.
    heavy_atoms: tuple[int, ...]
    #: Components whose households are under band.min and that touch no heavy atom: each became
    #: one (too small) region.
    small_components: tuple[int, ...]
    #: (label, households) of every region outside the band in the result.
    out_of_band: tuple[tuple[int, int], ...]
    #: Why the requested or chosen number of regions cannot all be in band, or "".
    infeasible: str
    max_deviation: float
    share_in_band: float
    cut_cost: float
    splits: int
    trees: int
    bisection_fallbacks: int
    sweeps: int
    moves: int
    #: Regions brought back into band by merge-and-resplit with their neighbours.
    repairs: int
    #: Islands the exact model was run on.
    exact: tuple[ExactReport, ...] = ()
    #: Per region label: "" in band, else why it is out ("proved infeasible: ..." / "heuristic: ...").
    region_notes: tuple[str, ...] = ()
    #: Heuristic attempts over all islands (k choices and restarts).
    attempts: int = 0

    @property
    def ok(self) -> bool:
        """True when every region is in band and nothing had to be reported."""
        return not (self.out_of_band or self.heavy_atoms or self.small_components or self.infeasible)

    @property
    def islands_proved_infeasible(self) -> int:
        return sum(c.status == PROVED_INFEASIBLE for c in self.components)

    @property
    def islands_heuristic(self) -> int:
        return sum(c.status == HEURISTIC for c in self.components)

    def messages(self) -> list[str]:
        """One human sentence per problem found, for CLI output and generation notes."""
        out: list[str] = []
        if self.infeasible:
            out.append(self.infeasible)
        out.extend(
            f"atom {i} holds more households than the band maximum and is left as its own grid"
            for i in self.heavy_atoms
        )
        out.extend(
            f"island {c} has fewer households than the band minimum and forms one grid" for c in self.small_components
        )
        out.extend(f"region {r} has {h} households, outside the band: {self.region_notes[r]}"
                   for r, h in self.out_of_band)  # fmt: skip
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RegionResult:
    labels: IntArray
    diagnostics: RegionDiagnostics


def regions_from_problem(problem: PartitionProblem, *, rng: np.random.Generator) -> IntArray:
    """The default strategy: a region label 0..k-1 per atom (see module docstring)."""
    return region_result_from_problem(problem, rng=rng).labels


def region_result_from_problem(
    problem: PartitionProblem,
    *,
    rng: np.random.Generator,
    params: RegionParams | None = None,
) -> RegionResult:
    """Labels plus diagnostics. Raises InfeasiblePartitionError only when an exact ``n_grids``
    cannot be met at all (fewer grids than islands, or more grids than atoms)."""
    params = params or RegionParams()
    band = problem.band
    households = np.asarray(problem.households, dtype=np.int64)
    area = np.asarray(problem.area_m2, dtype=np.float64)
    xy = np.asarray(problem.xy_m, dtype=np.float64)
    graph = graph_from_problem(problem)
    heavy = households > band.max
    comp = graph.components(~heavy)
    n_comp = int(comp.max()) + 1 if (comp >= 0).any() else 0
    comp_nodes = [np.flatnonzero(comp == c) for c in range(n_comp)]
    totals = [int(households[nodes].sum()) for nodes in comp_nodes]
    sizes = [len(nodes) for nodes in comp_nodes]
    heavy_idx = np.flatnonzero(heavy)
    ks, infeasible = _region_counts(totals, sizes, len(heavy_idx), band, problem.n_grids)
    host = {} if problem.n_grids is not None else _hosts(graph, comp_nodes, totals, heavy, band)

    labels = np.full(problem.n, -1, dtype=np.int64)
    notes: list[str] = []
    outcomes: dict[int, IslandOutcome] = {}
    counters = Counters()
    for c, nodes in enumerate(comp_nodes):
        if c in host:
            continue
        sub = subgraph_of(graph, nodes)
        fixed = ks[c] if problem.n_grids is not None else None
        outcome = solve_island(sub, households[nodes], area[nodes], xy[nodes], band, k_fixed=fixed, rng=rng,
                               params=params, counters=counters)  # fmt: skip
        outcomes[c] = outcome
        labels[nodes] = outcome.labels + len(notes)
        notes.extend([outcome.reason] * outcome.k)
    for i in heavy_idx.tolist():
        labels[i] = len(notes)
        guests = [c for c, h in host.items() if h == i]
        for c in guests:
            labels[comp_nodes[c]] = len(notes)
        notes.append(_heavy_note(int(households[i]), [totals[c] for c in guests], band))
    labels, notes = _relabel_by_first_atom(labels, notes)
    if len(labels):  # an island's reason belongs to its regions out of band only
        sums = np.bincount(labels, weights=households, minlength=len(notes))
        notes = [note if not band.contains(float(h)) else "" for note, h in zip(notes, sums, strict=True)]
    reports = tuple(_component_report(c, sizes[c], totals[c], band, outcomes.get(c), c in host)
                    for c in range(n_comp))  # fmt: skip
    exact = tuple(ExactReport(c, o.exact.violation, o.exact.proven, o.exact.labels is not None, o.exact.status)
                  for c, o in outcomes.items() if o.exact is not None)  # fmt: skip
    diagnostics = _diagnostics(labels, households, graph, band, reports, heavy_idx, infeasible, counters)
    return RegionResult(labels, dataclasses.replace(diagnostics, exact=exact, region_notes=tuple(notes),
                                                    attempts=counters.attempts))  # fmt: skip


def _hosts(
    graph: AtomGraph, comp_nodes: list[IntArray], totals: list[int], heavy: np.ndarray, band: Band
) -> dict[int, int]:
    """Islands under ``band.min`` that touch a heavy atom -> the heavy atom they join.

    Such an island cannot be a grid in band on its own, and the heavy atom is over the band anyway:
    together they make one grid out of band instead of two. The heavy neighbour sharing the
    costliest boundary (the least road between them) wins; ties go to the lowest index.
    """
    out: dict[int, int] = {}
    for c, nodes in enumerate(comp_nodes):
        if totals[c] >= band.min:
            continue
        shared: dict[int, float] = {}
        for v in nodes.tolist():
            for u, cost in zip(graph.neighbours[v], graph.neighbour_costs[v], strict=True):
                if heavy[u]:
                    shared[u] = shared.get(u, 0.0) + cost
        if shared:
            out[c] = max(shared, key=lambda u: (shared[u], -u))
    return out


def _heavy_note(households: int, guests: list[int], band: Band) -> str:
    joined = ""
    if guests:
        joined = (
            f", plus {len(guests)} enclosed part(s) of {', '.join(map(str, guests))} households that touch "
            "nothing else and are too small for a grid of their own"
        )
    return (
        f"proved infeasible: a single atom holds {households} households, more than the band maximum {band.max}{joined}"
    )


def _component_report(
    c: int, size: int, total: int, band: Band, outcome: IslandOutcome | None, merged: bool
) -> ComponentReport:
    lo, hi = k_range_of(total, band)
    note = _component_note(total, band)
    if outcome is None:
        reason = "joined the neighbouring atom over the band maximum" if merged else ""
        return ComponentReport(c, size, total, 0, lo, hi, note, "merged", reason)
    exact = outcome.exact.status if outcome.exact is not None else ""
    lower = outcome.exact.lower_bound if outcome.exact is not None else 0.0
    return ComponentReport(c, size, total, outcome.k, lo, hi, note, outcome.status, outcome.reason,
                           outcome.attempts, outcome.ks_tried, outcome.violation, exact, lower)  # fmt: skip


def _component_note(total: int, band: Band) -> str:
    lo, hi = k_range_of(total, band)
    if total < band.min:
        return f"{total} households is under the band minimum {band.min}: one grid"
    if lo > hi:
        return f"{total} households cannot be split into grids of {band.min}..{band.max}"
    return ""


def _region_counts(
    totals: list[int], sizes: list[int], n_heavy: int, band: Band, n_grids: int | None
) -> tuple[list[int], str]:
    """Regions per component and a sentence when the band cannot be met with them."""
    ranges = [k_range_of(t, band) for t in totals]
    free = [min(max(round(t / band.target), lo), hi) if lo <= hi else max(1, round(t / band.target)) for t, (lo, hi)
            in zip(totals, ranges, strict=True)]  # fmt: skip
    ks = [min(max(k, 1), size) for k, size in zip(free, sizes, strict=True)]
    if n_grids is None:
        bad = [c for c, (k, (lo, hi)) in enumerate(zip(ks, ranges, strict=True)) if not lo <= k <= hi]
        return ks, _infeasible_sentence(bad, totals, band) if bad else ""
    wanted = n_grids - n_heavy
    if wanted < len(totals) or wanted > sum(sizes):
        raise InfeasiblePartitionError(
            f"{n_grids} grids were requested but the community needs at least {len(totals) + n_heavy} "
            f"({len(totals)} islands + {n_heavy} atoms over {band.max} households) and allows at most "
            f"{sum(sizes) + n_heavy} (one per atom)",
            details={"n_grids": n_grids, "islands": len(totals), "heavy_atoms": n_heavy, "atoms": sum(sizes)},
        )
    ks = _adjust_counts(ks, totals, sizes, ranges, wanted)
    lo_sum = sum(lo for lo, _ in ranges)
    hi_sum = sum(max(lo, hi) for lo, hi in ranges)
    bad = [c for c, (k, (lo, hi)) in enumerate(zip(ks, ranges, strict=True)) if not lo <= k <= hi]
    if not bad:
        return ks, ""
    return ks, (
        f"{n_grids} grids were requested; with {sum(totals)} households the band {band.min}..{band.max} "
        f"allows {lo_sum + n_heavy}..{hi_sum + n_heavy} grids. " + _infeasible_sentence(bad, totals, band)
    )


def _adjust_counts(
    ks: list[int], totals: list[int], sizes: list[int], ranges: list[tuple[int, int]], wanted: int
) -> list[int]:
    """Add or remove regions one at a time where the average region is furthest from the others."""
    ks = list(ks)
    while sum(ks) < wanted:
        # Prefer components still under their band maximum count, then the largest average.
        c = max((c for c in range(len(ks)) if ks[c] < sizes[c]),
                key=lambda c: (ks[c] < ranges[c][1], totals[c] / ks[c]))  # fmt: skip
        ks[c] += 1
    while sum(ks) > wanted:
        c = max((c for c in range(len(ks)) if ks[c] > 1),
                key=lambda c: (ks[c] > ranges[c][0], -totals[c] / ks[c]))  # fmt: skip
        ks[c] -= 1
    return ks


def _infeasible_sentence(bad: list[int], totals: list[int], band: Band) -> str:
    parts = [f"island {c} ({totals[c]} households)" for c in bad]
    return f"cannot be divided into grids of {band.min}..{band.max} households: {', '.join(parts)}"


def _relabel_by_first_atom(labels: IntArray, notes: list[str]) -> tuple[IntArray, list[str]]:
    """Labels renumbered 0..k-1 in order of each region's lowest atom index (stable output), and
    the per-region notes in the new order."""
    if len(labels) == 0:
        return labels, []
    uniq, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    new_notes = [""] * len(uniq)
    for old, new in zip(uniq.tolist(), rank.tolist(), strict=True):
        new_notes[new] = notes[old]
    return rank[inverse].astype(np.int64), new_notes


def _diagnostics(
    labels: IntArray,
    households: IntArray,
    graph: AtomGraph,
    band: Band,
    reports: tuple[ComponentReport, ...],
    heavy_idx: IntArray,
    infeasible: str,
    counters: Counters,
) -> RegionDiagnostics:
    k = int(labels.max()) + 1 if len(labels) else 0
    sums = np.bincount(labels, weights=households, minlength=k).astype(np.int64)
    inside = (sums >= band.min) & (sums <= band.max)
    cut = labels[graph.u] != labels[graph.v]
    return RegionDiagnostics(
        n_regions=k,
        components=reports,
        heavy_atoms=tuple(heavy_idx.tolist()),
        small_components=tuple(r.index for r in reports if r.households < band.min and r.status != "merged"),
        out_of_band=tuple((int(r), int(sums[r])) for r in np.flatnonzero(~inside)),
        infeasible=infeasible,
        max_deviation=float(np.abs(sums - band.target).max()) if k else 0.0,
        share_in_band=float(inside.mean()) if k else 1.0,
        cut_cost=float(graph.cost[cut].sum()),
        splits=counters.bisect.splits,
        trees=counters.bisect.trees,
        bisection_fallbacks=counters.bisect.fallbacks,
        sweeps=counters.search.sweeps,
        moves=counters.search.moves,
        repairs=counters.repair.repaired,
    )


__all__ = [
    "ComponentReport",
    "ExactParams",
    "ExactReport",
    "RegionDiagnostics",
    "RegionParams",
    "RegionResult",
    "region_result_from_problem",
    "regions_from_problem",
]
