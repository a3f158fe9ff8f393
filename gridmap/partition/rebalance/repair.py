"""Minimal-change repair of grid labels on a unit graph: moves, splits and merges.

Why a separate, pure module: rebalancing (``rebalance.py``) is "change as little as possible", which
is a different objective from partitioning from scratch. Here the input is the current assignment of
units (road blocks, or pieces of blocks) to grids and the output is an assignment in which every grid
is back in the household band, reached by the cheapest steps first:

1. **cheap merges**: a grid holding at most half the band minimum joins a neighbour that can take it
   (moving its few households is cheaper than filling it from its neighbours);
2. **over-full grids**: give boundary units to neighbours with room (tried on a copy) or divide the
   grid on its own with the region strategy, whichever moves fewer households (``rebalance_divide``);
3. **moves**: a boundary unit goes from a grid to a neighbouring grid when that lowers the band
   violation of the pair, keeps every in-band grid in band and splits no grid into more pieces
   (checked by a BFS inside the donor); the move that fixes most violation per household moved wins;
4. **merges**: a grid still under the band minimum joins the neighbour that can take it;
5. **chains**: two moves through an in-band neighbour that passes on what it received;
6. **re-division** with one neighbour, the last resort (codes go to the parts they overlap most).

Rounds repeat while something improves. Regions carry the code of the grid they continue (``None``
for a new grid), so codes of grids that stayed in band are never lost. Households are counts (户).
"""

from __future__ import annotations

import numpy as np

from gridmap.partition.problem import PartitionProblem
from gridmap.partition.rebalance.divide import apply_division, feasible, redivide, trial
from gridmap.partition.rebalance.state import IntArray, RepairResult, RepairState, violation

#: Repair rounds (each: cheap merges, splits, moves, merges, chains, re-divisions); more never helped in tests.
MAX_ROUNDS = 4


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
    state = RepairState(problem, labels, codes)
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
                redivide(state, r, rng)
        if not state.out_of_band() or (state.total_violation(), len(state.members)) == before:
            break
    return RepairResult(state.labels, dict(state.codes), state.actions, state.retired)


def _cheap_merges(state: RepairState) -> None:
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


def _candidates(state: RepairState, *, only: int | None = None) -> list[tuple[float, float, int, int, int, int]]:
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


def _keeps_pieces(state: RepairState, region: int, unit: int) -> bool:
    """Does taking ``unit`` out of ``region`` leave it in no more pieces than it has now?"""
    members = state.members[region]
    return len(members) > 1 and state.components(members - {unit}) <= state.components(members)


def _record_move(state: RepairState, u: int, to: int, *, chain: bool = False) -> None:
    state.actions.append({"action": "move", "unit": u, "from": state.name(int(state.labels[u])),
                          "to": state.name(to), "households": int(state.h[u]), **({"chain": True} if chain else {})})
    state.move(u, to)


def _best_move(state: RepairState, *, only: int | None = None) -> tuple[int, int] | None:
    """Apply the best connectivity-preserving single move and return (unit, region); None if none."""
    for _, _, _, u, src, to in _candidates(state, only=only):
        if _keeps_pieces(state, src, u):
            _record_move(state, u, to)
            return u, to
    return None


def _hops_from(state: RepairState, region: int) -> list[tuple[int, int]]:
    """(unit, target region) for every boundary unit of ``region`` and each other region it touches."""
    out: set[tuple[int, int]] = set()
    for u in state.members[region]:
        for v, _ in state.adj[u]:
            other = int(state.labels[v])
            if other != region:
                out.add((u, other))
    return sorted(out)


def _hops_into(state: RepairState, region: int) -> list[tuple[int, int]]:
    """(unit, source region) for every unit of another region that touches ``region``."""
    out: set[tuple[int, int]] = set()
    for u in state.members[region]:
        for v, _ in state.adj[u]:
            other = int(state.labels[v])
            if other != region:
                out.add((v, other))
    return sorted(out)


def _best_chain(state: RepairState) -> bool:
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


def _moves_out(state: RepairState, r: int) -> tuple[list[tuple[int, int]], int, bool]:
    """The moves that would give away boundary units of ``r`` one at a time (tried on a copy), the
    households they move and whether ``r`` ends in band."""
    trial = state.clone()
    moves: list[tuple[int, int]] = []
    while trial.sums[r] > trial.band.max and (move := _best_move(trial, only=r)) is not None:
        moves.append(move)
    return moves, sum(int(state.h[u]) for u, _ in moves), trial.band.contains(trial.sums[r])


def _splits(state: RepairState, rng: np.random.Generator) -> None:
    """Every grid over the maximum: give boundary units to neighbours with room, or divide it on its
    own, whichever brings it into the band moving fewer households (moves win a tie: no new grid)."""
    for r in [r for r in state.out_of_band() if state.sums[r] > state.band.max]:
        moves, moved, by_moves = _moves_out(state, r)
        split = trial(state, [r], rng) if feasible(state.sums[r], state.band) else None
        if split is not None and split.violation == 0 and (not by_moves or split.moved < moved):
            apply_division(state, split)
        elif by_moves:
            for u, to in moves:
                _record_move(state, u, to)


def _merges(state: RepairState) -> None:
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
