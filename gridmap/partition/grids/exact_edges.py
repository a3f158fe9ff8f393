"""Grids whose outer edges are the community boundary's own vertices, not a reprojected near-copy.

Grids are built in a metric working CRS and converted back to the boundary's CRS (lon/lat). Their
outer edges are then a *near-copy* of the boundary: the same line, but with a vertex every few
metres that lies on the boundary only to within floating-point noise. That copy is harmless in
the CRS it was made in, but a reader who projects the delivered file (QGIS, an analyst's
geopandas script) projects each straight lon/lat segment of the boundary as a chord, while the
grids' extra vertices land on the curve the segment really follows in metres: along a 2 km
boundary edge at 60° N the two differ by 0.1 m, which shows up as a 156 m² "gap" on one side of
the community and a 156 m² piece "outside" on the other (issue 16).

:func:`with_exact_outer_edges` rebuilds the grids from the boundary's exact rings plus the
grids' interior edges (edges two grids share), whose ends are moved onto the boundary: onto one
of its vertices when one is within the snap tolerance, else onto the nearest point of its
segment. Faces of that arrangement are given to the grid holding their interior point. The
result's union is the boundary to floating-point exactness in the boundary's CRS, and the only
new vertices on the boundary are the points where interior edges meet it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import PartitionError

GeomArray = npt.NDArray[np.object_]


class ExactEdgesError(PartitionError):
    """The grids could not be rebuilt on the boundary's own vertices (their coverage is broken)."""

    code = "exact_edges_failed"


def snap_tolerance_for(boundary: BaseGeometry, *, geographic: bool) -> float:
    """Distance (CRS units) within which a grid vertex is taken to lie on the boundary.

    The near-copy is off by well under a millimetre; 1 cm (``1e-7`` degrees in lon/lat) leaves a
    wide margin and is still far below the 10 m spacing of grid vertices.
    """
    del boundary
    return 1e-7 if geographic else 0.01


def _segments(geoms: GeomArray) -> Counter[tuple[tuple[float, float], tuple[float, float]]]:
    """Every ring segment of every polygon, direction-free, with how many polygons use it."""
    counts: Counter[tuple[tuple[float, float], tuple[float, float]]] = Counter()
    for geom in geoms:
        for ring in shapely.get_rings(shapely.get_parts(geom)):
            xy = [(float(x), float(y)) for x, y in shapely.get_coordinates(ring)]
            for p, q in pairwise(xy):
                if p != q:
                    counts[(p, q) if p < q else (q, p)] += 1
    return counts


def _ring_coordinates(boundary: BaseGeometry) -> list[npt.NDArray[np.float64]]:
    """The boundary's rings (exterior and holes of every part) as (n, 2) coordinate arrays."""
    return [shapely.get_coordinates(r) for r in shapely.get_rings(shapely.get_parts(boundary))]


def _nearest_on_rings(
    point: npt.NDArray[np.float64], rings: list[npt.NDArray[np.float64]]
) -> tuple[float, int, int, float, npt.NDArray[np.float64]]:
    """(distance, ring, segment, t, point) of the point of the rings nearest to ``point``."""
    best: tuple[float, int, int, float, npt.NDArray[np.float64]] | None = None
    for r, xy in enumerate(rings):
        p, q = xy[:-1], xy[1:]
        d = q - p
        length2 = np.einsum("ij,ij->i", d, d)
        t = np.clip(np.einsum("ij,ij->i", point - p, d) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
        foot = p + t[:, None] * d
        dist = np.hypot(*(foot - point).T)
        k = int(np.argmin(dist))
        if best is None or dist[k] < best[0]:
            best = (float(dist[k]), r, k, float(t[k]), foot[k])
    assert best is not None
    return best


class _Rings:
    """The boundary's rings, into which the ends of interior edges are inserted as vertices."""

    def __init__(self, boundary: BaseGeometry, tol: float) -> None:
        self.rings = _ring_coordinates(boundary)
        self.tol = tol
        self.inserted: dict[tuple[int, int], list[tuple[float, tuple[float, float]]]] = {}

    def snap(self, point: tuple[float, float]) -> tuple[float, float] | None:
        """``point`` moved onto the boundary (a vertex within ``tol``, else a new vertex on the
        nearest segment), or None when it is farther than ``tol`` from the boundary."""
        xy = np.asarray(point, dtype=float)
        dist, r, k, t, foot = _nearest_on_rings(xy, self.rings)
        if dist > self.tol:
            return None
        ring = self.rings[r]
        for v in (ring[k], ring[k + 1]):
            if float(np.hypot(*(v - xy))) <= self.tol:
                return float(v[0]), float(v[1])
        snapped = (float(foot[0]), float(foot[1]))
        self.inserted.setdefault((r, k), []).append((t, snapped))
        return snapped

    def lines(self) -> list[BaseGeometry]:
        """Each ring with the inserted vertices, in order along its segments."""
        out: list[BaseGeometry] = []
        for r, xy in enumerate(self.rings):
            coords: list[tuple[float, float]] = []
            for k in range(len(xy) - 1):
                coords.append((float(xy[k][0]), float(xy[k][1])))
                coords.extend(c for _, c in sorted(set(self.inserted.get((r, k), []))))
            coords.append(coords[0])
            out.append(shapely.LineString(coords))
        return out


def _interior_lines(grids: GeomArray, rings: _Rings, boundary: BaseGeometry) -> list[BaseGeometry]:
    """Edges shared by two grids, every vertex of theirs near the boundary moved onto it exactly.

    Every vertex is checked, not only the ends of merged lines: where three grids meet on the
    boundary, two of the shared edges end there and line-merging would join them into one line
    passing a hair inside the boundary, which leaves the grids on either side in one face.
    """
    counts = _segments(grids)
    shared = [seg for seg, n in counts.items() if n >= 2]
    if not shared:
        return []
    vertices = sorted({v for seg in shared for v in seg})
    distance = np.asarray(shapely.distance(shapely.points(np.asarray(vertices)), shapely.boundary(boundary)))
    moved = {v: rings.snap(v) for v, d in zip(vertices, distance.tolist(), strict=True) if d <= rings.tol}
    out: list[BaseGeometry] = []
    for p, q in shared:
        a, b = moved.get(p) or p, moved.get(q) or q
        if a != b:
            out.append(shapely.LineString([a, b]))
    return out


def with_exact_outer_edges(
    grids: Sequence[BaseGeometry] | GeomArray, boundary: BaseGeometry, *, tolerance: float
) -> list[BaseGeometry]:
    """The grids rebuilt on ``boundary``'s own rings (same CRS as the grids), in input order.

    ``grids`` must tile ``boundary`` (up to ``tolerance``) with identical shared vertices, as the
    engine's re-noded coverage does. Raises :class:`ExactEdgesError` when a grid gets no face.
    """
    arr = np.asarray(grids, dtype=object)
    if len(arr) == 0:
        return []
    rings = _Rings(boundary, tolerance)
    interior = _interior_lines(arr, rings, boundary)
    lines = [*rings.lines(), *interior]
    noded = shapely.union_all(np.asarray(lines, dtype=object))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    shapely.prepare(boundary)
    faces = faces[shapely.contains_properly(boundary, shapely.point_on_surface(faces))]
    owner = _owners(faces, arr)
    out: list[BaseGeometry] = []
    for k in range(len(arr)):
        mine = faces[owner == k]
        if len(mine) == 0:
            raise ExactEdgesError(f"grid #{k} lost all its area when rebuilt on the boundary's vertices")
        out.append(shapely.coverage_union_all(mine) if len(mine) > 1 else mine[0])
    return out


def _owners(faces: GeomArray, grids: GeomArray) -> npt.NDArray[np.int64]:
    """Index of the grid holding each face's interior point; else the grid it overlaps most."""
    owner = np.full(len(faces), -1, dtype=np.int64)
    pts = shapely.point_on_surface(faces)
    f_idx, g_idx = shapely.STRtree(grids).query(pts, predicate="within")
    for f, g in sorted(zip(f_idx.tolist(), g_idx.tolist(), strict=True), reverse=True):
        owner[f] = g
    for f in np.flatnonzero(owner < 0):
        overlap = shapely.area(shapely.intersection(grids, faces[f]))
        owner[f] = int(np.argmax(overlap))
    return owner


def frame_with_exact_outer_edges(frame: gpd.GeoDataFrame, boundary: BaseGeometry) -> gpd.GeoDataFrame:
    """``frame`` (grids tiling ``boundary``, same CRS) with its geometry rebuilt on the boundary's
    own vertices, each as a MultiPolygon (the grids layer's declared type)."""
    if len(frame) == 0:
        return frame
    crs = pyproj.CRS.from_user_input(frame.crs)
    tol = snap_tolerance_for(boundary, geographic=crs.is_geographic)
    rebuilt = with_exact_outer_edges(np.asarray(frame.geometry.values, dtype=object), boundary, tolerance=tol)
    out = frame.copy()
    out[out.geometry.name] = [shapely.MultiPolygon(list(shapely.get_parts(g))) for g in rebuilt]
    return out


__all__ = ["ExactEdgesError", "frame_with_exact_outer_edges", "snap_tolerance_for", "with_exact_outer_edges"]
