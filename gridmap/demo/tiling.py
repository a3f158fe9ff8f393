"""Exact tilings of a polygon by Voronoi cells, built from one noded set of lines.

Why not just ``voronoi_cell & parent``: two neighbours clipped separately get their shared edge
computed twice, and floating point makes the copies differ by a hair (slivers, failing
``coverage_is_valid``). Here all boundary lines of every level are noded together once
(``union_all``) and polygonized into *faces*; each area is the union of its faces, so neighbours
share identical vertices and children union exactly to their parent. Voronoi edges are cut a
little *beyond* the parent (``overshoot_m``) so they surely cross its boundary; the overshoot
pieces are dangles, which ``polygonize`` drops.

All coordinates are metres in a projected working CRS.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import MultiPoint, Polygon
from shapely.geometry.base import BaseGeometry

from gridmap.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def points_in(region: BaseGeometry, n: int, rng: np.random.Generator) -> FloatArray:
    """``n`` uniform random points inside ``region`` (rejection sampling in its bounding box)."""
    minx, miny, maxx, maxy = region.bounds
    shapely.prepare(region)
    out: list[FloatArray] = []
    have = 0
    for _ in range(200):
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(max(64, 2 * n), 2))
        keep = xy[shapely.contains_xy(region, xy[:, 0], xy[:, 1])]
        out.append(keep)
        have += len(keep)
        if have >= n:
            break
    if have < n:
        raise ValidationError(f"demo tiling: cannot place {n} points inside a region of {region.area:.0f} m²")
    return np.concatenate(out)[:n]


def spread_points(region: BaseGeometry, k: int, rng: np.random.Generator, *, iterations: int = 12) -> FloatArray:
    """``k`` well-spread seeds inside ``region`` (Lloyd relaxation on random samples).

    Evenly spread seeds give Voronoi cells of similar size, like real communities of similar
    population. Each seed is snapped to a sample point, so it always lies inside ``region``.
    """
    samples = points_in(region, max(400, 60 * k), rng)
    centres = samples[rng.choice(len(samples), size=k, replace=False)]
    for _ in range(iterations):
        d2 = ((samples[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        nearest = d2.argmin(axis=1)
        for j in range(k):
            members = samples[nearest == j]
            if len(members):
                centres[j] = members.mean(axis=0)
    d2 = ((samples[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    snapped = samples[d2.argmin(axis=0)]
    return np.asarray(snapped, dtype=np.float64)


def voronoi_lines(seeds: FloatArray, parent: BaseGeometry, *, overshoot_m: float = 1.0) -> list[BaseGeometry]:
    """The Voronoi edges between ``seeds`` that lie within ``parent`` (plus ``overshoot_m``)."""
    if len(seeds) < 2:
        return []
    envelope = shapely.box(*parent.buffer(1000.0).bounds)
    edges = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=envelope, only_edges=True)
    clipped = shapely.intersection(edges, parent.buffer(overshoot_m))
    return [g for g in shapely.get_parts(clipped) if not g.is_empty]


def faces_from_lines(lines: Sequence[BaseGeometry]) -> npt.NDArray[np.object_]:
    """Faces of the planar graph formed by ``lines`` after noding them together."""
    noded = shapely.union_all(np.asarray(lines, dtype=object))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return np.asarray([f for f in faces if f.area > 1e-6], dtype=object)


def face_adjacency(faces: npt.NDArray[np.object_]) -> tuple[IntArray, IntArray, FloatArray]:
    """Pairs (i, j), i < j, of faces sharing an edge, and the shared length in metres."""
    tree = shapely.STRtree(faces)
    i, j = tree.query(faces, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(faces[i]), shapely.boundary(faces[j])))
    pos = shared > 1e-6
    return i[pos].astype(np.int64), j[pos].astype(np.int64), np.asarray(shared[pos], dtype=np.float64)


def merge_fragments(
    faces: npt.NDArray[np.object_],
    labels: IntArray,
    *,
    groups: IntArray | None = None,
) -> IntArray:
    """Relabel faces so every label is one connected piece.

    A Voronoi cell clipped to a non-convex parent can fall apart; each smaller piece goes to the
    neighbouring label (within the same ``group``, i.e. the same parent area) it shares the
    longest edge with. Repeats until every label is connected.
    """
    labels = labels.copy()
    group = np.zeros(len(faces), dtype=np.int64) if groups is None else groups
    area = shapely.area(faces)
    i, j, shared = face_adjacency(faces)
    for _ in range(50):
        same = labels[i] == labels[j]
        graph = coo_matrix((np.ones(int(same.sum())), (i[same], j[same])), shape=(len(faces), len(faces)))
        _, comp = connected_components(graph, directed=False)
        moved = False
        for label in np.unique(labels):
            members = np.flatnonzero(labels == label)
            comps = np.unique(comp[members])
            if len(comps) < 2:
                continue
            comp_area = np.array([area[members[comp[members] == c]].sum() for c in comps])
            for c in comps[np.argsort(-comp_area)][1:]:
                piece = set(members[comp[members] == c].tolist())
                target = _best_neighbour(piece, labels, group, i, j, shared)
                if target is not None:
                    labels[sorted(piece)] = target
                    moved = True
        if not moved:
            return labels
    raise ValidationError("demo tiling: fragments could not be merged into connected areas")


def _best_neighbour(
    piece: set[int], labels: IntArray, group: IntArray, i: IntArray, j: IntArray, shared: FloatArray
) -> int | None:
    """The label (same group, different label) sharing the longest boundary with ``piece``."""
    own = labels[next(iter(piece))]
    grp = group[next(iter(piece))]
    totals: dict[int, float] = {}
    for a, b, length in zip(i.tolist(), j.tolist(), shared.tolist(), strict=True):
        if (a in piece) == (b in piece):
            continue
        other = b if a in piece else a
        if labels[other] != own and group[other] == grp:
            key = int(labels[other])
            totals[key] = totals.get(key, 0.0) + length
    if not totals:
        return None
    return max(sorted(totals), key=lambda k: totals[k])


def union_by_label(faces: npt.NDArray[np.object_], labels: IntArray, n: int) -> list[Polygon]:
    """One polygon per label 0..n-1: the union of its faces (a valid coverage stays valid)."""
    out: list[Polygon] = []
    for label in range(n):
        members = faces[labels == label]
        if len(members) == 0:
            raise ValidationError(f"demo tiling: area {label} received no faces")
        merged = shapely.coverage_union_all(members)
        if not isinstance(merged, Polygon):
            merged = shapely.union_all(members)
        if not isinstance(merged, Polygon):
            raise ValidationError(f"demo tiling: area {label} is not one polygon but a {merged.geom_type}")
        out.append(merged)
    return out


def nearest_seed(points: FloatArray, seeds: FloatArray) -> IntArray:
    """Index of the nearest seed for each point (= the Voronoi cell containing it)."""
    d2 = ((points[:, None, :] - seeds[None, :, :]) ** 2).sum(axis=2)
    return np.asarray(d2.argmin(axis=1), dtype=np.int64)


def representative_xy(geoms: npt.NDArray[np.object_]) -> FloatArray:
    """A point surely inside each polygon (not the centroid, which may fall outside)."""
    return np.asarray(shapely.get_coordinates(shapely.point_on_surface(geoms)), dtype=np.float64)
