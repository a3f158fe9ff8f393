"""Splitting a block with more households than a grid may hold, without splitting a building.

First choice: cut along the block's internal minor ways (service roads, footpaths) and estate
boundaries, because people recognise them (P-15). Faces that a building straddles are joined
again (a cut never runs through a building, P-23), and an estate that fits the band stays whole
(P-25). Any face still above ``band.max`` is cut by clustering: the buildings are grouped into
``piece_count`` clusters of near-equal households (k-means on building points with a seeded rng,
the assignment balanced by a small transport LP) and the block is cut along the Voronoi diagram of
the clusters' buildings; the cut is then moved off buildings by giving every building face to its
own cluster, and a piece left in several parts hands its stray parts to the neighbour it shares
most edge with. Unequal buildings can still leave a piece above ``band.max``: it is cut again (a
few times at most) unless one building holds it all. All lines are noded once (``faces.py``), so
pieces tile the block exactly.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.partition.blocks.clusters import balanced_labels_from_points
from gridmap.partition.blocks.faces import (
    GeomArray,
    components_from_pairs,
    coverage_from_polygons,
    faces_from_lines,
    groups_from_slivers,
    shared_boundaries,
)
from gridmap.partition.blocks.households import HOUSEHOLDS
from gridmap.partition.problem import Band

#: Building outlines are sampled at least this often (m) to seed the Voronoi diagram.
_SAMPLE_SPACING_M = 5.0
#: A building overlapping a face by less than this (m²) does not tie the face to it (noding noise).
_TOUCH_AREA_M2 = 0.01
#: Times a piece still above ``band.max`` after clustering is cut again.
_MAX_RECUTS = 3


@dataclass
class BlockSplit:
    """Pieces of one block (metric CRS), their households, and each building's piece index."""

    pieces: list[BaseGeometry]
    households: list[int]
    building_piece: npt.NDArray[np.int64]
    method: str  # "whole" | "minor_ways" | "clusters" | "minor_ways+clusters"


def pieces_from_block(
    block: BaseGeometry,
    buildings: gpd.GeoDataFrame,
    *,
    band: Band,
    rng: np.random.Generator,
    minor_ways: Sequence[BaseGeometry] = (),
    keep_whole: Sequence[BaseGeometry] = (),
    sliver_area_m2: float = 200.0,
) -> BlockSplit:
    """Split ``block`` into pieces of at most ``band.max`` households where buildings allow.

    ``buildings`` are the block's buildings (same metric CRS, ``households`` column); each goes
    whole to one piece. ``keep_whole`` are estate polygons kept in one piece when they fit.
    A single building above ``band.max`` cannot be split and ends up alone in a piece.
    """
    geoms = np.asarray(buildings.geometry.values, dtype=object)
    hh = buildings[HOUSEHOLDS].to_numpy(dtype=np.int64)
    rep = shapely.point_on_surface(geoms)
    lines = [g for g in shapely.intersection(np.asarray(list(minor_ways), dtype=object), block) if not g.is_empty]
    lines += [shapely.intersection(shapely.boundary(e), block) for e in keep_whole]
    lines = [g for g in lines if not g.is_empty]
    faces = _faces_by_minor_ways(block, lines, geoms, rep, hh, band, keep_whole, sliver_area_m2)
    method = "minor_ways" if len(faces) > 1 else "whole"
    pieces: list[BaseGeometry] = []
    queue = [(face, 0) for face in reversed(faces)]
    recut = False
    while queue:  # a piece still over the maximum (clusters of unequal buildings) is cut again
        face, depth = queue.pop()
        inside = np.asarray(shapely.covered_by(rep, face), dtype=bool)
        total = int(hh[inside].sum())
        if total <= band.max or depth > _MAX_RECUTS:
            pieces.append(face)
            continue
        parts = pieces_from_clusters(face, geoms[inside], hh[inside], k=piece_count(total, band), rng=rng)
        if len(parts) < 2:  # one building (or overlapping buildings) holds it all: never cut
            pieces.append(face)
            continue
        method = "clusters" if method == "whole" else "minor_ways+clusters"
        recut = recut or depth > 0
        queue.extend((part, depth + 1) for part in reversed(parts))
    if recut:  # cutting a piece again added vertices its neighbours lack: node all pieces together
        pieces = [g for g in coverage_from_polygons(pieces, block) if not g.is_empty]
    building_piece = _piece_of_points(pieces, rep)
    households = [int(hh[building_piece == i].sum()) for i in range(len(pieces))]
    return BlockSplit(pieces, households, building_piece, method)


def piece_count(households: int, band: Band) -> int:
    """Pieces to cut ``households`` into: the count whose average piece is closest to the target
    among those that keep every piece in band (1,000 in 300-500 -> 3 pieces of ~333, not 2 of 500);
    when none does (max < households < 2 x min), two halves, each to be completed by neighbours."""
    lo = max(2, math.ceil(households / band.max))
    hi = households // band.min if band.min > 0 else households
    if lo > hi:
        return lo
    return min(range(lo, hi + 1), key=lambda k: (abs(households / k - band.target), k))


def _piece_of_points(pieces: Sequence[BaseGeometry], points: GeomArray) -> npt.NDArray[np.int64]:
    """Index of the first piece covering each point (-1 if none)."""
    owner = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or not pieces:
        return owner
    p_idx, g_idx = shapely.STRtree(np.asarray(pieces, dtype=object)).query(points, predicate="intersects")
    for p, g in sorted(zip(p_idx.tolist(), g_idx.tolist(), strict=True), reverse=True):
        owner[p] = g
    for p in np.flatnonzero(owner < 0):
        owner[p] = int(np.argmin(shapely.distance(np.asarray(pieces, dtype=object), points[p])))
    return owner


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for i in range(len(self.parent)):
            out[self.find(i)].append(i)
        return [out[k] for k in sorted(out)]


def _faces_by_minor_ways(
    block: BaseGeometry,
    lines: list[BaseGeometry],
    buildings: GeomArray,
    rep: GeomArray,
    hh: npt.NDArray[np.int64],
    band: Band,
    keep_whole: Sequence[BaseGeometry],
    sliver_area_m2: float,
) -> list[BaseGeometry]:
    """Faces of the block cut by minor ways, re-joined where a building or a fitting estate spans them."""
    if not lines:
        return [block]
    faces = faces_from_lines(block, lines)
    if len(faces) < 2:
        return [block]
    uf = _UnionFind(len(faces))
    polys = np.flatnonzero(np.asarray(shapely.area(buildings), dtype=float) > 0)
    if len(polys):
        b_idx, f_idx = shapely.STRtree(faces).query(buildings[polys], predicate="intersects")
        overlap = np.asarray(shapely.area(shapely.intersection(faces[f_idx], buildings[polys][b_idx])))
        first: dict[int, int] = {}
        for bi, fi, ov in zip(b_idx.tolist(), f_idx.tolist(), overlap.tolist(), strict=True):
            if ov > _TOUCH_AREA_M2:
                uf.union(first.setdefault(bi, fi), fi)
    face_rep = shapely.point_on_surface(faces)
    for estate in keep_whole:
        if int(hh[np.asarray(shapely.covered_by(rep, estate), dtype=bool)].sum()) > band.max:
            continue
        members = np.flatnonzero(shapely.covered_by(face_rep, estate))
        for m in members[1:]:
            uf.union(int(members[0]), int(m))
    joined = np.asarray([shapely.coverage_union_all(faces[g]) for g in uf.groups()], dtype=object)
    groups = groups_from_slivers(joined, sliver_area_m2=sliver_area_m2)
    return [shapely.coverage_union_all(joined[g]) for g in groups]


def _building_units(buildings: GeomArray) -> npt.NDArray[np.int64]:
    """Unit label per building: overlapping buildings form one unit that is never separated.

    Buildings that merely touch (terraces, perimeter blocks) stay separate units: a cut along
    their shared wall crosses neither.
    """
    n = len(buildings)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    a, b = shapely.STRtree(buildings).query(buildings, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    overlap = np.asarray(shapely.area(shapely.intersection(buildings[a], buildings[b])), dtype=float) > _TOUCH_AREA_M2
    return components_from_pairs(n, a[overlap].astype(np.int64), b[overlap].astype(np.int64))


def pieces_from_clusters(
    area: BaseGeometry,
    buildings: GeomArray,
    households: npt.NDArray[np.int64],
    *,
    k: int,
    rng: np.random.Generator,
) -> list[BaseGeometry]:
    """Cut ``area`` into up to ``k`` contiguous pieces by balanced clusters of its buildings.

    The cut follows the Voronoi diagram of the clusters' building outlines, then every building
    face is given to its building's cluster, so no cut line crosses a building.
    """
    units = _building_units(buildings)
    n_units = int(units.max()) + 1 if len(units) else 0
    if n_units < 2:
        return [area]
    unit_hh = np.bincount(units, weights=households, minlength=n_units).astype(np.int64)
    rep = shapely.point_on_surface(buildings)
    rep_xy = np.column_stack([shapely.get_x(rep), shapely.get_y(rep)])
    counts = np.bincount(units).astype(float)
    unit_xy = np.column_stack([np.bincount(units, weights=rep_xy[:, d]) / counts for d in (0, 1)]).astype(float)
    unit_label = balanced_labels_from_points(unit_xy, unit_hh, k=k, rng=rng)
    if len(np.unique(unit_label)) < 2:
        return [area]
    regions = _voronoi_regions(area, buildings, unit_label[units])
    lines = [shapely.intersection(shapely.boundary(r), area) for r in regions.values()]
    lines += list(shapely.boundary(buildings[np.asarray(shapely.area(buildings)) > 0]))
    faces = faces_from_lines(area, lines)
    owner = _face_owner(faces, regions, buildings, unit_label[units])
    face_hh = np.bincount(_piece_of_points(list(faces), rep), weights=households, minlength=len(faces)).astype(float)
    _make_contiguous(faces, owner, face_hh)
    return [shapely.coverage_union_all(faces[owner == c]) for c in sorted(set(owner.tolist()))]


def _voronoi_regions(
    area: BaseGeometry, buildings: GeomArray, label: npt.NDArray[np.int64]
) -> dict[int, BaseGeometry]:
    """Per cluster, the union of Voronoi cells of points sampled along its buildings' outlines."""
    dense = shapely.segmentize(buildings, _SAMPLE_SPACING_M)
    coords, idx = shapely.get_coordinates(dense, return_index=True)
    _, first = np.unique(np.round(coords, 6), axis=0, return_index=True)
    first = np.sort(first)
    pts, pts_label = coords[first], label[idx[first]]
    extent = shapely.box(*area.buffer(10.0).bounds)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=extent))
    bad = ~shapely.is_valid(cells)
    if bad.any():  # GEOS can return slightly self-intersecting cells for near-collinear points
        cells = np.concatenate([cells[~bad], shapely.get_parts(shapely.make_valid(cells[bad]))])
    cells = cells[shapely.get_type_id(cells) == 3]
    # label each cell by the sample point inside it (GEOS may merge near-duplicate points)
    c_idx, p_idx = shapely.STRtree(np.asarray(shapely.points(pts), dtype=object)).query(cells, predicate="covers")
    cell_label = np.full(len(cells), -1, dtype=np.int64)
    cell_label[c_idx] = pts_label[p_idx]
    dissolve = shapely.union_all if bad.any() else _coverage_union
    return {
        int(c): _clipped(dissolve(cells[cell_label == c]), extent) for c in np.unique(cell_label[cell_label >= 0])
    }


def _coverage_union(cells: GeomArray) -> BaseGeometry:
    """Union of valid Voronoi cells (a valid coverage: the fast union); the overlay union when GEOS
    objects or the fast union comes out invalid (cells of near-collinear points are not always a
    clean coverage)."""
    try:
        out = shapely.coverage_union_all(cells)
    except shapely.errors.GEOSException:
        return shapely.union_all(cells)
    return out if out.is_valid else shapely.union_all(cells)


def _clipped(region: BaseGeometry, extent: BaseGeometry) -> BaseGeometry:
    """``region`` inside ``extent``; repaired first if GEOS finds it invalid."""
    try:
        return shapely.intersection(region, extent)
    except shapely.errors.GEOSException:
        return shapely.intersection(shapely.make_valid(region), extent)


def _face_owner(
    faces: GeomArray,
    regions: dict[int, BaseGeometry],
    buildings: GeomArray,
    building_label: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Cluster per face: the building's cluster for a building face, else the Voronoi region's."""
    frep = shapely.point_on_surface(faces)
    owner = np.full(len(faces), -1, dtype=np.int64)
    keys = list(regions)
    r_idx, f_idx = shapely.STRtree(frep).query(np.asarray([regions[c] for c in keys], dtype=object),
                                               predicate="contains")
    for r, f in zip(r_idx.tolist(), f_idx.tolist(), strict=True):
        owner[f] = keys[r]
    polys = np.flatnonzero(np.asarray(shapely.area(buildings)) > 0)
    if len(polys):
        f2, b2 = shapely.STRtree(buildings[polys]).query(frep, predicate="within")
        owner[f2] = building_label[polys[b2]]
    if (owner < 0).any():
        d = np.asarray([[shapely.distance(regions[c], frep[f]) for c in keys] for f in np.flatnonzero(owner < 0)])
        owner[owner < 0] = np.asarray(keys)[np.argmin(d, axis=1)]
    return owner


def _make_contiguous(
    faces: GeomArray, owner: npt.NDArray[np.int64], face_hh: npt.NDArray[np.float64], *, rounds: int = 10
) -> None:
    """Give each cluster's stray parts (all but its most populous part) to the neighbour cluster
    sharing the longest edge with that part; in place, until every cluster is one part."""
    a, b, _, length = shared_boundaries(faces)
    for _ in range(rounds):
        same = owner[a] == owner[b]
        comp = components_from_pairs(len(faces), a[same], b[same])
        changed = False
        for c in np.unique(owner):
            parts = np.unique(comp[owner == c])
            if len(parts) < 2:
                continue
            score = [(face_hh[comp == p].sum(), shapely.area(faces[comp == p]).sum()) for p in parts]
            main = parts[max(range(len(parts)), key=lambda i: score[i])]
            for p in parts:
                if p == main:
                    continue
                target = _best_neighbour(np.flatnonzero(comp == p), owner, a, b, length)
                if target is not None:
                    owner[comp == p] = target
                    changed = True
        if not changed:
            return


def _best_neighbour(
    members: npt.NDArray[np.int64],
    owner: npt.NDArray[np.int64],
    a: npt.NDArray[np.int64],
    b: npt.NDArray[np.int64],
    length: npt.NDArray[np.float64],
) -> int | None:
    """The other cluster sharing the longest boundary with a set of faces."""
    inside = np.zeros(len(owner), dtype=bool)
    inside[members] = True
    mine = int(owner[members[0]])
    shared: dict[int, float] = defaultdict(float)
    for i, j, le in zip(a.tolist(), b.tolist(), length.tolist(), strict=True):
        if inside[i] != inside[j]:
            other = j if inside[i] else i
            if owner[other] != mine:
                shared[int(owner[other])] += le
    return max(shared, key=lambda c: (shared[c], -c)) if shared else None
