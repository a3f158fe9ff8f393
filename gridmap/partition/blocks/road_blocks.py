"""Road blocks: the faces of the road network inside a community, and how they touch.

Grid edges should follow roads (P-15), so the smallest pieces a partition works with are the
faces of the road network clipped to the community: node the road lines together with the
boundary ring, polygonize, keep the faces inside. Everything here works in a metric CRS
(metres, m²); geographic input is projected to ``gridmap.crs.working_crs_for`` first.

The noding + polygonize step itself lives in ``faces.py``; ``split.py`` reuses it for minor ways
and cut lines, and ``assemble.py`` for the final coverage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.crs import working_crs_for
from gridmap.errors import PartitionError, ValidationError
from gridmap.model import RoadClass
from gridmap.partition.blocks.faces import (
    GeomArray,
    components_from_pairs,
    faces_from_lines,
    groups_from_slivers,
    shared_boundaries,
)
from gridmap.schema import GEOMETRY, GRIDS_SPEC, ROADS_SPEC

ROAD_CLASS = ROADS_SPEC.column("road_class").name
AREA_M2 = GRIDS_SPEC.column("area_m2").name
BLOCK_ID = "block_id"
COMPONENT = "component"
N_FACES = "n_faces"

#: Roads that bound blocks. Service roads and footpaths only split oversize blocks (split.py).
BLOCK_ROAD_CLASSES: frozenset[RoadClass] = frozenset({RoadClass.ARTERIAL, RoadClass.LOCAL, RoadClass.LANE})
MINOR_ROAD_CLASSES: frozenset[RoadClass] = frozenset({RoadClass.SERVICE, RoadClass.FOOTPATH})

#: Relative cost per metre of a grid edge on this kind of line; no road at all is the dearest.
CUT_WEIGHT_PER_M: dict[RoadClass | None, float] = {
    RoadClass.BOUNDARY: 1.0,
    RoadClass.ARTERIAL: 1.0,
    RoadClass.LOCAL: 2.0,
    RoadClass.LANE: 3.0,
    RoadClass.SERVICE: 4.0,
    RoadClass.FOOTPATH: 5.0,
    None: 10.0,
}

_HIGHWAY_CLASSES: dict[str, RoadClass] = {
    **dict.fromkeys(
        ("motorway", "trunk", "primary", "secondary", "motorway_link", "trunk_link", "primary_link"),
        RoadClass.ARTERIAL,
    ),
    **dict.fromkeys(
        ("secondary_link", "tertiary", "tertiary_link", "unclassified", "residential", "living_street", "road"),
        RoadClass.LOCAL,
    ),
    **dict.fromkeys(("pedestrian", "track", "busway"), RoadClass.LANE),
    "service": RoadClass.SERVICE,
    **dict.fromkeys(("footway", "path", "cycleway", "steps", "bridleway", "trail"), RoadClass.FOOTPATH),
}

#: Distance (m) within which a shared block boundary counts as lying on a road line.
_ON_ROAD_TOLERANCE_M = 0.05
#: Roads are clipped to the community buffered by this much (m) so that crossings node cleanly.
_CLIP_MARGIN_M = 2.0


def cut_weight_of(road_class: object) -> float:
    """CUT_WEIGHT_PER_M of a road class value as stored in an edges table (str, None or NaN)."""
    if isinstance(road_class, str) and road_class in RoadClass.__members__.values():
        return CUT_WEIGHT_PER_M[RoadClass(road_class)]
    return CUT_WEIGHT_PER_M[None]


def road_class_from_highway(highway: str | None) -> RoadClass | None:
    """Road class of an OSM ``highway=*`` value; None for indoor ways, platforms and unknown tags."""
    if not highway:
        return None
    return _HIGHWAY_CLASSES.get(str(highway).strip().lower())


def polygon_from_input(boundary: Any, *, source: str = "boundary") -> BaseGeometry:
    """One (multi)polygon from a shapely geometry, GeoSeries or GeoDataFrame (all rows unioned).

    Raises ValidationError naming ``source`` when the result is empty or not polygonal; an invalid
    polygon is repaired with ``make_valid`` when the repair is still polygonal.
    """
    if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        geoms = np.asarray(boundary.geometry.values, dtype=object)
        if len(geoms) == 0:
            raise ValidationError(f"{source}: the boundary layer has no features")
        geom = shapely.union_all(geoms)
    elif isinstance(boundary, BaseGeometry):
        geom = boundary
    else:
        raise ValidationError(f"{source}: expected a polygon geometry, got {type(boundary).__name__}")
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        kind = "an empty geometry" if geom.is_empty else f"a {geom.geom_type}"
        raise ValidationError(f"{source}: the community boundary must be a polygon or multipolygon, got {kind}")
    if not geom.is_valid:
        fixed = shapely.make_valid(geom)
        polygons = [g for g in shapely.get_parts(fixed) if g.geom_type == "Polygon"]
        if not polygons:
            raise ValidationError(f"{source}: the boundary is invalid ({shapely.is_valid_reason(geom)})")
        geom = shapely.union_all(polygons)
    return geom


def lines_from_roads(
    roads: gpd.GeoDataFrame | None,
    *,
    classes: Iterable[RoadClass] | None = None,
    source: str = "roads",
) -> gpd.GeoDataFrame:
    """Road lines with a validated ``road_class`` column (taken from ``highway`` when missing).

    Non-linear features (area highways, points) are dropped because they cannot bound a block.
    ``classes`` keeps only those classes; None keeps all.
    """
    if roads is None or len(roads) == 0:
        return gpd.GeoDataFrame({ROAD_CLASS: pd.Series([], dtype=object)}, geometry=[], crs=getattr(roads, "crs", None))
    frame = roads.copy()
    if ROAD_CLASS not in frame.columns:
        if "highway" not in frame.columns:
            raise ValidationError(f"{source}: roads need a '{ROAD_CLASS}' column (or an OSM 'highway' column)")
        frame[ROAD_CLASS] = [road_class_from_highway(h) for h in frame["highway"]]
        frame = frame[frame[ROAD_CLASS].notna()]
    valid = {c.value for c in RoadClass}
    bad = sorted({str(v) for v in frame[ROAD_CLASS] if str(v) not in valid})
    if bad:
        raise ValidationError(
            f"{source}: unknown road_class value(s) {', '.join(bad)}; expected one of {', '.join(sorted(valid))}"
        )
    frame[ROAD_CLASS] = [RoadClass(str(v)) for v in frame[ROAD_CLASS]]
    if classes is not None:
        wanted = set(classes)
        frame = frame[[c in wanted for c in frame[ROAD_CLASS]]]
    linear = shapely.get_type_id(np.asarray(frame.geometry.values, dtype=object)) == 1
    linear |= shapely.get_type_id(np.asarray(frame.geometry.values, dtype=object)) == 5
    return frame[linear].reset_index(drop=True)


def _assert_tiles(pieces: Sequence[BaseGeometry], area: BaseGeometry, *, what: str) -> None:
    """Raise PartitionError unless ``pieces`` tile ``area`` (sum of areas and union within 1e-6)."""
    total = float(sum(p.area for p in pieces))
    union = shapely.union_all(np.asarray(pieces, dtype=object)) if pieces else shapely.Polygon()
    gap = float(shapely.symmetric_difference(union, area).area)
    tol = 1e-6 * max(area.area, 1.0)
    if abs(total - area.area) > tol or gap > tol:
        raise PartitionError(
            f"{what}: faces do not tile the area (area {area.area:.3f} m², faces {total:.3f} m², "
            f"symmetric difference {gap:.6f} m²); the input geometry could not be noded cleanly"
        )


def blocks_from_roads(
    boundary: Any,
    roads: gpd.GeoDataFrame | None,
    *,
    sliver_area_m2: float,
    road_classes: Iterable[RoadClass] | None = BLOCK_ROAD_CLASSES,
    crs: pyproj.CRS | None = None,
    source: str = "boundary",
) -> gpd.GeoDataFrame:
    """Road blocks of a community: faces of the roads noded with the boundary, slivers merged.

    ``boundary`` is a (multi)polygon, GeoSeries or GeoDataFrame; a bare geometry is taken to be in
    ``crs`` or else the roads' CRS. Work happens in ``crs`` when given, else in the UTM zone of a
    geographic input. Returns one row per block in that metric CRS with ``block_id`` (0.. in
    north-to-south, west-to-east order), ``component`` (blocks connected through shared edges;
    a river or a multipolygon part gives a separate component), ``area_m2`` and ``n_faces``.
    """
    area, work_crs = _metric_boundary(boundary, roads, crs=crs, source=source)
    lines = lines_from_roads(roads, classes=road_classes)
    road_geoms: GeomArray = np.asarray([], dtype=object)
    if len(lines):
        if lines.crs is None:
            raise ValidationError("roads: the road layer has no CRS")
        lines = lines.to_crs(work_crs)
        clip = area.buffer(_CLIP_MARGIN_M)
        road_geoms = np.asarray(shapely.intersection(np.asarray(lines.geometry.values, dtype=object), clip))
    faces = faces_from_lines(area, road_geoms)
    groups = groups_from_slivers(faces, sliver_area_m2=sliver_area_m2)
    geoms = [shapely.coverage_union_all(faces[g]) for g in groups]
    _assert_tiles(geoms, area, what=f"{source}: road blocks")
    rep = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    order = np.lexsort((shapely.get_x(rep), -shapely.get_y(rep)))
    ordered = [geoms[i] for i in order]
    a, b, _, _ = shared_boundaries(ordered)
    return gpd.GeoDataFrame(
        {
            BLOCK_ID: np.arange(len(ordered), dtype=np.int64),
            COMPONENT: components_from_pairs(len(ordered), a, b),
            AREA_M2: [g.area for g in ordered],
            N_FACES: [len(groups[i]) for i in order],
        },
        geometry=ordered,
        crs=work_crs,
    )


def _metric_boundary(
    boundary: Any, roads: gpd.GeoDataFrame | None, *, crs: pyproj.CRS | None, source: str
) -> tuple[BaseGeometry, pyproj.CRS]:
    """The boundary polygon in a projected CRS, and that CRS."""
    geom = polygon_from_input(boundary, source=source)
    src = boundary.crs if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries) else None
    src = src or (roads.crs if roads is not None and roads.crs is not None else None) or crs
    if src is None:
        raise ValidationError(f"{source}: the boundary has no CRS and none was given")
    src_crs = pyproj.CRS.from_user_input(src)
    if crs is None:
        if src_crs.is_projected:
            return geom, src_crs
        lonlat = gpd.GeoSeries([geom], crs=src_crs).to_crs(4326).iloc[0]
        crs = working_crs_for(lonlat)
    if not pyproj.CRS.from_user_input(crs).is_projected:
        raise ValidationError(f"{source}: the working CRS {crs} is not projected (metres are needed)")
    projected = gpd.GeoSeries([geom], crs=src_crs).to_crs(crs).iloc[0]
    return projected, pyproj.CRS.from_user_input(crs)


def block_edges_from_blocks(
    blocks: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None,
    *,
    id_column: str = BLOCK_ID,
    with_geometry: bool = False,
) -> pd.DataFrame:
    """Edges between neighbouring blocks: ``block_a``, ``block_b`` (ids, a < b by row), the shared
    boundary length ``shared_length_m``, the length of it lying on any road ``road_length_m`` and
    ``road_class`` (the class value as a string): the biggest road class running along it, or None when
    two blocks (sliver merges, cut lines). A class counts when it covers at least half the shared
    boundary or 5 m of it, so a road merely crossing the edge does not. ``with_geometry`` adds the
    shared lines as a ``geometry`` column.
    """
    geoms = np.asarray(blocks.geometry.values, dtype=object)
    a, b, lines, length = shared_boundaries(geoms)
    ids = blocks[id_column].to_numpy()
    classes, on_road = _road_class_of_lines(lines, length, roads, crs=blocks.crs)
    frame = pd.DataFrame(
        {
            "block_a": ids[a],
            "block_b": ids[b],
            "shared_length_m": length,
            "road_length_m": on_road,
            "road_class": pd.Series([c.value if c is not None else None for c in classes], dtype=object),
        }
    )
    if with_geometry:
        frame[GEOMETRY] = list(lines)
    return frame


def _road_class_of_lines(
    lines: GeomArray,
    length: npt.NDArray[np.float64],
    roads: gpd.GeoDataFrame | None,
    *,
    crs: Any,
) -> tuple[list[RoadClass | None], npt.NDArray[np.float64]]:
    """Per shared line: the biggest road class along it and the length (m) lying on roads."""
    classes: list[RoadClass | None] = [None] * len(lines)
    on_road = np.zeros(len(lines))
    road_lines = lines_from_roads(roads)
    if len(lines) == 0 or len(road_lines) == 0:
        return classes, on_road
    if crs is not None and road_lines.crs is not None:
        road_lines = road_lines.to_crs(crs)
    rgeoms = np.asarray(road_lines.geometry.values, dtype=object)
    rclass = list(road_lines[ROAD_CLASS])
    tree = shapely.STRtree(rgeoms)
    e, r = tree.query(lines, predicate="dwithin", distance=_ON_ROAD_TOLERANCE_M)
    if len(e) == 0:
        return classes, on_road
    pads = shapely.buffer(rgeoms[r], _ON_ROAD_TOLERANCE_M, cap_style="flat")
    overlap = np.asarray(shapely.length(shapely.intersection(lines[e], pads)), dtype=float)
    per_class: dict[int, dict[RoadClass, float]] = defaultdict(dict)
    for ei, ri, ov in zip(e.tolist(), r.tolist(), overlap.tolist(), strict=True):
        cls = rclass[ri]
        per_class[ei][cls] = per_class[ei].get(cls, 0.0) + ov
    for ei, by_class in per_class.items():
        need = min(5.0, 0.5 * float(length[ei]))
        big = [c for c, ov in by_class.items() if ov >= need]
        classes[ei] = min(big, key=lambda c: c.rank) if big else None
        on_road[ei] = min(float(length[ei]), sum(by_class.values()))
    return classes, on_road
