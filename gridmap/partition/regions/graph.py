"""Sparse atom graph shared by the region strategy's bisection and local search.

Only O(n + m) structures (CSR arrays, Python adjacency lists): a 10,000-atom community must fit
in well under 1 GB, so nothing here is ever an n x n matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from gridmap.errors import ValidationError
from gridmap.partition.problem import PartitionProblem

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AtomGraph:
    """Undirected atom graph with one entry per (deduplicated) edge.

    Attributes:
        n: number of atoms.
        u, v: int[m] endpoints (u < v) of each edge.
        cost: float[m], cut cost of each edge (shared length in metres x cut weight per metre),
            divided by the mean cost so that "1.0" means "an average edge" whatever the units.
        neighbours: per atom, the list of adjacent atoms (Python lists: the local search walks
            them one at a time and lists are several times faster than numpy scalars there).
        neighbour_costs: per atom, the normalised cost of the edge to each neighbour.
    """

    n: int
    u: IntArray
    v: IntArray
    cost: FloatArray
    neighbours: list[list[int]]
    neighbour_costs: list[list[float]]

    @property
    def m(self) -> int:
        return len(self.u)

    def components(self, mask: npt.NDArray[np.bool_]) -> IntArray:
        """Component id per atom of the subgraph induced by ``mask`` (-1 outside the mask)."""
        keep = mask[self.u] & mask[self.v]
        adj = csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.int8), (self.u[keep], self.v[keep])), shape=(self.n, self.n)
        )
        _, comp = connected_components(adj, directed=False)
        comp = comp.astype(np.int64)
        # Renumber so that components are numbered in order of their first atom, masked atoms -1.
        out = np.full(self.n, -1, dtype=np.int64)
        idx = np.flatnonzero(mask)
        _, first, inverse = np.unique(comp[idx], return_index=True, return_inverse=True)
        rank = np.argsort(np.argsort(first))
        out[idx] = rank[inverse]
        return out


def graph_from_problem(problem: PartitionProblem) -> AtomGraph:
    """The deduplicated atom graph of a problem, with costs normalised to a mean of 1.

    Duplicate pairs (the same two atoms listed twice, e.g. once per shared road segment) are
    merged by adding their costs: cutting between the two atoms cuts every shared segment.
    """
    n = problem.n
    edges = np.asarray(problem.edges, dtype=np.int64).reshape(-1, 2)
    if len(edges) and (edges.min() < 0 or edges.max() >= n):
        raise ValidationError(f"partition problem: an edge refers to an atom outside 0..{n - 1}")
    raw_cost = np.asarray(problem.edge_length_m, dtype=np.float64) * np.asarray(
        problem.edge_cut_weight, dtype=np.float64
    )
    if len(raw_cost) and not np.isfinite(raw_cost).all():
        raise ValidationError("partition problem: edge lengths and cut weights must be finite")
    a = np.minimum(edges[:, 0], edges[:, 1])
    b = np.maximum(edges[:, 0], edges[:, 1])
    loop = a == b
    a, b, raw_cost = a[~loop], b[~loop], np.clip(raw_cost[~loop], 0.0, None)
    key = a * n + b
    uniq, inverse = np.unique(key, return_inverse=True)
    cost = np.bincount(inverse, weights=raw_cost, minlength=len(uniq)).astype(np.float64)
    u = (uniq // n).astype(np.int64)
    v = (uniq % n).astype(np.int64)
    mean = float(cost.mean()) if len(cost) else 1.0
    cost = cost / mean if mean > 0 else np.ones_like(cost)
    return AtomGraph(n, u, v, cost, *_adjacency_lists(n, u, v, cost))


def _adjacency_lists(n: int, u: IntArray, v: IntArray, cost: FloatArray) -> tuple[list[list[int]], list[list[float]]]:
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    costs = np.concatenate([cost, cost])
    order = np.lexsort((cols, rows))
    rows, cols, costs = rows[order], cols[order], costs[order]
    bounds = np.searchsorted(rows, np.arange(n + 1)).tolist()
    col_list = cols.tolist()
    cost_list = costs.tolist()
    neighbours = [col_list[bounds[i] : bounds[i + 1]] for i in range(n)]
    neighbour_costs = [cost_list[bounds[i] : bounds[i + 1]] for i in range(n)]
    return neighbours, neighbour_costs


def subgraph_of(graph: AtomGraph, nodes: IntArray) -> AtomGraph:
    """The graph induced by ``nodes`` (sorted global ids), renumbered 0..len(nodes)-1.

    Costs keep the parent's normalisation, so scores of an island solved on its own compare with
    scores computed on the whole graph.
    """
    inside = np.zeros(graph.n, dtype=bool)
    inside[nodes] = True
    keep = inside[graph.u] & inside[graph.v]
    u = np.searchsorted(nodes, graph.u[keep]).astype(np.int64)
    v = np.searchsorted(nodes, graph.v[keep]).astype(np.int64)
    cost = graph.cost[keep]
    return AtomGraph(len(nodes), u, v, cost, *_adjacency_lists(len(nodes), u, v, cost))
