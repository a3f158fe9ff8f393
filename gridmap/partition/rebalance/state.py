"""The mutable state of one rebalance repair: region labels, members, household sums and codes.

Shared by ``rebalance_repair`` (moves, chains, merges) and ``rebalance_divide`` (splits and
re-divisions with the region strategy). Households are counts (户); lengths are metres.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gridmap.partition.problem import Band, PartitionProblem

IntArray = npt.NDArray[np.int64]


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


class RepairState:
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

    def clone(self) -> RepairState:
        """A copy whose labels, members and sums can change without touching this one (graph shared)."""
        other = object.__new__(RepairState)
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
