"""Streets (街道/乡镇) and communities (社区/村) tiling the real district outline exactly.

Urban areas are Voronoi cells snapped to road blocks: each block of the core street grid goes to
the nearest seed, so urban boundaries run along streets as real community boundaries do. Rural
areas are Voronoi cells of spread-out seeds. Both come from one noded set of lines (see
``tiling``), so children union exactly to their parent and neighbours share vertices.
Codes follow GB/T 10114 ranges: 街道 001-099, 镇 100-199, 乡 200-399; 社区 001-199, 村 200-399,
numbered west to east, north to south. All geometry in metres (working CRS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from gridmap.codes import reading_order
from gridmap.demo.names import NameFactory
from gridmap.demo.params import DemoParams
from gridmap.demo.roads import GridFrame, RoadDraft, urban_grid
from gridmap.demo.tiling import (
    faces_from_lines,
    merge_fragments,
    nearest_seed,
    representative_xy,
    spread_points,
    union_by_label,
    voronoi_lines,
)
from gridmap.errors import ValidationError
from gridmap.model import AreaLevel, RoadClass

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AreaDraft:
    """One area before it is written: geometry in metres, ``anchor`` = its seed (m), inside it."""

    code: str
    name: str
    level: AreaLevel
    parent_code: str | None
    geometry: Polygon
    urban: bool
    anchor: tuple[float, float]


@dataclass(frozen=True)
class Hierarchy:
    """The generated areas (metres) plus what later steps build on: the core outline, the street
    grid's frame (for lanes and building rows) and the urban roads the urban areas were cut from."""

    district: AreaDraft
    core: Polygon
    frame: GridFrame
    streets: list[AreaDraft]
    communities: list[AreaDraft]
    urban_roads: list[RoadDraft]


def core_polygon(centre: tuple[float, float], semi_axes_m: tuple[float, float], rng: np.random.Generator) -> Polygon:
    """A rounded, slightly irregular town outline (super-ellipse with low-frequency wobble)."""
    theta = np.linspace(0.0, 2 * np.pi, 240, endpoint=False)
    a, b = semi_axes_m
    r = (np.abs(np.cos(theta) / a) ** 3 + np.abs(np.sin(theta) / b) ** 3) ** (-1 / 3)
    wobble = np.ones_like(theta)
    for k in (2, 3, 4):
        wobble += rng.uniform(0.0, 0.035) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    xy = np.column_stack([centre[0] + r * wobble * np.cos(theta), centre[1] + r * wobble * np.sin(theta)])
    return Polygon(xy)


def _split_counts(total: int, weights: FloatArray) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainder), at least 1 each."""
    raw = weights / weights.sum() * (total - len(weights))
    counts = np.floor(raw).astype(int) + 1
    for i in np.argsort(-(raw - np.floor(raw)), kind="stable")[: total - int(counts.sum())]:
        counts[i] += 1
    return [int(c) for c in counts]


def _ordered(anchors: FloatArray) -> IntArray:
    return reading_order(anchors[:, 0], anchors[:, 1])


def _streets(
    district: Polygon, core: Polygon, urban: list[RoadDraft], params: DemoParams, rng: np.random.Generator
) -> tuple[list[BaseGeometry], npt.NDArray[np.object_], IntArray, FloatArray, int]:
    """Faces and street labels: urban streets = arterial super-blocks by nearest seed, townships = Voronoi cells.

    Urban streets are unions of whole super-blocks (faces of the arterials), so their boundaries
    run along arterials, like real 街道 boundaries.
    """
    rural = district.difference(core)
    k_u, k_r = params.urban_streets, params.townships
    useeds = spread_points(core, k_u, rng)
    rseeds = spread_points(rural, k_r, rng)
    lines = [district.exterior, *(r.geometry for r in urban), *voronoi_lines(rseeds, rural)]
    faces = faces_from_lines(lines)
    rep = representative_xy(faces)
    inside = shapely.contains_xy(district, rep[:, 0], rep[:, 1])
    faces, rep = faces[inside], rep[inside]
    in_core = shapely.contains_xy(core, rep[:, 0], rep[:, 1])
    supers = faces_from_lines([r.geometry for r in urban if r.road_class is RoadClass.ARTERIAL])
    srep = representative_xy(supers)
    keep = shapely.contains_xy(core, srep[:, 0], srep[:, 1])
    supers, srep = supers[keep], srep[keep]
    super_label = merge_fragments(supers, nearest_seed(srep, useeds))
    block_super = np.full(len(faces), -1, dtype=np.int64)
    for k, sup in enumerate(supers):
        block_super[shapely.contains_xy(sup, rep[:, 0], rep[:, 1])] = k
    urban_label = np.where(block_super >= 0, super_label[np.maximum(block_super, 0)], nearest_seed(rep, useeds))
    labels = np.where(in_core, urban_label, k_u + nearest_seed(rep, rseeds))
    labels = merge_fragments(faces, labels.astype(np.int64), groups=(~in_core).astype(np.int64))
    return lines, faces, labels, np.vstack([useeds, rseeds]), k_u


def hierarchy_from(
    district: Polygon,
    *,
    centre: tuple[float, float],
    params: DemoParams,
    rng: np.random.Generator,
    names: NameFactory,
    district_code: str,
    district_name: str,
) -> Hierarchy:
    """Build streets and communities inside ``district`` (metres) around an urban core at ``centre``."""
    core = core_polygon(centre, params.core_semi_axes_m, rng)
    if not core.within(district.buffer(-300.0)):
        raise ValidationError(
            f"demo: the urban core around {centre} does not fit 300 m inside the outline of {district_code}"
        )
    frame = GridFrame(centre, float(rng.uniform(-0.1, 0.1)))
    urban = urban_grid(core, frame, rng, names)
    lines, faces1, street_labels, street_seeds, k_u = _streets(district, core, urban, params, rng)
    street_polys = union_by_label(faces1, street_labels, len(street_seeds))
    weights = np.array([p.area for p in street_polys])
    counts = _split_counts(params.urban_communities, weights[:k_u]) + _split_counts(
        params.villages, weights[k_u:]
    )
    seeds = [spread_points(p, n, rng) for p, n in zip(street_polys, counts, strict=True)]
    extra = [ln for s in range(k_u, len(street_polys)) for ln in voronoi_lines(seeds[s], street_polys[s])]
    faces = faces_from_lines([*lines, *extra])
    rep = representative_xy(faces)
    inside = shapely.contains_xy(district, rep[:, 0], rep[:, 1])
    faces, rep = faces[inside], rep[inside]
    street_of = np.full(len(faces), -1, dtype=np.int64)
    for s, poly in enumerate(street_polys):
        street_of[shapely.contains_xy(poly, rep[:, 0], rep[:, 1])] = s
    if (street_of < 0).any():
        raise ValidationError("demo: some faces of the district fell in no street (tiling failed)")
    offsets = np.concatenate([[0], np.cumsum(counts)])
    labels = np.empty(len(faces), dtype=np.int64)
    for s in range(len(street_polys)):
        mask = street_of == s
        labels[mask] = offsets[s] + nearest_seed(rep[mask], seeds[s])
    labels = merge_fragments(faces, labels, groups=street_of)
    community_polys = union_by_label(faces, labels, int(offsets[-1]))
    street_polys = union_by_label(faces, street_of, len(street_polys))
    district_poly = shapely.coverage_union_all(faces)
    if not isinstance(district_poly, Polygon):
        raise ValidationError(f"demo: the faces of {district_code} do not union to one polygon")
    return _named(
        district_poly, core, frame, urban, street_polys, street_seeds, k_u, community_polys, seeds, counts,
        names=names, district_code=district_code, district_name=district_name,
    )


def _anchor(poly: Polygon, xy: FloatArray) -> tuple[float, float]:
    if poly.contains(Point(xy)):
        return float(xy[0]), float(xy[1])
    p = poly.point_on_surface()
    return float(p.x), float(p.y)


def _named(
    district_poly: Polygon,
    core: Polygon,
    frame: GridFrame,
    urban: list[RoadDraft],
    street_polys: list[Polygon],
    street_seeds: FloatArray,
    k_u: int,
    community_polys: list[Polygon],
    seeds: list[FloatArray],
    counts: list[int],
    *,
    names: NameFactory,
    district_code: str,
    district_name: str,
) -> Hierarchy:
    """Codes and names, numbered west to east, north to south within each parent."""
    d_anchor = (core.centroid.x, core.centroid.y)
    district = AreaDraft(district_code, district_name, AreaLevel.DISTRICT, None, district_poly, False, d_anchor)
    streets: list[AreaDraft] = []
    communities: list[AreaDraft] = []
    next_code = {"街道": 1, "镇": 100, "乡": 200}
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for s in _ordered(street_seeds):
        urban_street = bool(s < k_u)
        name = names.street() if urban_street else names.township()
        kind = "街道" if urban_street else name[-1]
        code = f"{district_code}{next_code[kind]:03d}"
        next_code[kind] += 1
        anchor = _anchor(street_polys[s], street_seeds[s])
        streets.append(AreaDraft(code, name, AreaLevel.STREET, district_code, street_polys[s], urban_street, anchor))
        seq = 1 if urban_street else 200
        for c in _ordered(seeds[s]):
            poly = community_polys[int(offsets[s]) + int(c)]
            cname = names.community() if urban_street else names.village()
            communities.append(
                AreaDraft(f"{code}{seq:03d}", cname, AreaLevel.COMMUNITY, code, poly, urban_street,
                          _anchor(poly, seeds[s][c]))
            )
            seq += 1
    return Hierarchy(district, core, frame, streets, communities, urban)
