"""From atoms to region labels: groups, oversize estates and blocks, the strategy, and why grids miss.

Groups: an estate above the band that can be divided into grids of the band by count gets grids of
its own (P-25); every other atom belongs to a connected part of the community. A part too small for
a grid that touches an estate's own grids is solved together with them (instead of being glued on
afterwards, unbalanced); a part that touches nothing joins the nearest grid at assembly.

Flexible units (P-25, partition-notes.md): an estate, or a block that had to be split, whose ``h``
households fit no number of in-band grids of its own (``band.max < h < 2 * band.min`` for
300-500) has two options. Either it is kept whole as one grid over the maximum (a planner prefers
an estate kept whole), or its parts join neighbouring blocks so that both grids reach the band.
The parts are offered to the strategy first; if a grid holding one of them stays out of band, the
unit is tried whole (its atoms contracted into one) and kept whole unless its parts did strictly
better by (grids out of band, households outside the band). Either way it is flagged. In groups of
more than ``FLEX_TRIAL_ATOMS`` atoms the whole-unit trial is skipped (it re-solves the group) and
the report says so (``whole_tried``).

The strategy may return plain labels or a ``RegionResult`` with diagnostics; with diagnostics every
region out of band carries the strategy's reason ("proved infeasible: ..." / "heuristic: ...").
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd

from gridmap.errors import PartitionError
from gridmap.partition.blocks.atoms import ATOM_KIND, BLOCK_IDS, ESTATE_GROUP, problem_from_atoms
from gridmap.partition.blocks.faces import components_from_pairs
from gridmap.partition.blocks.households import HOUSEHOLDS
from gridmap.partition.grids.assemble import Group
from gridmap.partition.problem import Band, PartitionProblem, Strategy
from gridmap.partition.regions.island import k_range_of

IntArray = npt.NDArray[np.int64]
#: Groups with more atoms than this are solved once: trying a flexible unit whole re-solves the
#: whole group, which on a large one costs seconds for one grid.
FLEX_TRIAL_ATOMS = 200
#: Reason given when a strategy reports nothing about its regions.
PLAIN_REASON = "heuristic: the partition strategy found no better balance for this part of the community"


@dataclass(frozen=True)
class FlexUnit:
    """An estate or split block whose households fit no number of in-band grids of its own."""

    kind: str  # "estate" | "block"
    key: str  # estate group key ("<estate_id>#<part>") or "block:<block_id>"
    name: str  # estate id or block id, for messages
    atoms: IntArray
    households: int


@dataclass
class Solution:
    """Labels per atom (-1: a part left to join a neighbour at assembly) and what is known about them."""

    labels: IntArray
    solved: list[int]
    groups: list[Group]
    #: Region label -> reason it is out of band ("proved infeasible: ..." / "heuristic: ...").
    notes: dict[int, str] = field(default_factory=dict)
    islands: list[dict[str, Any]] = field(default_factory=list)
    #: Per flexible unit: what was chosen ("parts_join_neighbours" | "kept_whole") and the labels it spans.
    flexible: list[dict[str, Any]] = field(default_factory=list)
    strategy_s: float = 0.0


def groups_from_atoms(atoms: gpd.GeoDataFrame, edges: pd.DataFrame, band: Band) -> tuple[list[Group], list[FlexUnit]]:
    """Estate groups (estates above the band that fit grids of their own), connected parts of the
    rest (small parts touching an estate group merged into it), and the flexible units."""
    n = len(atoms)
    hh = atoms[HOUSEHOLDS].to_numpy(dtype=np.int64)
    own: dict[str, list[int]] = {}
    for i, (key, kind) in enumerate(zip(atoms[ESTATE_GROUP].tolist(), atoms[ATOM_KIND].tolist(), strict=True)):
        if isinstance(key, str) and kind != "estate":
            own.setdefault(key, []).append(i)
    flex = [FlexUnit("estate", k, k.split("#")[0], np.asarray(v, dtype=np.int64), int(hh[v].sum()))
            for k, v in own.items() if _no_count_fits(int(hh[v].sum()), band)]  # fmt: skip
    for unit in flex:
        own.pop(unit.key)
    in_own = np.zeros(n, dtype=bool)
    for ids in own.values():
        in_own[ids] = True
    a = edges["block_a"].to_numpy(dtype=np.int64)
    b = edges["block_b"].to_numpy(dtype=np.int64)
    length = edges["shared_length_m"].to_numpy(dtype=np.float64)
    free = ~in_own[a] & ~in_own[b]
    comp = components_from_pairs(n, a[free], b[free])
    groups = [Group(f"estate:{k}", np.asarray(v, dtype=np.int64), int(hh[v].sum()), k) for k, v in own.items()]
    group_of = np.full(n, -1, dtype=np.int64)
    for g, grp in enumerate(groups):
        group_of[grp.atoms] = g
    for c in np.unique(comp[~in_own]) if n else []:
        members = np.flatnonzero((comp == c) & ~in_own)
        total = int(hh[members].sum())
        host = _touching_group(members, group_of, a, b, length) if total < band.min else -1
        if host >= 0:
            grp = groups[host]
            groups[host] = Group(grp.key, np.sort(np.concatenate([grp.atoms, members])), grp.households + total,
                                 grp.estate)  # fmt: skip
        else:
            groups.append(Group(f"part:{len(groups)}", members, total, None))
    return groups, flex + _flexible_blocks(atoms, hh, in_own, band)


def _no_count_fits(households: int, band: Band) -> bool:
    lo, hi = k_range_of(households, band)
    return households > band.max and lo > hi


def _touching_group(
    members: IntArray, group_of: IntArray, a: IntArray, b: IntArray, length: npt.NDArray[np.float64]
) -> int:
    """The estate group sharing the longest boundary with ``members`` (-1 if none touches them)."""
    inside = np.zeros(len(group_of), dtype=bool)
    inside[members] = True
    shared: dict[int, float] = {}
    for x, y, le in zip(a.tolist(), b.tolist(), length.tolist(), strict=True):
        if inside[x] != inside[y]:
            other = int(group_of[y if inside[x] else x])
            if other >= 0:
                shared[other] = shared.get(other, 0.0) + le
    return max(shared, key=lambda g: (shared[g], -g)) if shared else -1


def _flexible_blocks(
    atoms: gpd.GeoDataFrame, hh: IntArray, in_own: npt.NDArray[np.bool_], band: Band
) -> list[FlexUnit]:
    """Blocks split into pieces (outside estates) whose households fit no number of grids alone."""
    pieces: dict[int, list[int]] = {}
    kinds, estates, blocks = atoms[ATOM_KIND].tolist(), atoms[ESTATE_GROUP].tolist(), atoms[BLOCK_IDS].tolist()
    for i, (kind, key, ids) in enumerate(zip(kinds, estates, blocks, strict=True)):
        if kind == "piece" and not isinstance(key, str) and not in_own[i]:
            pieces.setdefault(int(ids[0]), []).append(i)
    return [FlexUnit("block", f"block:{bid}", str(bid), np.asarray(v, dtype=np.int64), int(hh[v].sum()))
            for bid, v in sorted(pieces.items()) if len(v) > 1 and _no_count_fits(int(hh[v].sum()), band)]  # fmt: skip


def allocate(groups: list[Group], solvable: list[int], n_grids: int | None) -> dict[int, int | None]:
    """Grids per solvable group: None (strategy decides) or a share of ``n_grids`` by households."""
    if n_grids is None:
        return dict.fromkeys(solvable)
    weights = np.asarray([max(groups[g].households, 1) for g in solvable], dtype=float)
    share = weights / weights.sum() * max(n_grids, len(solvable))
    base = np.maximum(np.floor(share).astype(int), 1)
    for i in np.argsort(-(share - np.floor(share)), kind="stable")[: max(0, n_grids - int(base.sum()))]:
        base[i] += 1
    return {g: min(int(k), len(groups[g].atoms)) for g, k in zip(solvable, base, strict=True)}


def solution_from_atoms(
    atoms: gpd.GeoDataFrame,
    edges: pd.DataFrame,
    band: Band,
    *,
    n_grids: int | None,
    strategy: Strategy,
    rng: np.random.Generator,
) -> Solution:
    """Global grid label per atom, the solved groups, and the reasons of every miss."""
    started = time.perf_counter()
    groups, flex = groups_from_atoms(atoms, edges, band)
    labels = np.full(len(atoms), -1, dtype=np.int64)
    big = [i for i, g in enumerate(groups) if g.households >= band.min or g.estate is not None]
    if not big and groups:
        big = [max(range(len(groups)), key=lambda i: (groups[i].households, -i))]
    allocation = allocate(groups, big, n_grids)
    solution = Solution(labels, big, groups)
    for gi in big:
        group = groups[gi]
        units = [u for u in flex if np.isin(u.atoms, group.atoms).all()]
        run = _GroupRun(atoms, edges, group, band, allocation[gi], strategy, rng)
        outcome = run.best_with(units)
        offset = int(labels.max()) + 1
        labels[group.atoms] = outcome.labels + offset
        solution.notes.update({offset + r: note for r, note in outcome.notes.items()})
        solution.islands.extend({"group": group.key, **island} for island in outcome.islands)
        solution.flexible.extend({**d, "labels": [offset + r for r in d["labels"]]} for d in outcome.decisions)
    solution.strategy_s = time.perf_counter() - started
    return solution


@dataclass
class _Outcome:
    labels: IntArray  # region 0..k-1 per atom of the group
    key: tuple[int, int]  # regions out of band, households outside the band
    notes: dict[int, str]
    islands: list[dict[str, Any]]
    decisions: list[dict[str, Any]] = field(default_factory=list)


class _GroupRun:
    """Runs the strategy on one group, with some flexible units contracted into single atoms."""

    def __init__(
        self,
        atoms: gpd.GeoDataFrame,
        edges: pd.DataFrame,
        group: Group,
        band: Band,
        n_grids: int | None,
        strategy: Strategy,
        rng: np.random.Generator,
    ) -> None:
        self.group, self.band, self.strategy, self.rng = group, band, strategy, rng
        self.hh = atoms[HOUSEHOLDS].to_numpy(dtype=np.int64)[group.atoms]
        self.problem = problem_from_atoms(atoms.iloc[group.atoms], edges, band=band, n_grids=n_grids)
        self.local = {int(a): i for i, a in enumerate(group.atoms.tolist())}

    def best_with(self, units: Sequence[FlexUnit]) -> _Outcome:
        """Parts of every unit free first; then each unit whose grids miss the band is tried whole."""
        whole: list[FlexUnit] = []
        proved: dict[str, bool] = {}
        best = self.solve(whole)
        tried: set[str] = set()
        for unit in units:
            if not self._misses(best, unit) or len(self.group.atoms) > FLEX_TRIAL_ATOMS:
                continue
            tried.add(unit.key)
            trial = self.solve([*whole, unit])
            if trial.key <= best.key:
                proved[unit.key] = all(note.startswith("proved infeasible") for note in best.notes.values())
                whole.append(unit)
                best = trial
        best.decisions = [{**self._decision(u, best, whole), "parts_proved": proved.get(u.key, False),
                           "whole_tried": u.key in tried} for u in units]  # fmt: skip
        return best

    def _misses(self, outcome: _Outcome, unit: FlexUnit) -> bool:
        regions = np.unique(outcome.labels[[self.local[int(a)] for a in unit.atoms]])
        return any(r in outcome.notes for r in regions.tolist())

    def _decision(self, unit: FlexUnit, outcome: _Outcome, whole: list[FlexUnit]) -> dict[str, Any]:
        regions = sorted(set(outcome.labels[[self.local[int(a)] for a in unit.atoms]].tolist()))
        kept = unit in whole
        return {"kind": unit.kind, "id": unit.name, "households": unit.households,
                "choice": "kept_whole" if kept else "parts_join_neighbours", "labels": regions,
                "in_band": not any(r in outcome.notes for r in regions)}  # fmt: skip

    def solve(self, whole: Sequence[FlexUnit]) -> _Outcome:
        """The strategy's labels with the atoms of ``whole`` units contracted into one atom each."""
        merge = [np.asarray([self.local[int(a)] for a in u.atoms], dtype=np.int64) for u in whole]
        problem, super_of = contracted(self.problem, merge)
        raw = self.strategy(problem, rng=self.rng)
        labels, diagnostics = _labels_and_diagnostics(raw, problem.n)
        _, relabelled = np.unique(labels, return_inverse=True)
        local = relabelled.astype(np.int64)[super_of]
        sums = np.bincount(local, weights=self.hh, minlength=int(local.max()) + 1 if len(local) else 0)
        outside = np.maximum(self.band.min - sums, 0) + np.maximum(sums - self.band.max, 0)
        notes = {int(r): PLAIN_REASON for r in np.flatnonzero(outside > 0)}
        islands: list[dict[str, Any]] = []
        if diagnostics is not None:
            order = np.unique(labels)  # strategy label -> relabelled index
            region_notes = list(getattr(diagnostics, "region_notes", ()))
            for r in notes:
                original = int(order[r])
                if original < len(region_notes) and region_notes[original]:
                    notes[r] = region_notes[original]
            islands = [_island_dict(c) for c in getattr(diagnostics, "components", ())]
        return _Outcome(local, (len(notes), int(outside.sum())), notes, islands)


def _labels_and_diagnostics(raw: Any, n: int) -> tuple[IntArray, Any]:
    """Labels (validated) and diagnostics (or None) from whatever the strategy returned."""
    diagnostics = getattr(raw, "diagnostics", None)
    labels = np.asarray(getattr(raw, "labels", raw))
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise PartitionError(
            f"partition strategy returned {labels.shape} labels of type {labels.dtype} for {n} atoms;"
            " it must return one non-negative integer label per atom"
        )
    return labels.astype(np.int64), diagnostics


def _island_dict(c: Any) -> dict[str, Any]:
    return {"atoms": int(c.atoms), "households": int(c.households), "grids": int(c.regions), "status": c.status,
            "k_range": [int(c.k_min), int(c.k_max)], "ks_tried": list(c.ks_tried), "attempts": int(c.attempts),
            "households_outside_band": float(c.violation),
        "exact": getattr(c, "exact_status", ""), "reason": c.reason}  # fmt: skip


def contracted(problem: PartitionProblem, merge: Sequence[IntArray]) -> tuple[PartitionProblem, IntArray]:
    """The problem with each index set of ``merge`` contracted into one atom, and the new index of
    every original atom. Households and areas add up; the position is the area-weighted centroid (m)."""
    n = problem.n
    super_of = np.arange(n, dtype=np.int64)
    for ids in merge:
        super_of[ids] = ids.min()
    _, super_of = np.unique(super_of, return_inverse=True)
    super_of = super_of.astype(np.int64)
    if not merge:
        return problem, super_of
    m = int(super_of.max()) + 1
    area = np.bincount(super_of, weights=problem.area_m2, minlength=m)
    weight = np.maximum(problem.area_m2, 1e-9)
    xy = np.column_stack([np.bincount(super_of, weights=problem.xy_m[:, d] * weight, minlength=m)
                          / np.bincount(super_of, weights=weight, minlength=m) for d in (0, 1)])  # fmt: skip
    edges = super_of[problem.edges] if len(problem.edges) else problem.edges
    keep = edges[:, 0] != edges[:, 1] if len(edges) else np.zeros(0, dtype=bool)
    out = PartitionProblem(
        households=np.bincount(super_of, weights=problem.households, minlength=m).astype(np.int64),
        xy_m=xy.astype(np.float64),
        area_m2=area.astype(np.float64),
        edges=np.sort(edges[keep], axis=1).astype(np.int64).reshape(-1, 2),
        edge_length_m=problem.edge_length_m[keep],
        edge_cut_weight=problem.edge_cut_weight[keep],
        band=problem.band,
        n_grids=None if problem.n_grids is None else min(problem.n_grids, m),
    )
    return out, super_of


__all__ = ["FlexUnit", "Solution", "allocate", "contracted", "groups_from_atoms", "solution_from_atoms"]
