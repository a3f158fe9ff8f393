"""Exact repair windows for islands too large for the exact model as a whole.

Why: on real data (OSM footpaths cut blocks into dozens of empty faces around a few buildings of
300-480 households) spanning-tree cuts and single-atom moves get stuck with grids out of band, and
restarts rarely help: the atoms are too coarse. A region out of band and its neighbouring regions
together are small enough for the exact model (``regions_exact``): it regroups their atoms into
connected regions with fewer households outside the band, or proves that this window cannot do
better. Windows are tried worst region first, a few rounds, each solve stopped by a node limit, so
the result is deterministic. This is large-neighbourhood search; it fixes misses but proves
nothing about the island as a whole.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from gridmap.partition.problem import Band
from gridmap.partition.regions.exact import ExactParams, exact_regions, reduced_size
from gridmap.partition.regions.graph import AtomGraph, FloatArray, IntArray


@dataclass(frozen=True)
class WindowParams:
    """Size and effort of the repair windows."""

    #: Most atoms (after removing empty leaves) in one window, one pass per size: small windows
    #: first (fast), then larger ones for what they could not fix.
    sizes: tuple[int, ...] = (32, 48)
    #: Branch-and-bound nodes per window (keeps each solve well under a second on 2 cores).
    node_limit: int = 800
    #: Passes over the regions still out of band.
    rounds: int = 3
    #: Windows solved at most per island.
    max_windows: int = 40


@dataclass
class WindowStats:
    windows: int = 0
    improved: int = 0


def repair_with_windows(
    graph: AtomGraph,
    labels: IntArray,
    households: IntArray,
    band: Band,
    *,
    k_fixed: bool,
    params: WindowParams,
    exact: ExactParams,
    stats: WindowStats,
) -> IntArray:
    """Labels (0..k-1) with regions out of band regrouped together with their neighbours where an
    exact solve of the window lowers the households outside the band. ``k_fixed`` keeps the number
    of regions of every window (an exact ``n_grids``)."""
    for size in params.sizes:
        labels = _pass(graph, labels, households, band, size, k_fixed=k_fixed, params=params, exact=exact, stats=stats)
    return labels


def _pass(
    graph: AtomGraph,
    labels: IntArray,
    households: IntArray,
    band: Band,
    max_atoms: int,
    *,
    k_fixed: bool,
    params: WindowParams,
    exact: ExactParams,
    stats: WindowStats,
) -> IntArray:
    """Windows of at most ``max_atoms`` atoms, worst region first, for ``params.rounds`` rounds."""
    labels = labels.copy()
    solver = dataclasses.replace(exact, max_atoms=max_atoms, node_limit=min(exact.node_limit, params.node_limit))
    for _ in range(params.rounds):
        changed = False
        tried: set[int] = set()  # regions by their lowest atom: labels change after every fix
        while stats.windows < params.max_windows:
            region = next((r for r in _worst_first(labels, households, band)
                           if int(np.flatnonzero(labels == r)[0]) not in tried), None)  # fmt: skip
            if region is None:
                break
            tried.add(int(np.flatnonzero(labels == region)[0]))
            window = _window(region, labels, graph, households, band, max_atoms)
            nodes = np.flatnonzero(np.isin(labels, window))
            current = _violation(labels[nodes], households[nodes], band)
            if current == 0:
                continue
            stats.windows += 1
            k_range = (len(window), len(window)) if k_fixed else (1, len(nodes))
            found = exact_regions(graph, nodes, households, band, k_range=k_range, params=solver,
                                  upper_bound=current)  # fmt: skip
            if found.labels is not None and found.violation < current:
                labels[nodes] = found.labels + int(labels.max()) + 1
                labels = _compact(labels)
                stats.improved += 1
                changed = True
        if not changed:
            break
    return _compact(labels)


def _sums(labels: IntArray, households: IntArray) -> FloatArray:
    return np.asarray(np.bincount(labels, weights=households.astype(np.float64), minlength=int(labels.max()) + 1))


def _outside(sums: FloatArray, band: Band) -> FloatArray:
    return np.asarray(np.maximum(band.min - sums, 0.0) + np.maximum(sums - band.max, 0.0))


def _violation(labels: IntArray, households: IntArray, band: Band) -> float:
    _, local = np.unique(labels, return_inverse=True)
    return float(_outside(_sums(local.astype(np.int64), households), band).sum())


def _worst_first(labels: IntArray, households: IntArray, band: Band) -> list[int]:
    """Regions out of band, most households outside first (ties: lowest label)."""
    outside = _outside(_sums(labels, households), band)
    bad = np.flatnonzero(outside > 0)
    return [int(r) for r in bad[np.lexsort((bad, -outside[bad]))]]


def _window(
    region: int, labels: IntArray, graph: AtomGraph, households: IntArray, band: Band, max_atoms: int
) -> list[int]:
    """``region`` plus neighbouring regions while the window stays small enough: neighbours out of
    band first (an over-full region next to an under-full one is the easiest fix), then those
    sharing the costliest boundary."""
    lu, lv = labels[graph.u], labels[graph.v]
    cross = lu != lv
    shared: dict[int, float] = {}
    for a, b, c in zip(lu[cross].tolist(), lv[cross].tolist(), graph.cost[cross].tolist(), strict=True):
        if a == region:
            shared[b] = shared.get(b, 0.0) + c
        elif b == region:
            shared[a] = shared.get(a, 0.0) + c
    outside = _outside(_sums(labels, households), band)
    window = [region]
    for q in sorted(shared, key=lambda q: (outside[q] == 0, -shared[q], q)):
        nodes = np.flatnonzero(np.isin(labels, [*window, q]))
        if reduced_size(graph, nodes, households, drop_zero_leaves=True) <= max_atoms:
            window.append(q)
    return window


def _compact(labels: IntArray) -> IntArray:
    _, out = np.unique(labels, return_inverse=True)
    return out.astype(np.int64)
