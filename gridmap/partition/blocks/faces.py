"""Planar faces from lines: the noding primitive under blocks, splits and the final coverage.

Noding every line once and polygonizing gives faces that share identical edges, which is what
makes a set of polygons a valid coverage (``shapely.coverage_is_valid``). Work in a metric CRS.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry.base import BaseGeometry

GeomArray = npt.NDArray[np.object_]

#: Snap-rounding grid (m) for noding lines into faces: 0.1 mm, far below survey precision.
NODING_GRID_M = 1e-4
#: Longest edge segment (m) of finished grids, so they stay valid when reprojected to lon/lat.
MAX_SEGMENT_M = 10.0


def faces_from_lines(
    area: BaseGeometry, lines: Sequence[BaseGeometry] | GeomArray, *, grid_size_m: float = NODING_GRID_M
) -> GeomArray:
    """Faces of ``lines`` noded with the ring(s) of ``area`` that lie inside ``area``.

    Lines that do not close a ring (dangles) simply do not cut. Faces in holes of ``area`` or
    outside it are dropped, so the faces tile ``area`` up to ``grid_size_m``. Noding snap-rounds
    to that grid: floating-point noding of many nearly coincident lines (shared Voronoi or grid
    edges) leaves micro-gaps that turn closed rings into dangles, and spikes thinner than the
    grid would become self-intersections once reprojected to lon/lat.
    """
    parts = [shapely.boundary(area)]
    parts.extend(g for g in lines if g is not None and not g.is_empty)
    noded = shapely.union_all(np.asarray(parts, dtype=object), grid_size=grid_size_m)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if len(faces) == 0:
        return np.asarray([], dtype=object)
    shapely.prepare(area)
    inside = shapely.contains(area, shapely.point_on_surface(faces))
    return np.asarray(faces[inside], dtype=object)


def shared_boundaries(
    geoms: Sequence[BaseGeometry] | GeomArray, *, min_length_m: float = 1e-6
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], GeomArray, npt.NDArray[np.float64]]:
    """Pairs (i < j) of polygons whose boundaries share a line, with that line and its length (m).

    Polygons that touch only at points are not neighbours: a grid cannot be walked across a point.
    """
    arr = np.asarray(geoms, dtype=object)
    if len(arr) < 2:
        empty_i = np.zeros(0, dtype=np.int64)
        return empty_i, empty_i.copy(), np.asarray([], dtype=object), np.zeros(0)
    tree = shapely.STRtree(arr)
    a, b = tree.query(arr, predicate="intersects")
    keep = a < b
    a, b = a[keep].astype(np.int64), b[keep].astype(np.int64)
    lines = shapely.intersection(shapely.boundary(arr[a]), shapely.boundary(arr[b]))
    length = np.asarray(shapely.length(lines), dtype=float)
    ok = length > min_length_m
    return a[ok], b[ok], np.asarray(lines[ok], dtype=object), length[ok]


def components_from_pairs(n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Connected-component label per node of an undirected graph given as edge arrays."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def groups_from_slivers(faces: GeomArray, *, sliver_area_m2: float) -> list[list[int]]:
    """Merge faces below ``sliver_area_m2`` into the neighbour with the longest shared edge.

    Smallest first; a merged group that is still a sliver keeps merging. A sliver with no
    neighbour (an isolated fragment) stays on its own. Returns face indices per group.
    """
    n = len(faces)
    area = {i: float(x) for i, x in enumerate(shapely.area(faces))}
    adj: dict[int, dict[int, float]] = defaultdict(dict)
    a, b, _, length = shared_boundaries(faces)
    for i, j, le in zip(a.tolist(), b.tolist(), length.tolist(), strict=True):
        adj[i][j] = adj[i].get(j, 0.0) + le
        adj[j][i] = adj[j].get(i, 0.0) + le
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    heap = [(area[i], i) for i in range(n) if area[i] < sliver_area_m2]
    heapq.heapify(heap)
    while heap:
        size, g = heapq.heappop(heap)
        if g not in members or size != area[g] or not adj[g]:
            continue
        target = max(adj[g], key=lambda k: (adj[g][k], -k))
        for nbr, le in adj.pop(g).items():
            del adj[nbr][g]
            if nbr != target:
                adj[target][nbr] = adj[target].get(nbr, 0.0) + le
                adj[nbr][target] = adj[nbr].get(target, 0.0) + le
        members[target].extend(members.pop(g))
        area[target] += area.pop(g)
        if area[target] < sliver_area_m2:
            heapq.heappush(heap, (area[target], target))
    return [sorted(m) for _, m in sorted(members.items())]


def coverage_from_polygons(
    polygons: Sequence[BaseGeometry], area: BaseGeometry, *, max_segment_m: float = MAX_SEGMENT_M
) -> list[BaseGeometry]:
    """Re-node polygons that should tile ``area`` so that neighbours share identical vertices.

    Polygons built by separate overlay steps meet along edges whose vertices differ by noding
    noise; a coverage validator then reports them. Here all edges are noded once, every face is
    given to the polygon containing its interior point (gaps go to the neighbour with the longest
    shared edge) and each polygon is rebuilt from its faces. Returns polygons in input order.

    Edges are first cut into pieces of at most ``max_segment_m``: a segment straight in metres
    bows by centimetres in lon/lat over a kilometre, enough to cross a vertex that lies close to
    it and make the reprojected polygon self-intersect.
    """
    arr = np.asarray(polygons, dtype=object)
    faces = faces_from_lines(
        shapely.segmentize(area, max_segment_m), list(shapely.segmentize(shapely.boundary(arr), max_segment_m))
    )
    rep = shapely.point_on_surface(faces)
    owner = np.full(len(faces), -1, dtype=np.int64)
    f_idx, p_idx = shapely.STRtree(arr).query(rep, predicate="within")
    for f, p in sorted(zip(f_idx.tolist(), p_idx.tolist(), strict=True), reverse=True):
        owner[f] = p  # the lowest polygon index wins an overlap
    _give_orphans_to_neighbours(faces, owner, arr)
    out: list[BaseGeometry] = []
    for k in range(len(arr)):
        mine = faces[owner == k]
        out.append(shapely.coverage_union_all(mine) if len(mine) else shapely.Polygon())
    return out


def _give_orphans_to_neighbours(faces: GeomArray, owner: npt.NDArray[np.int64], polygons: GeomArray) -> None:
    """Assign faces with owner -1 to the owned neighbour with the longest shared edge (in place)."""
    if not (owner < 0).any():
        return
    a, b, _, length = shared_boundaries(faces)
    for _ in range(len(faces)):
        orphans = np.flatnonzero(owner < 0)
        if len(orphans) == 0:
            return
        best: dict[int, tuple[float, int]] = {}
        for i, j, le in zip(a.tolist(), b.tolist(), length.tolist(), strict=True):
            for x, y in ((i, j), (j, i)):
                if owner[x] < 0 <= owner[y] and le > best.get(x, (0.0, -1))[0]:
                    best[x] = (le, int(owner[y]))
        if not best:
            break
        for x, (_, k) in best.items():
            owner[x] = k
    for x in np.flatnonzero(owner < 0):
        owner[x] = int(np.argmin(shapely.distance(polygons, faces[x])))
