"""Balanced k-means: compact groups of buildings with near-equal households, for block splits.

Plain k-means balances nothing and a greedy capacity rule scatters the last points across the map;
the assignment here is a small transport linear programme (HiGHS via ``scipy.optimize.linprog``)
whose optimum is a power diagram of the centres, so clusters are convex and separate while every
cluster's households stay within a few percent of the mean. Randomness (k-means++ seeding) comes
only from the ``rng`` argument. Coordinates in metres.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog
from scipy.sparse import coo_matrix, vstack


def balanced_labels_from_points(
    xy: npt.NDArray[np.float64],
    weight: npt.NDArray[np.int64],
    *,
    k: int,
    rng: np.random.Generator,
    iterations: int = 8,
    slack: float = 0.05,
) -> npt.NDArray[np.int64]:
    """Balanced k-means: compact clusters of points with near-equal total weight (households).

    Weighted k-means++ seeding from ``rng``, then Lloyd rounds whose assignment step is a
    capacitated transport problem (each cluster may take at most ``(1 + slack)`` times the mean
    load, plus the heaviest point), solved as a linear programme with HiGHS. Its optimum is a
    power diagram of the centres, whose cells are convex, so clusters stay spatially separate.
    """
    n = len(xy)
    k = max(1, min(k, n))
    w = weight.astype(float)
    centres = _kmeanspp(xy, w + 1.0, k, rng)
    mean = w.sum() / k
    labels = np.argmin(_sq_dist(xy, centres), axis=1).astype(np.int64)
    for it in range(iterations):
        new = _transport_labels(_sq_dist(xy, centres), w, ((1.0 - slack) * mean, (1.0 + slack) * mean))
        if it > 0 and np.array_equal(new, labels):
            break
        labels = new
        centres = _weighted_centres(xy, w + 1e-3, labels, centres)
    return labels


def _transport_labels(
    d2: npt.NDArray[np.float64], w: npt.NDArray[np.float64], load: tuple[float, float], *, nearest: int = 6
) -> npt.NDArray[np.int64]:
    """Assign points to clusters minimising squared distance with each cluster's weight in ``load``.

    Each point may only join one of its ``nearest`` centres (a point never belongs to a far
    cluster in a compact solution; this keeps the LP at n x ``nearest`` variables); if that makes
    the programme infeasible, all centres are allowed. The LP relaxation splits few points (at most
    about k); each goes to its largest share, which moves a load by at most that point's weight.
    Falls back to the nearest centre if HiGHS fails.
    """
    n, k = d2.shape
    for m in dict.fromkeys((min(nearest, k), k)):
        cand = np.argsort(d2, axis=1, kind="stable")[:, :m]
        rows = np.repeat(np.arange(n), m)
        cols = np.arange(n * m)
        a_eq = coo_matrix((np.ones(n * m), (rows, cols)), shape=(n, n * m))
        a_load = coo_matrix((np.repeat(w, m), (cand.ravel(), cols)), shape=(k, n * m))
        res = linprog(
            (np.take_along_axis(d2, cand, axis=1) / (float(d2.max()) or 1.0)).ravel(),
            A_ub=vstack([a_load, -a_load]),
            b_ub=np.concatenate([np.full(k, load[1]), np.full(k, -load[0])]),
            A_eq=a_eq,
            b_eq=np.ones(n),
            bounds=(0, 1),
            method="highs",
        )
        if res.status == 0 and res.x is not None:
            best = np.argmax(res.x.reshape(n, m), axis=1)
            return np.asarray(cand[np.arange(n), best], dtype=np.int64)
    return np.asarray(np.argmin(d2, axis=1), dtype=np.int64)


def _sq_dist(xy: npt.NDArray[np.float64], centres: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(((xy[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), dtype=float)


def _weighted_centres(
    xy: npt.NDArray[np.float64],
    w: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    centres: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    out = centres.copy()
    for c in range(len(centres)):
        members = labels == c
        if members.any():
            out[c] = (xy[members] * w[members, None]).sum(axis=0) / w[members].sum()
    return out


def _kmeanspp(
    xy: npt.NDArray[np.float64], weight: npt.NDArray[np.float64], k: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """k-means++ seeding where a point's chance also grows with its households."""
    centres = [xy[int(rng.choice(len(xy), p=weight / weight.sum()))]]
    for _ in range(1, k):
        d2 = np.min(_sq_dist(xy, np.asarray(centres)), axis=1)
        p = d2 * weight
        if p.sum() <= 0:
            p = weight
        centres.append(xy[int(rng.choice(len(xy), p=p / p.sum()))])
    return np.asarray(centres, dtype=float)
