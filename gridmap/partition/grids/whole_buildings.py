"""Keep every building whole in one grid (P-23): grid edges go around footprints, never through.

A grid edge can run through a building when a road line crosses it (an underpass, a passage
through a courtyard block, or a digitising error) or when an estate or split boundary does. The
building is counted in the grid holding its representative point; here its whole footprint
(clipped to the community) is given to that grid and taken out of the others, so no grid edge
crosses it. Work in the metric working CRS (areas in m²).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

GeomArray = npt.NDArray[np.object_]

#: Area (m²) of a footprint in another grid below which it is noding noise, not a cut.
NOISE_M2 = 1e-4


def cut_buildings(
    grids: GeomArray, footprints: GeomArray, owner: npt.NDArray[np.int64], *, noise_m2: float = NOISE_M2
) -> npt.NDArray[np.int64]:
    """Indices of buildings with more than ``noise_m2`` of their footprint outside their own grid."""
    valid = np.flatnonzero(owner >= 0)
    if len(valid) == 0 or len(grids) == 0:
        return np.zeros(0, dtype=np.int64)
    b, g = shapely.STRtree(grids).query(footprints[valid], predicate="intersects")
    b = valid[b]
    other = owner[b] != g
    b, g = b[other], g[other]
    if len(b) == 0:
        return np.zeros(0, dtype=np.int64)
    area = np.asarray(shapely.area(shapely.intersection(footprints[b], grids[g])), dtype=float)
    return np.unique(b[area > noise_m2]).astype(np.int64)


def keep_buildings_whole(
    grids: Sequence[BaseGeometry],
    footprints: Sequence[BaseGeometry] | GeomArray,
    owner: npt.NDArray[np.int64],
    area: BaseGeometry,
) -> tuple[list[BaseGeometry], int]:
    """Grids with each cut building moved whole into its ``owner`` grid, and how many were moved.

    ``owner`` is the grid index of each footprint (-1: not counted in any grid, left alone).
    Footprints are clipped to ``area`` (a building astride the community boundary keeps only
    its part inside). The result may overlap by noding noise; re-node it afterwards.
    """
    geoms = np.asarray(list(grids), dtype=object)
    fps = shapely.make_valid(np.asarray(footprints, dtype=object))
    cut = cut_buildings(geoms, fps, owner)
    for i in cut.tolist():
        piece = shapely.intersection(fps[i], area)
        if piece.is_empty or piece.area <= NOISE_M2:
            continue
        k = int(owner[i])
        touched = shapely.STRtree(geoms).query(piece, predicate="intersects")
        for j in touched.tolist():
            if j != k:
                geoms[j] = _polygons(shapely.difference(geoms[j], piece))
        geoms[k] = _polygons(shapely.union(geoms[k], piece))
    if len(cut):
        _rejoin_cut_off_pieces(geoms, fps, owner, before=np.asarray(list(grids), dtype=object))
    return list(geoms), len(cut)


def _rejoin_cut_off_pieces(
    geoms: GeomArray, footprints: GeomArray, owner: npt.NDArray[np.int64], *, before: GeomArray
) -> None:
    """Give pieces that taking a building out cut off from their grid to the neighbour sharing most edge.

    Only pieces of grids that were one piece before, and only pieces holding none of the grid's
    buildings (so no household changes grid): a courtyard corner left behind a moved building.
    """
    points = shapely.point_on_surface(footprints)
    for k in range(len(geoms)):
        parts = list(shapely.get_parts(geoms[k]))
        if len(parts) < 2 or len(shapely.get_parts(before[k])) > 1:
            continue
        mine = points[owner == k]
        parts.sort(key=lambda p: -p.area)
        keep = [parts[0]]
        for part in parts[1:]:
            if len(mine) and shapely.intersects(part, mine).any():
                keep.append(part)
                continue
            shared = [
                float(shapely.intersection(part.boundary, geoms[j].boundary).length) if j != k else 0.0
                for j in range(len(geoms))
            ]
            j = int(np.argmax(shared))
            if shared[j] <= 0.0:
                keep.append(part)
                continue
            geoms[j] = _polygons(shapely.union(geoms[j], part))
        geoms[k] = _polygons(shapely.union_all(np.asarray(keep, dtype=object)))


def _polygons(geom: BaseGeometry) -> BaseGeometry:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
    return shapely.union_all(np.asarray(parts, dtype=object)) if parts else shapely.Polygon()


__all__ = ["NOISE_M2", "cut_buildings", "keep_buildings_whole"]
