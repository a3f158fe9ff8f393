"""Generate the demo district from a seed: areas, roads, estates, buildings, units, service centres.

Everything is drawn from one ``numpy.random.Generator(seed)`` in a fixed order and all geometry
work is deterministic, so the same seed gives byte-identical layers. Work happens in metres in
the working CRS (``gridmap.crs.working_crs_for`` the outline: CGCS2000 Gauss-Krüger 114°E);
frames are returned in the storage CRS with exactly the columns of ``gridmap.schema``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from shapely.geometry import Polygon

from gridmap import schema
from gridmap.config import Settings
from gridmap.crs import to_storage, working_crs_for
from gridmap.demo.addresses import addresses_for_points
from gridmap.demo.estates import calibrate_households, estates_in_blocks
from gridmap.demo.frames import areas_frame, records_frame, service_centres_frame
from gridmap.demo.hierarchy import AreaDraft, Hierarchy, hierarchy_from
from gridmap.demo.names import NameFactory
from gridmap.demo.outline import district_outline
from gridmap.demo.params import CORE_CENTRE_LONLAT, SYNTHETIC_SOURCE, DemoParams
from gridmap.demo.roads import RoadDraft, lanes_in_blocks, rural_roads, village_lanes
from gridmap.demo.tiling import faces_from_lines, representative_xy
from gridmap.demo.units import UrbanBlock, place_urban_units
from gridmap.demo.villages import houses_for, settlement_for, village_units
from gridmap.model import AreaLevel

URBAN_TARGET_HOUSEHOLDS = (1800, 3000)
VILLAGE_TARGET_HOUSEHOLDS = (150, 450)


@dataclass(frozen=True)
class DemoDistrict:
    """The generated layers (storage CRS, schema columns) and the CRS the metric work used."""

    params: DemoParams
    working_crs: pyproj.CRS
    areas: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    estates: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    service_centres: gpd.GeoDataFrame

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """Layer name -> frame, in the order they are written."""
        return {
            schema.AREAS: self.areas,
            schema.ROADS: self.roads,
            schema.ESTATES: self.estates,
            schema.BUILDINGS: self.buildings,
            schema.UNITS: self.units,
            schema.SERVICE_CENTRES: self.service_centres,
        }


def _to_metres(poly: Polygon, crs: pyproj.CRS) -> Polygon:
    tr = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    coords = shapely.get_coordinates(poly)
    x, y = tr.transform(coords[:, 0], coords[:, 1])
    return Polygon(shapely.set_coordinates(poly, np.column_stack([x, y])))


def district_from_seed(params: DemoParams, settings: Settings) -> DemoDistrict:
    """Generate every base layer of the demo (no grids, workers or incidents: see ``build``)."""
    rng = np.random.default_rng(params.seed)
    names = NameFactory(rng)
    outline = district_outline()
    crs = working_crs_for(outline.polygon)
    district_m = _to_metres(outline.polygon, crs)
    centre = pyproj.Transformer.from_crs(4326, crs, always_xy=True).transform(*CORE_CENTRE_LONLAT)
    h = hierarchy_from(district_m, centre=(float(centre[0]), float(centre[1])), params=params, rng=rng,
                       names=names, district_code=outline.code, district_name=outline.name)
    urban = _urban(h, rng, names)
    rural = _rural(h, district_m, rng, names)
    roads = [*h.urban_roads, *urban["lanes"], *rural["roads"]]
    buildings = [*urban["buildings"], *rural["buildings"]]
    _number_buildings(buildings, urban["estates"], roads, settings)
    units = [*urban["units"], *rural["units"]]
    for k, u in enumerate(units):
        u["unit_id"] = f"{u['community_code']}U{k + 1:04d}"
    centres = _service_centres(h, urban["blocks"], rural["settlements"], roads)

    def store(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        return to_storage(frame.set_crs(crs), settings)

    return DemoDistrict(
        params=params,
        working_crs=crs,
        areas=store(areas_frame(h, buildings, outline.source, settings)),
        roads=store(records_frame(schema.ROADS_SPEC, _road_records(roads))),
        estates=store(records_frame(schema.ESTATES_SPEC, urban["estates"])),
        buildings=store(records_frame(schema.BUILDINGS_SPEC, buildings)),
        units=store(records_frame(schema.UNITS_SPEC, units)),
        service_centres=store(service_centres_frame(centres)),
    )


def _urban_blocks(h: Hierarchy, lanes: list[RoadDraft]) -> list[UrbanBlock]:
    faces = faces_from_lines([r.geometry for r in [*h.urban_roads, *lanes]])
    rep = representative_xy(faces)
    blocks: list[UrbanBlock] = []
    urban = [c for c in h.communities if c.urban]
    for face, (x, y) in zip(faces, rep, strict=True):
        for c in urban:
            if shapely.contains_xy(c.geometry, x, y):
                blocks.append(UrbanBlock(face, c.code))
                break
    return blocks


def _urban(h: Hierarchy, rng: np.random.Generator, names: NameFactory) -> dict[str, Any]:
    """Lanes, blocks, units, estates and calibrated buildings of the urban communities."""
    first = _urban_blocks(h, [])
    lanes = lanes_in_blocks([b.geometry for b in first], h.frame, rng, names)
    blocks = _urban_blocks(h, lanes)
    n_urban = sum(1 for c in h.communities if c.urban)
    core_centre = (h.core.centroid.x, h.core.centroid.y)
    units = place_urban_units(blocks, h.frame, core_centre, rng, names, n_communities=n_urban)
    estates, drafts = estates_in_blocks(blocks, h.frame, rng, names)
    buildings: list[dict[str, Any]] = []
    seq: dict[str, int] = {}
    for k, estate in enumerate(estates):
        code = estate["community_code"]
        seq[code] = seq.get(code, 0) + 1
        estate["estate_id"] = f"{code}E{seq[code]:03d}"
        for d in drafts[k]:
            d["estate"] = k
    for c in (c for c in h.communities if c.urban):
        target = int(rng.integers(*URBAN_TARGET_HOUSEHOLDS))
        mine = [d for k, e in enumerate(estates) if e["community_code"] == c.code for d in drafts[k]]
        for d in calibrate_households(mine, target, rng):
            e = estates[d["estate"]]
            buildings.append({
                "geometry": d["geometry"], "floors": d["floors"], "households": d["floors"] * d["per_floor"],
                "community_code": c.code, "estate_id": e["estate_id"], "estate_name": e["name"],
            })
    return {"lanes": lanes, "blocks": blocks, "units": units, "estates": estates, "buildings": buildings}


def _rural(h: Hierarchy, district_m: Polygon, rng: np.random.Generator, names: NameFactory) -> dict[str, Any]:
    """Settlements, country roads, village lanes, houses and village units."""
    villages = [c for c in h.communities if not c.urban]
    targets = [int(rng.integers(*VILLAGE_TARGET_HOUSEHOLDS)) for _ in villages]
    settlements = [settlement_for(v, t, rng) for v, t in zip(villages, targets, strict=True)]
    seats: list[int] = []
    for street in (s for s in h.streets if not s.urban):
        mine = [i for i, v in enumerate(villages) if v.parent_code == street.code]
        seats.append(max(mine, key=lambda i: (targets[i], -i)))
    anchors = np.array([(s.centroid.x, s.centroid.y) if not s.is_empty else v.anchor
                        for v, s in zip(villages, settlements, strict=True)], dtype=np.float64).reshape(-1, 2)
    roads = rural_roads(district_m, h.core, anchors, seats, rng, names)
    buildings: list[dict[str, Any]] = []
    units: list[dict[str, Any]] = []
    for i, (v, t, s) in enumerate(zip(villages, targets, settlements, strict=True)):
        if s.is_empty:
            continue
        angle = float(rng.uniform(-0.3, 0.3))
        lanes = village_lanes(s, angle, rng)
        roads.extend(lanes)
        reach = s.buffer(20.0)
        near = [r for r in roads if r.geometry.intersects(reach)]
        houses = houses_for(v, s, angle, t, near, rng)
        units.extend(village_units(v, s, houses, seat=i in seats, rng=rng, names=names))
        for hse in houses:
            hse.update({"estate_id": None, "estate_name": None, "village": v.name})
        buildings.extend(houses)
    by_code = dict(zip((v.code for v in villages), settlements, strict=True))
    return {"roads": roads, "buildings": buildings, "units": units, "settlements": by_code}


def _number_buildings(
    buildings: list[dict[str, Any]], estates: list[dict[str, Any]], roads: list[RoadDraft], settings: Settings
) -> None:
    """Ids, names, addresses and population.

    Estate buildings share their estate's gate address (nearest named road + door number) and
    are numbered "N号楼"; village houses are addressed "<village> N号".
    """
    gates = shapely.get_coordinates(shapely.point_on_surface(np.asarray([e["geometry"] for e in estates])))
    road_names, numbers = addresses_for_points(gates, roads)
    gate = {e["estate_id"]: (road_names[k], numbers[k]) for k, e in enumerate(estates)}
    counters: dict[str, int] = {}
    for b in buildings:
        code = b["community_code"]
        counters[code] = counters.get(code, 0) + 1
        b["building_id"] = f"{code}B{counters[code]:04d}"
        group = (b["estate_id"] or code) + "#"
        counters[group] = counters.get(group, 0) + 1
        n = counters[group]
        if b["estate_id"]:
            road, number = gate[b["estate_id"]]
            b.update(road_name=road, house_number=number, building_no=f"{n}号楼", name=f"{b['estate_name']}{n}号楼")
        else:
            b.update(road_name=b["village"], house_number=f"{n}号", building_no=None, name=f"{b['village']}{n}号")
        b["footprint_m2"] = round(float(b["geometry"].area), 1)
        b["population"] = round(b["households"] * settings.persons_per_household)
        b["synthetic"], b["source"], b["households_estimated"] = True, SYNTHETIC_SOURCE, False


def _road_records(roads: list[RoadDraft]) -> list[dict[str, Any]]:
    return [
        {"road_id": f"R{k + 1:05d}", "name": r.name, "road_class": r.road_class.value, "synthetic": True,
         "source": SYNTHETIC_SOURCE, "geometry": r.geometry}
        for k, r in enumerate(roads)
    ]


def _service_centres(
    h: Hierarchy, blocks: list[UrbanBlock], settlements: dict[str, Polygon], roads: list[RoadDraft]
) -> list[dict[str, Any]]:
    """One centre per community, street and the district (C-3: "xx网格化服务管理中心").

    Urban areas get the free block nearest their anchor (communities first, then streets, then
    the district, each in a different block); villages their settlement centre; townships the
    edge of the settlement nearest their anchor.
    """
    areas: list[AreaDraft] = [*h.communities, *h.streets, h.district]
    used: set[int] = set()
    points: list[tuple[float, float]] = []
    for a in areas:
        if a.code in settlements and not settlements[a.code].is_empty:
            p = settlements[a.code].centroid
        elif a.level is AreaLevel.STREET and not a.urban:
            mine = [s for code, s in sorted(settlements.items()) if code.startswith(a.code) and not s.is_empty]
            near = min(mine, key=lambda s: s.distance(shapely.Point(a.anchor)))
            p = shapely.Point(near.centroid.x + 60.0, near.centroid.y)
        else:
            free = [k for k, b in enumerate(blocks) if b.community_code.startswith(a.code) and k not in used]
            k = min(free, key=lambda k: blocks[k].geometry.distance(shapely.Point(a.anchor)))
            used.add(k)
            shrunk = blocks[k].geometry.buffer(-10.0)
            p = (shrunk if not shrunk.is_empty else blocks[k].geometry).point_on_surface()
        points.append((p.x, p.y))
    xy = np.asarray(points, dtype=np.float64)
    road_names, numbers = addresses_for_points(xy, roads)
    return [
        {"area": a, "geometry": shapely.Point(*xy[k]), "address": f"{road_names[k]}{numbers[k]}"}
        for k, a in enumerate(areas)
    ]
