"""Recursive spanning-tree bisection (ReCom-style) of one connected component of atoms.

Why spanning trees: cutting one edge of a spanning tree always leaves two *connected* halves,
so contiguity comes for free, and the household sums of every possible cut are known after one
pass over the tree (subtree sums). Why a biased *minimum* spanning tree: the tree weights are
random jitter divided by the edge's cut cost, so edges that are expensive to cut (no road
between the atoms) tend to be inside the tree and cheap edges (big roads) tend to be left out;
subtrees then end at big roads, which is where grid edges should run (P-15).

A split of ``k`` parts into ``k1 + k2`` is *feasible* when both halves can still be divided into
parts inside the band by count: ``k1 * min <= s <= k1 * max`` (and the same for the other side).
Among feasible cuts the one closest to proportional wins, with a small bonus for a cheap boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import depth_first_order, minimum_spanning_tree

from gridmap.errors import PartitionError
from gridmap.partition.problem import Band
from gridmap.partition.regions.graph import AtomGraph, FloatArray, IntArray

#: Above this many atoms the spanning tree is built by scipy, below in plain Python (faster there).
_SMALL_TREE = 300


@dataclass(frozen=True)
class BisectParams:
    """Knobs of the bisection; defaults were tuned on the synthetic benchmark (benchmarks/partition.py)."""

    #: Spanning trees drawn per split before giving up and taking the least-bad cut.
    max_tree_attempts: int = 40
    #: Trees with a feasible cut compared before choosing (more = better cuts, slower).
    trees_per_split: int = 3
    #: Candidate cuts per tree whose boundary cost is measured.
    max_candidates: int = 6
    #: Imbalance (households) worth one average edge of boundary, as a share of the band width.
    balance_per_edge: float = 0.02
    #: A side that will be cut again keeps its average part this many average atoms inside the band.
    margin_atoms: float = 0.5


@dataclass
class BisectStats:
    """Counters reported in the diagnostics (how hard the bisection had to work)."""

    splits: int = 0
    trees: int = 0
    fallbacks: int = 0


@dataclass(frozen=True)
class _Cut:
    score: float
    violation: float
    mask: np.ndarray
    k_sub: int


def parts_from_component(
    graph: AtomGraph,
    nodes: IntArray,
    k: int,
    households: IntArray,
    band: Band,
    *,
    rng: np.random.Generator,
    params: BisectParams,
    stats: BisectStats,
) -> list[IntArray]:
    """Split one connected set of atoms (sorted global ids) into ``k`` connected parts."""
    in_nodes = np.zeros(graph.n, dtype=bool)
    in_nodes[nodes] = True
    edge_idx = np.flatnonzero(in_nodes[graph.u] & in_nodes[graph.v])
    stack: list[tuple[IntArray, IntArray, int]] = [(nodes, edge_idx, k)]
    parts: list[IntArray] = []
    while stack:
        sub_nodes, sub_edges, sub_k = stack.pop()
        if sub_k <= 1:
            parts.append(sub_nodes)
            continue
        cut = _best_cut(graph, sub_nodes, sub_edges, sub_k, households, band, rng=rng, params=params, stats=stats)
        stats.splits += 1
        side_a = sub_nodes[cut.mask]
        side_b = sub_nodes[~cut.mask]
        lu = np.searchsorted(sub_nodes, graph.u[sub_edges])
        lv = np.searchsorted(sub_nodes, graph.v[sub_edges])
        both_a = cut.mask[lu] & cut.mask[lv]
        both_b = ~cut.mask[lu] & ~cut.mask[lv]
        stack.append((side_b, sub_edges[both_b], sub_k - cut.k_sub))
        stack.append((side_a, sub_edges[both_a], cut.k_sub))
    return parts


def _best_cut(
    graph: AtomGraph,
    nodes: IntArray,
    edges: IntArray,
    k: int,
    households: IntArray,
    band: Band,
    *,
    rng: np.random.Generator,
    params: BisectParams,
    stats: BisectStats,
) -> _Cut:
    """The best cut of ``nodes`` into two connected sides over several random spanning trees."""
    n_s = len(nodes)
    lu = np.searchsorted(nodes, graph.u[edges])
    lv = np.searchsorted(nodes, graph.v[edges])
    costs = graph.cost[edges]
    hh = households[nodes].astype(np.float64)
    margin_hh = params.margin_atoms * float(hh.mean())
    best: _Cut | None = None
    feasible_trees = 0
    for attempt in range(params.max_tree_attempts):
        stats.trees += 1
        weights = (0.5 + rng.random(len(edges))) / (costs + 0.05)
        order, pred = _random_tree(n_s, lu, lv, weights, root=int(rng.integers(n_s)))
        if len(order) != n_s:
            raise PartitionError(f"region bisection: a component of {n_s} atoms is not connected")
        phase = 3 * attempt // params.max_tree_attempts  # 0: balanced k1 + margin, 1: any k1 + margin, 2: any
        margin = min(margin_hh, (band.max - band.min) / 4) if phase < 2 else 0.0
        cut = _cut_of_tree(order, pred, hh, lu, lv, costs, k, band, params=params, balanced_only=phase == 0,
                           margin=margin)  # fmt: skip
        if cut is None:
            continue
        if best is None or (cut.violation, cut.score) < (best.violation, best.score):
            best = cut
        if cut.violation == 0:
            feasible_trees += 1
            if feasible_trees >= params.trees_per_split:
                break
    if best is None:  # pragma: no cover - a tree of >= 2 nodes always has a cut
        raise PartitionError(f"region bisection: no cut found for {n_s} atoms")
    if best.violation > 0:
        stats.fallbacks += 1
    return best


def _random_tree(n_s: int, lu: IntArray, lv: IntArray, weights: FloatArray, *, root: int) -> tuple[IntArray, IntArray]:
    """Preorder and parent of the minimum spanning tree of the weighted subgraph, rooted at ``root``.

    Small subgraphs (most calls: the last levels of the recursion) use a plain-Python Kruskal,
    because scipy's per-call validation costs more than the whole tree at a dozen atoms.
    """
    if n_s > _SMALL_TREE:
        tree = minimum_spanning_tree(csr_matrix((weights, (lu, lv)), shape=(n_s, n_s)))
        order, pred = depth_first_order(tree, root, directed=False, return_predecessors=True)
        return order.astype(np.int64), pred.astype(np.int64)
    lu_l, lv_l = lu.tolist(), lv.tolist()
    parent = list(range(n_s))
    adj: list[list[int]] = [[] for _ in range(n_s)]
    joined = 0
    for e in np.argsort(weights, kind="stable").tolist():
        a, b = lu_l[e], lv_l[e]
        ra, rb = a, b
        while parent[ra] != ra:
            parent[ra] = parent[parent[ra]]
            ra = parent[ra]
        while parent[rb] != rb:
            parent[rb] = parent[parent[rb]]
            rb = parent[rb]
        if ra == rb:
            continue
        parent[ra] = rb
        adj[a].append(b)
        adj[b].append(a)
        joined += 1
        if joined == n_s - 1:
            break
    preorder: list[int] = []
    pred = [-1] * n_s
    seen = [False] * n_s
    seen[root] = True
    stack = [root]
    while stack:  # marking on push keeps every subtree contiguous in the preorder
        node = stack.pop()
        preorder.append(node)
        for nxt in adj[node]:
            if not seen[nxt]:
                seen[nxt] = True
                pred[nxt] = node
                stack.append(nxt)
    return np.asarray(preorder, dtype=np.int64), np.asarray(pred, dtype=np.int64)


def _subtree_sums(order: IntArray, pred: IntArray, hh: FloatArray) -> tuple[FloatArray, IntArray, IntArray]:
    """Households and atom counts below each tree node, and each node's preorder position."""
    order_l = order.tolist()
    pred_l = pred.tolist()
    sub = hh.tolist()
    cnt = [1] * len(order_l)
    for node in reversed(order_l[1:]):
        parent = pred_l[node]
        sub[parent] += sub[node]
        cnt[parent] += cnt[node]
    tin = np.empty(len(order_l), dtype=np.int64)
    tin[order] = np.arange(len(order_l))
    return np.asarray(sub), np.asarray(cnt, dtype=np.int64), tin


def _cut_of_tree(
    order: IntArray,
    pred: IntArray,
    hh: FloatArray,
    lu: IntArray,
    lv: IntArray,
    costs: FloatArray,
    k: int,
    band: Band,
    *,
    params: BisectParams,
    balanced_only: bool,
    margin: float,
) -> _Cut | None:
    """The best tree edge to cut: feasible first, then balance, then boundary cost."""
    sub, cnt, tin = _subtree_sums(order, pred, hh)
    total = float(sub[order[0]])
    cand = order[1:]
    s = sub[cand]
    rest = total - s
    ideal = total / k
    sizes = cnt[cand].astype(np.float64)
    k_lo = np.maximum(1, k - (len(order) - sizes))  # every part needs at least one atom
    k_hi = np.minimum(k - 1, sizes)
    k_sub, feasible = _k_sub_choice(s, rest, k, band, margin=margin, balanced_only=balanced_only, k_range=(k_lo, k_hi))
    dev = np.maximum(np.abs(s / k_sub - ideal), np.abs(rest / (k - k_sub) - ideal))
    violation = _range_violation(s, k_sub, band) + _range_violation(rest, k - k_sub, band)
    violation = np.where(feasible, 0.0, np.maximum(violation, 1e-9))
    order_key = np.lexsort((dev, violation))[: params.max_candidates]
    slack = max(params.balance_per_edge * (band.max - band.min), 1.0)
    tin_u, tin_v = tin[lu], tin[lv]
    best: _Cut | None = None
    for i in order_key.tolist():
        node = int(cand[i])
        start, stop = tin[node], tin[node] + cnt[node]
        in_u = (tin_u >= start) & (tin_u < stop)
        in_v = (tin_v >= start) & (tin_v < stop)
        boundary = float(costs[in_u != in_v].sum())
        score = float(dev[i]) / slack + boundary
        if best is None or (float(violation[i]), score) < (best.violation, best.score):
            mask = (tin >= start) & (tin < stop)
            best = _Cut(score, float(violation[i]), mask, int(k_sub[i]))
    return best


def _k_sub_choice(
    s: FloatArray,
    rest: FloatArray,
    k: int,
    band: Band,
    *,
    margin: float,
    balanced_only: bool,
    k_range: tuple[FloatArray, FloatArray],
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Parts ``j`` for the subtree side of each candidate cut (``k - j`` for the rest) and feasibility.

    A side of one part must be in band. A side of ``j >= 2`` parts will be cut again, which only
    works if its average part is not at the very edge of the band, so for those the band is
    narrowed by ``margin`` households. Among feasible ``j`` the one closest to proportional wins.
    ``k_range`` bounds ``j`` so that each side has at least as many atoms as parts.
    """
    total = s + rest
    prop = s * k / np.maximum(total, 1e-9)
    if balanced_only:
        options = [np.full(len(s), k // 2), np.full(len(s), k - k // 2)]
    else:
        low, high = max(band.min + margin, 1e-9), band.max - margin  # a band may start at 0 households
        lo = np.maximum(np.ceil(s / high), k - np.floor(rest / low))
        hi = np.minimum(np.floor(s / low), k - np.ceil(rest / high))
        lo, hi = np.maximum(lo, 2), np.minimum(hi, k - 2)
        middle = np.clip(np.rint(prop), lo, np.maximum(lo, hi))
        options = [middle, np.ones(len(s)), np.full(len(s), k - 1)]
    k_lo, k_hi = k_range
    best_j = np.clip(np.full(len(s), k // 2), k_lo, k_hi).astype(np.int64)
    best_gap = np.full(len(s), np.inf)
    for option in options:
        j = np.clip(option, k_lo, k_hi).astype(np.int64)
        ok = _side_ok(s, j, band, margin) & _side_ok(rest, k - j, band, margin)
        gap = np.where(ok, np.abs(j - prop), np.inf)
        better = gap < best_gap
        best_j = np.where(better, j, best_j)
        best_gap = np.where(better, gap, best_gap)
    return best_j, np.isfinite(best_gap)


def _side_ok(s: FloatArray, j: IntArray, band: Band, margin: float) -> npt.NDArray[np.bool_]:
    """Whether ``s`` households can become ``j`` parts: in band for one part, narrowed band for more."""
    m = np.where(j >= 2, margin, 0.0)
    return (s >= j * (band.min + m)) & (s <= j * (band.max - m))


def _range_violation(s: FloatArray, k: IntArray, band: Band) -> FloatArray:
    """Households by which ``s`` misses the range ``k * min .. k * max``."""
    return np.maximum(0.0, k * band.min - s) + np.maximum(0.0, s - k * band.max)
