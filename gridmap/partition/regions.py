"""Band-constrained contiguous regions: the default partition strategy.

``regions_from_problem(problem, rng=...)`` is the plain strategy (a label 0..k-1 per atom);
``region_result_from_problem`` returns the same labels with :class:`RegionDiagnostics` that say
what could not be done and why (islands under the band, atoms over the band, an infeasible number
of grids, regions left out of band).

How (see partition-notes.md): atoms heavier than ``band.max`` are left alone as their own region
(the geometry side splits those before). The rest of the atom graph is cut into connected
components (islands); each component gets its own number of regions ``k`` (from its households,
or a share of ``problem.n_grids``), is split by recursive spanning-tree bisection
(``regions_bisect``) and then all regions are polished together by single-atom moves
(``regions_search``). All randomness comes from the ``rng`` argument: the same seed gives the
same labels.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gridmap.errors import InfeasiblePartitionError
from gridmap.partition.problem import Band, PartitionProblem
from gridmap.partition.regions_bisect import BisectParams, BisectStats, parts_from_component
from gridmap.partition.regions_exact import ExactParams, ExactReport, improve_with_exact
from gridmap.partition.regions_graph import AtomGraph, IntArray, graph_from_problem
from gridmap.partition.regions_repair import RepairStats, repair_out_of_band
from gridmap.partition.regions_search import SearchParams, SearchStats, improve_labels


@dataclass(frozen=True)
class RegionParams:
    """All tuning knobs of the strategy (defaults are what the benchmark measured best)."""

    bisect: BisectParams = field(default_factory=BisectParams)
    search: SearchParams = field(default_factory=SearchParams)
    #: Re-solve small islands left out of band with the exact model (slower; off by default).
    exact: ExactParams | None = None


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


@dataclass(frozen=True)
class RegionDiagnostics:
    """What the strategy did and what it could not fix. Indices are atom indices of the problem."""

    n_regions: int
    components: tuple[ComponentReport, ...]
    #: Atoms with more households than band.max, each left as its own region.
    heavy_atoms: tuple[int, ...]
    #: Components whose households are under band.min: each became one (too small) region.
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
    #: Islands re-solved by the exact model (only with RegionParams.exact).
    exact: tuple[ExactReport, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every region is in band and nothing had to be reported."""
        return not (self.out_of_band or self.heavy_atoms or self.small_components or self.infeasible)

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
        out.extend(f"region {r} has {h} households, outside the band" for r, h in self.out_of_band)
        out.extend(
            f"island {e.component}: no partition keeps all grids in band; at best {e.violation:g} households "
            "fall outside it (proven by the exact model)"
            for e in self.exact
            if e.proven and e.violation > 0
        )
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
    graph = graph_from_problem(problem)
    heavy = households > band.max
    comp = graph.components(~heavy)
    n_comp = int(comp.max()) + 1 if (comp >= 0).any() else 0
    comp_nodes = [np.flatnonzero(comp == c) for c in range(n_comp)]
    totals = [int(households[nodes].sum()) for nodes in comp_nodes]
    sizes = [len(nodes) for nodes in comp_nodes]
    heavy_idx = np.flatnonzero(heavy)
    ks, infeasible = _region_counts(totals, sizes, len(heavy_idx), band, problem.n_grids)

    labels = np.full(problem.n, -1, dtype=np.int64)
    targets: list[float] = []
    frozen: list[bool] = []
    bstats = BisectStats()
    for c, nodes in enumerate(comp_nodes):
        target = min(max(totals[c] / ks[c], band.min), band.max) if totals[c] > 0 else float(band.target)
        for part in parts_from_component(
            graph, nodes, ks[c], households, band, rng=rng, params=params.bisect, stats=bstats
        ):
            labels[part] = len(targets)
            targets.append(target)
            frozen.append(False)
    for i in heavy_idx.tolist():
        labels[i] = len(targets)
        targets.append(float(households[i]))
        frozen.append(True)

    sstats, rstats = SearchStats(), RepairStats()
    labels = _polish(problem, graph, labels, targets, frozen, rng=rng, params=params, sstats=sstats, rstats=rstats)
    exact_reports: tuple[ExactReport, ...] = ()
    if params.exact is not None:
        labels, exact_reports = improve_with_exact(
            graph, labels, households, np.asarray(problem.xy_m, dtype=np.float64), band, components=comp_nodes,
            counts=ks, exact_k=problem.n_grids is not None, params=params.exact,
        )  # fmt: skip
    labels = _relabel_by_first_atom(labels)
    reports = tuple(
        ComponentReport(c, sizes[c], totals[c], ks[c], *_k_range(totals[c], band), _component_note(totals[c], band))
        for c in range(n_comp)
    )
    diagnostics = _diagnostics(labels, households, graph, band, reports, heavy_idx, infeasible, bstats, sstats, rstats)
    return RegionResult(labels, dataclasses.replace(diagnostics, exact=exact_reports))


def _polish(
    problem: PartitionProblem,
    graph: AtomGraph,
    labels: IntArray,
    targets: list[float],
    frozen: list[bool],
    *,
    rng: np.random.Generator,
    params: RegionParams,
    sstats: SearchStats,
    rstats: RepairStats,
) -> IntArray:
    """Local search, then merge-and-resplit of regions still out of band, then local search again."""
    band = problem.band
    households = np.asarray(problem.households, dtype=np.int64)
    area = np.asarray(problem.area_m2, dtype=np.float64)
    xy = np.asarray(problem.xy_m, dtype=np.float64)

    def search(current: IntArray) -> IntArray:
        return improve_labels(graph, current, households, area, xy, targets=targets, frozen_regions=frozen,
                              band=band, rng=rng, params=params.search, stats=sstats)  # fmt: skip

    labels = search(labels)
    sums = np.bincount(labels, weights=households, minlength=len(targets))
    stuck = ((sums < band.min) | (sums > band.max)) & ~np.asarray(frozen, dtype=bool)
    if stuck.any():
        labels = repair_out_of_band(graph, labels, households, band, frozen_regions=frozen, rng=rng,
                                    params=params.bisect, stats=rstats)  # fmt: skip
        labels = search(labels)
    return labels


def _k_range(total: int, band: Band) -> tuple[int, int]:
    """Region counts that fit ``total`` households by the band alone (may be empty: lo > hi)."""
    lo = max(1, math.ceil(total / band.max))
    hi = total // band.min if band.min > 0 else total
    return lo, max(hi, 0)


def _component_note(total: int, band: Band) -> str:
    lo, hi = _k_range(total, band)
    if total < band.min:
        return f"{total} households is under the band minimum {band.min}: one grid"
    if lo > hi:
        return f"{total} households cannot be split into grids of {band.min}..{band.max}"
    return ""


def _region_counts(
    totals: list[int], sizes: list[int], n_heavy: int, band: Band, n_grids: int | None
) -> tuple[list[int], str]:
    """Regions per component and a sentence when the band cannot be met with them."""
    ranges = [_k_range(t, band) for t in totals]
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


def _relabel_by_first_atom(labels: IntArray) -> IntArray:
    """Labels renumbered 0..k-1 in order of each region's lowest atom index (stable output)."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return rank[inverse].astype(np.int64)


def _diagnostics(
    labels: IntArray,
    households: IntArray,
    graph: AtomGraph,
    band: Band,
    reports: tuple[ComponentReport, ...],
    heavy_idx: IntArray,
    infeasible: str,
    bstats: BisectStats,
    sstats: SearchStats,
    rstats: RepairStats,
) -> RegionDiagnostics:
    k = int(labels.max()) + 1 if len(labels) else 0
    sums = np.bincount(labels, weights=households, minlength=k).astype(np.int64)
    inside = (sums >= band.min) & (sums <= band.max)
    cut = labels[graph.u] != labels[graph.v]
    return RegionDiagnostics(
        n_regions=k,
        components=reports,
        heavy_atoms=tuple(heavy_idx.tolist()),
        small_components=tuple(r.index for r in reports if r.households < band.min),
        out_of_band=tuple((int(r), int(sums[r])) for r in np.flatnonzero(~inside)),
        infeasible=infeasible,
        max_deviation=float(np.abs(sums - band.target).max()) if k else 0.0,
        share_in_band=float(inside.mean()) if k else 1.0,
        cut_cost=float(graph.cost[cut].sum()),
        splits=bstats.splits,
        trees=bstats.trees,
        bisection_fallbacks=bstats.fallbacks,
        sweeps=sstats.sweeps,
        moves=sstats.moves,
        repairs=rstats.repaired,
    )
