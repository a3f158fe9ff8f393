"""Minimal-change repair of grid labels on a unit graph: moves, splits and merges.

Why a separate, pure module: rebalancing (``rebalance.py``) is "change as little as possible", which
is a different objective from partitioning from scratch. Here the input is the current assignment of
units (road blocks, or pieces of blocks) to grids and the output is an assignment in which every grid
is back in the household band, reached by the cheapest steps first:

1. **cheap merges**: a grid holding at most half the band minimum joins a neighbour that can take it
   (moving its few households is cheaper than filling it from its neighbours);
2. **moves**: a boundary unit goes from a grid to a neighbouring grid when that lowers the band
   violation of the pair, keeps every in-band grid in band and splits no grid into more pieces
   (checked by a BFS inside the donor); the move that fixes most violation per household moved wins;
3. **splits**: a grid still over the band maximum is divided by the region strategy restricted to its
   own units; the part holding most households keeps the code;
4. **merges**: a grid still under the band minimum joins the neighbour that fits, else it is merged
   with its smallest neighbour and the two are re-divided (codes go to the parts they overlap most).

Rounds repeat while something improves. Regions carry the code of the grid they continue (``None``
for a new grid), so codes of grids that stayed in band are never lost. Households are counts (户).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gridmap.partition.problem import Band, PartitionProblem
from gridmap.partition.regions import region_result_from_problem

IntArray = npt.NDArray[np.int64]
#: Repair rounds (each: cheap merges, moves, splits, merges); more never helped in tests.
MAX_ROUNDS = 4


@dataclass
class RepairResult:
    """Final region per unit, the code each region continues (None = new grid) and what was done."""

    labels: IntArray
    codes: dict[int, str | None]
    actions: list[dict[str, Any]] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


def violation(households: float, band: Band) -> float:
    """Households outside the band: how far a grid is below the minimum or above the maximum."""
    return max(0.0, band.min - households) + max(0.0, households - band.max)


class _State:
    """Labels, members and sums of the regions being repaired (all mutable, local to one repair)."""

    def __init__(self, problem: PartitionProblem, labels: IntArray, codes: dict[int, str | None]) -> None:
        self.problem = problem
        self.band = problem.band
        self.h = np.asarray(problem.households, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64).copy()
        self.adj: list[list[tuple[int, float]]] = [[] for _ in range(problem.n)]
        for (a, b), length in zip(problem.edges.tolist(), problem.edge_length_m.tolist(), strict=True):
            if a != b:
                self.adj[a].append((b, float(length)))
                self.adj[b].append((a, float(length)))
        self.members: dict[int, set[int]] = {}
        for u, r in enumerate(self.labels.tolist()):
            self.members.setdefault(r, set()).add(u)
        self.codes = {r: codes.get(r) for r in self.members}
        self.sums = {r: int(self.h[list(m)].sum()) for r, m in self.members.items()}
        self.actions: list[dict[str, Any]] = []
        self.retired: list[str] = []

    def clone(self) -> _State:
        """A copy whose labels, members and sums can change without touching this one (graph shared)."""
        other = object.__new__(_State)
        other.__dict__.update(self.__dict__)
        other.labels = self.labels.copy()
        other.members = {r: set(m) for r, m in self.members.items()}
        other.codes = dict(self.codes)
        other.sums = dict(self.sums)
        other.actions = []
        other.retired = []
        return other

    def name(self, r: int) -> str:
        return self.codes.get(r) or f"new#{r}"

    def out_of_band(self) -> list[int]:
        return sorted(r for r, s in self.sums.items() if not self.band.contains(s))

    def total_violation(self) -> float:
        return sum(violation(s, self.band) for s in self.sums.values())

    def neighbours(self, r: int) -> dict[int, float]:
        """Regions adjacent to ``r`` with the shared boundary length (m)."""
        out: dict[int, float] = {}
        for u in self.members[r]:
            for v, length in self.adj[u]:
                other = int(self.labels[v])
                if other != r:
                    out[other] = out.get(other, 0.0) + length
        return out

    def components(self, units: set[int]) -> int:
        """Connected pieces of a set of units (BFS over the unit graph)."""
        seen: set[int] = set()
        pieces = 0
        for start in units:
            if start in seen:
                continue
            pieces += 1
            queue = deque([start])
            seen.add(start)
            while queue:
                u = queue.popleft()
                for v, _ in self.adj[u]:
                    if v in units and v not in seen:
                        seen.add(v)
                        queue.append(v)
        return pieces

    def move(self, u: int, to: int) -> None:
        src = int(self.labels[u])
        self.members[src].discard(u)
        self.members[to].add(u)
        self.labels[u] = to
        self.sums[src] -= int(self.h[u])
        self.sums[to] += int(self.h[u])

    def absorb(self, into: int, gone: int) -> None:
        """Region ``gone`` joins ``into``; its code is retired."""
        for u in self.members.pop(gone):
            self.labels[u] = into
            self.members[into].add(u)
        self.sums[into] += self.sums.pop(gone)
        code = self.codes.pop(gone)
        if code is not None:
            self.retired.append(code)

    def new_region(self, units: list[int], code: str | None) -> int:
        r = max(self.members) + 1 if self.members else 0
        for u in units:
            src = int(self.labels[u])
            self.members[src].discard(u)
            self.sums[src] -= int(self.h[u])
            self.labels[u] = r
        self.members[r] = set(units)
        self.sums[r] = int(self.h[units].sum())
        self.codes[r] = code
        return r


def repair_labels(
    problem: PartitionProblem,
    labels: IntArray,
    codes: dict[int, str | None],
    *,
    rng: np.random.Generator,
) -> RepairResult:
    """Bring every region of ``labels`` into ``problem.band`` with as few changes as possible.

    ``labels`` give the current region of each unit, ``codes`` the grid code of each region. Regions
    that cannot be repaired (a single unit above the maximum, an island below the minimum) stay as
    they are; the caller flags them.
    """
    state = _State(problem, labels, codes)
    for _ in range(MAX_ROUNDS):
        before = (state.total_violation(), len(state.members))
        _cheap_merges(state)
        _splits(state, rng)
        while _best_move(state) is not None:
            pass
        _merges(state)
        while _best_chain(state):
            pass
        for r in state.out_of_band():
            if r in state.members and not state.band.contains(state.sums[r]):
                _redivide(state, r, rng)
        if not state.out_of_band() or (state.total_violation(), len(state.members)) == before:
            break
    return RepairResult(state.labels, dict(state.codes), state.actions, state.retired)


def _cheap_merges(state: _State) -> None:
    """Grids with at most half the band minimum join the neighbour that can take them whole."""
    band = state.band
    for r in sorted(state.out_of_band(), key=lambda r: (state.sums.get(r, 0), r)):
        if r not in state.members or state.sums[r] > band.min - state.sums[r]:
            continue
        fits = {n: le for n, le in state.neighbours(r).items() if state.sums[n] + state.sums[r] <= band.max}
        if not fits:
            continue
        into = max(fits, key=lambda n: (fits[n], -state.sums[n], -n))
        state.actions.append({"action": "merge", "grid": state.name(r), "into": state.name(into),
                              "households": state.sums[r], "reason": "too few households to stand alone"})
        state.absorb(into, r)


def _candidates(state: _State, *, only: int | None = None) -> list[tuple[float, float, int, int, int, int]]:
    """(score, -shared length, households, unit, from, to) of every move that lowers the violation
    (only moves out of region ``only`` when given)."""
    band = state.band
    seen: set[tuple[int, int]] = set()
    out: list[tuple[float, float, int, int, int, int]] = []
    for r in state.out_of_band() if only is None else [only]:
        for u in state.members[r]:
            for v, _ in state.adj[u]:
                b = int(state.labels[v])
                if b != r:
                    seen.add((u, b))  # u leaves r for b
                    seen.add((v, r))  # v leaves b for r
    for u, to in seen:
        src = int(state.labels[u])
        if only is not None and src != only:
            continue
        h = int(state.h[u])
        if h == 0 or len(state.members[src]) == 1:
            continue
        sa, sb = state.sums[src], state.sums[to]
        gain = violation(sa - h, band) + violation(sb + h, band) - violation(sa, band) - violation(sb, band)
        if gain >= 0:
            continue
        if (band.contains(sa) and not band.contains(sa - h)) or (band.contains(sb) and not band.contains(sb + h)):
            continue
        shared = sum(le for v, le in state.adj[u] if int(state.labels[v]) == to)
        out.append((gain / h, -shared, h, u, src, to))
    out.sort()
    return out


def _keeps_pieces(state: _State, region: int, unit: int) -> bool:
    """Does taking ``unit`` out of ``region`` leave it in no more pieces than it has now?"""
    members = state.members[region]
    return len(members) > 1 and state.components(members - {unit}) <= state.components(members)


def _record_move(state: _State, u: int, to: int, *, chain: bool = False) -> None:
    state.actions.append({"action": "move", "unit": u, "from": state.name(int(state.labels[u])),
                          "to": state.name(to), "households": int(state.h[u]), **({"chain": True} if chain else {})})
    state.move(u, to)


def _best_move(state: _State, *, only: int | None = None) -> tuple[int, int] | None:
    """Apply the best connectivity-preserving single move and return (unit, region); None if none."""
    for _, _, _, u, src, to in _candidates(state, only=only):
        if _keeps_pieces(state, src, u):
            _record_move(state, u, to)
            return u, to
    return None


def _hops_from(state: _State, region: int) -> list[tuple[int, int]]:
    """(unit, target region) for every boundary unit of ``region`` and each other region it touches."""
    out: set[tuple[int, int]] = set()
    for u in state.members[region]:
        for v, _ in state.adj[u]:
            other = int(state.labels[v])
            if other != region:
                out.add((u, other))
    return sorted(out)


def _hops_into(state: _State, region: int) -> list[tuple[int, int]]:
    """(unit, source region) for every unit of another region that touches ``region``."""
    out: set[tuple[int, int]] = set()
    for u in state.members[region]:
        for v, _ in state.adj[u]:
            other = int(state.labels[v])
            if other != region:
                out.add((v, other))
    return sorted(out)


def _best_chain(state: _State) -> bool:
    """Two moves through an in-band neighbour (A -> B -> C, or C -> B -> A for a grid under the band)
    when no single move helps: the neighbour passes on what it received, so it stays in band."""
    band = state.band
    best: tuple[float, int, tuple[int, int], tuple[int, int]] | None = None
    for r in state.out_of_band():
        over = state.sums[r] > band.max
        firsts = [(u, r, b) for u, b in _hops_from(state, r)] if over else [(u, a, r) for u, a in _hops_into(state, r)]
        for u, src, dst in firsts:
            mid = dst if over else src
            if int(state.h[u]) == 0 or not band.contains(state.sums[mid]) or not _keeps_pieces(state, src, u):
                continue
            first_before = violation(state.sums[r], band) + violation(state.sums[mid], band)
            state.move(u, dst)
            first_gain = violation(state.sums[r], band) + violation(state.sums[mid], band) - first_before
            seconds = [(v, mid, c) for v, c in _hops_from(state, mid) if c != r] if over else \
                [(v, c, mid) for v, c in _hops_into(state, mid) if c != r]
            for v, src2, dst2 in seconds:
                if v == u or int(state.h[v]) == 0:
                    continue
                other = dst2 if over else src2
                was_in = band.contains(state.sums[other])
                touched = (r, mid, other)
                before = sum(violation(state.sums[g], band) for g in touched)  # r and mid after the first move
                state.move(v, dst2)
                ok = band.contains(state.sums[mid]) and (band.contains(state.sums[other]) or not was_in)
                gain = sum(violation(state.sums[g], band) for g in touched) - before + first_gain
                state.move(v, src2)
                if not ok or gain >= 0 or not _keeps_pieces(state, src2, v):
                    continue
                moved = int(state.h[u] + state.h[v])
                key = (gain / moved, moved, (u, dst), (v, dst2))
                if best is None or key < best:
                    best = key
            state.move(u, src)
    if best is None:
        return False
    _record_move(state, best[2][0], best[2][1], chain=True)
    _record_move(state, best[3][0], best[3][1], chain=True)
    return True


def _subproblem(problem: PartitionProblem, units: list[int]) -> PartitionProblem:
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
class _Division:
    """A trial re-division of some regions: the parts, which old region each part continues, the cost."""

    regions: list[int]
    parts: list[list[int]]
    owner: dict[int, int]
    violation: float
    moved: int


def _trial(state: _State, regions: list[int], rng: np.random.Generator) -> _Division | None:
    """Re-divide the union of ``regions`` with the region strategy; None when it cannot be divided."""
    units = sorted(set().union(*(state.members[r] for r in regions)))
    if len(units) < 2:
        return None
    labels = region_result_from_problem(_subproblem(state.problem, units), rng=rng).labels
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
    return _Division(regions, parts, owner, sum(violation(float(state.h[p].sum()), state.band) for p in parts), moved)


def _apply(state: _State, division: _Division) -> None:
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


def _feasible(total: int, band: Band) -> bool:
    """Can ``total`` households be divided into grids that are all inside the band?"""
    lo = max(1, -(-total // band.max))
    return lo <= (total // band.min if band.min > 0 else total)


def _redivide(state: _State, r: int, rng: np.random.Generator) -> None:
    """Re-divide ``r`` together with one neighbour: the trial with least violation, then fewest
    households moved, wins, and only if it lowers the violation of the grids involved."""
    trials = [
        t
        for n in sorted(state.neighbours(r))
        if _feasible(state.sums[r] + state.sums[n], state.band)
        for t in [_trial(state, [r, n], rng)]
        if t is not None
    ]
    best = min(trials, key=lambda t: (t.violation - sum(violation(state.sums[o], state.band) for o in t.regions),
                                      t.moved), default=None)  # fmt: skip
    if best is not None and best.violation < sum(violation(state.sums[o], state.band) for o in best.regions):
        _apply(state, best)


def _moves_out(state: _State, r: int) -> tuple[list[tuple[int, int]], int, bool]:
    """The moves that would give away boundary units of ``r`` one at a time (tried on a copy), the
    households they move and whether ``r`` ends in band."""
    trial = state.clone()
    moves: list[tuple[int, int]] = []
    while trial.sums[r] > trial.band.max and (move := _best_move(trial, only=r)) is not None:
        moves.append(move)
    return moves, sum(int(state.h[u]) for u, _ in moves), trial.band.contains(trial.sums[r])


def _splits(state: _State, rng: np.random.Generator) -> None:
    """Every grid over the maximum: give boundary units to neighbours with room, or divide it on its
    own, whichever brings it into the band moving fewer households (moves win a tie: no new grid)."""
    for r in [r for r in state.out_of_band() if state.sums[r] > state.band.max]:
        moves, moved, by_moves = _moves_out(state, r)
        split = _trial(state, [r], rng) if _feasible(state.sums[r], state.band) else None
        if split is not None and split.violation == 0 and (not by_moves or split.moved < moved):
            _apply(state, split)
        elif by_moves:
            for u, to in moves:
                _record_move(state, u, to)


def _merges(state: _State) -> None:
    """Grids under the minimum join the neighbour that can take them (longest shared boundary)."""
    band = state.band
    for r in sorted(state.out_of_band(), key=lambda r: (state.sums.get(r, 0), r)):
        if r not in state.members or state.sums[r] >= band.min:
            continue
        fits = {n: le for n, le in state.neighbours(r).items() if state.sums[n] + state.sums[r] <= band.max}
        if fits:
            into = max(fits, key=lambda n: (fits[n], -state.sums[n], -n))
            state.actions.append({"action": "merge", "grid": state.name(r), "into": state.name(into),
                                  "households": state.sums[r], "reason": "under the band minimum"})
            state.absorb(into, r)
