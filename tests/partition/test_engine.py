"""partition_community on synthetic towns: coverage, buildings whole, codes, band, and every trap
(under-min community, disconnected parts, estates, dedicated grids, oversize blocks, bad input)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, box

from gridmap.codes import grid_name
from gridmap.config import load_settings
from gridmap.errors import PartitionError, ValidationError
from gridmap.partition.certificate.checks import projected
from gridmap.partition.engine import PartitionResult, partition_community
from gridmap.partition.problem import Band
from gridmap.schema import GRIDS_SPEC

from .towns import (
    COMMUNITY_CODE,
    COMMUNITY_NAME,
    METRIC_EPSG,
    X0,
    Y0,
    Town,
    interior_overlaps,
    make_town,
    merge_towns,
    to_lonlat,
)

BAND = Band(300, 500, 400)
SETTINGS = load_settings(env={})


def run(town: Town, **kw) -> PartitionResult:
    kw.setdefault("band", BAND)
    return partition_community(
        kw.pop("boundary", town.boundary),
        kw.pop("roads", town.roads),
        kw.pop("buildings", town.buildings),
        community_code=COMMUNITY_CODE,
        community_name=COMMUNITY_NAME,
        settings=SETTINGS,
        **kw,
    )


def flag_codes(result: PartitionResult) -> list[set[str]]:
    return [{f["code"] for f in flags} for flags in result.grids["flags"]]


def assert_partition_invariants(result: PartitionResult, town: Town) -> None:
    """Coverage, buildings in exactly one grid, households conserved, codes and names."""
    # the stored (lon/lat) edges are the truth: both layers projected along their course, as the
    # engine does (the grids' outer edges are the boundary's own long lon/lat edges)
    grids = projected(result.grids, pyproj.CRS.from_epsg(METRIC_EPSG))
    parent = projected(town.boundary, pyproj.CRS.from_epsg(METRIC_EPSG)).union_all()
    geoms = np.asarray(grids.geometry.values, dtype=object)
    union = shapely.union_all(geoms)
    assert shapely.symmetric_difference(union, parent).area <= 1e-6 * parent.area
    assert abs(shapely.area(geoms).sum() - parent.area) <= 1e-6 * parent.area
    assert shapely.coverage_is_valid(geoms)
    b = result.buildings.to_crs(METRIC_EPSG)
    pts = shapely.point_on_surface(np.asarray(b.geometry.values, dtype=object))
    p_idx, g_idx = shapely.STRtree(geoms).query(pts, predicate="intersects")
    assert np.array_equal(np.bincount(p_idx, minlength=len(pts)), np.ones(len(pts)))
    assert (grids["code"].to_numpy()[g_idx[np.argsort(p_idx)]] == b["grid_code"].to_numpy()).all()
    assert result.grids["households"].sum() == town.households == result.report["households"]
    for i, row in enumerate(result.grids.itertuples()):
        assert row.code == f"{COMMUNITY_CODE}{i + 1:03d}"
        if row.kind == "base":
            assert row.name == grid_name(COMMUNITY_NAME, i + 1)
    assert list(result.grids.columns[:-1]) == list(GRIDS_SPEC.column_names)
    assert set(result.grids.geom_type) == {"MultiPolygon"}
    assert result.grids.crs.to_epsg() == 4326


def test_a_feasible_town_is_partitioned_in_band_with_a_passing_certificate():
    town = make_town(per_side=2, households=50)  # 12 blocks of 200 households: pairs of 400
    result = run(town)
    assert_partition_invariants(result, town)
    assert result.certificate.ok, result.certificate.to_dict()
    assert result.report["share_in_band"] == 1.0
    assert result.report["out_of_band"] == []
    assert all(BAND.contains(h) for h in result.grids["households"])
    assert result.report["edges"]["on_road_share"] == 1.0  # grids follow roads only
    # every grid is two 150 m blocks: a 300 x 150 m rectangle, Polsby-Popper 4π·45000/900²
    expected = 4 * np.pi * 45_000 / 900**2
    assert [g["polsby_popper"] for g in result.report["grid_summary"]] == pytest.approx([expected] * 6, abs=1e-3)


def test_grids_are_numbered_west_to_east_then_north_to_south():
    town = make_town(nx=6, ny=1, per_side=2, households=100, arterial_row=None)  # a row of 400-household blocks
    result = run(town)
    centres = result.grids.to_crs(METRIC_EPSG).geometry.centroid
    assert len(result.grids) == 6
    assert list(np.argsort(centres.x.to_numpy())) == list(range(6))


def test_the_same_seed_gives_the_same_grids():
    town = make_town(per_side=3, households=20)
    a, b = run(town, seed=5), run(town, seed=5)
    assert list(a.grids["households"]) == list(b.grids["households"])
    assert [g.wkb for g in a.grids.geometry] == [g.wkb for g in b.grids.geometry]


def test_n_grids_fixes_the_number_of_base_grids():
    town = make_town(per_side=2, households=50)
    result = run(town, n_grids=4)
    assert (result.grids["kind"] == "base").sum() == 4
    assert_partition_invariants(result, town)


def test_a_community_below_the_minimum_is_one_grid_flagged_under_min():
    town = make_town(nx=2, ny=1, per_side=2, households=25)  # 200 households
    result = run(town)
    assert len(result.grids) == 1
    assert flag_codes(result)[0] >= {"under_min"}
    reason = result.report["out_of_band"][0]["reason"]
    assert "only 200 households" in reason
    assert not result.certificate.ok  # honest: the band is not met


def test_a_small_disconnected_part_joins_the_nearest_grid_and_is_flagged():
    town = make_town(per_side=2, households=50)
    island = box(X0 + 700, Y0, X0 + 780, Y0 + 80)  # 100 m east of the town, across a river
    hut = [box(X0 + 720, Y0 + 20, X0 + 740, Y0 + 32)]
    main = town.boundary.to_crs(METRIC_EPSG).geometry.iloc[0]
    boundary = to_lonlat([MultiPolygon([main, island])])
    extra = to_lonlat(hut, building_id=["hut"], households=[30])
    town.buildings = gpd.GeoDataFrame(
        {"building_id": [*town.buildings["building_id"], "hut"], "households": [*town.buildings["households"], 30]},
        geometry=[*town.buildings.geometry, *extra.geometry],
        crs=4326,
    )
    town.boundary = boundary
    result = run(town)
    assert_partition_invariants(result, town)
    flagged = [i for i, f in enumerate(flag_codes(result)) if "disconnected_part" in f]
    assert len(flagged) == 1
    grid = result.grids.iloc[flagged[0]]
    assert grid.geometry.geom_type == "MultiPolygon" and len(grid.geometry.geoms) == 2
    assert result.buildings.set_index("building_id").loc["hut", "grid_code"] == grid["code"]
    assert result.report["disconnected_parts"] == [grid["code"]]


def test_a_large_separate_part_gets_grids_of_its_own():
    west = make_town(nx=2, ny=2, per_side=2, households=50)  # 800 households
    east = make_town(nx=2, ny=2, per_side=2, households=50, origin=(X0 + 500, Y0))
    town = merge_towns(west, east)
    result = run(town)
    assert_partition_invariants(result, town)
    assert len(result.report["components"]) == 2
    assert all(g.geom_type == "MultiPolygon" and len(g.geoms) == 1 for g in result.grids.geometry)
    assert result.certificate.ok, result.certificate.to_dict()


def test_an_estate_that_fits_is_never_cut_by_a_grid_edge():
    town = make_town(per_side=2, households=50)
    # an estate over the two south-west blocks (400 households), across the local road between them
    estate = to_lonlat([box(X0 + 5, Y0 + 5, X0 + 295, Y0 + 145)], estate_id=["E1"], name=["幸福小区"])
    result = run(town, estates=estate)
    assert_partition_invariants(result, town)
    inside = result.buildings[result.buildings.within(estate.geometry.iloc[0])]
    assert len(inside) == 8 and inside["grid_code"].nunique() == 1
    assert result.report["estates"][0]["status"] == "whole"


def test_an_estate_above_the_band_gets_grids_of_its_own_flagged_estate_split():
    town = make_town(per_side=2, households=50)
    # the whole southern row: four blocks, 800 households
    estate = to_lonlat([box(X0 + 1, Y0 + 1, X0 + 599, Y0 + 149)], estate_id=["E2"], name=["大型小区"])
    result = run(town, estates=estate)
    assert_partition_invariants(result, town)
    in_estate = result.buildings.within(estate.geometry.iloc[0])
    estate_codes = set(result.buildings.loc[in_estate, "grid_code"])
    others = set(result.buildings.loc[~in_estate, "grid_code"])
    assert estate_codes.isdisjoint(others)  # estate grids hold only estate buildings
    assert len(estate_codes) == 2  # 800 households -> 2 grids of 400
    for code, flags in zip(result.grids["code"], flag_codes(result), strict=True):
        assert ("estate_split" in flags) == (code in estate_codes)


def test_a_large_unit_becomes_one_dedicated_grid_cut_out_of_the_base():
    town = make_town(per_side=2, households=50)
    school = to_lonlat(
        [box(X0 + 310, Y0 + 160, X0 + 440, Y0 + 290)],
        unit_id=["S1"], name=["第一中学"], unit_type=["school"], persons=[1500],
    )  # fmt: skip
    result = run(town, units=school)
    assert_partition_invariants(result, town)
    dedicated = result.grids[result.grids["kind"] == "dedicated"]
    assert len(dedicated) == 1
    row = dedicated.iloc[0]
    assert row["subtype"] == "school" and "第一中学" in row["name"]
    assert row["code"] == f"{COMMUNITY_CODE}{len(result.grids):03d}"  # numbered after the base grids
    site = school.to_crs(METRIC_EPSG).geometry.iloc[0]
    assert abs(gpd.GeoSeries([row.geometry], crs=4326).to_crs(METRIC_EPSG).area.iloc[0] - site.area) < 0.01 * site.area
    under = result.buildings[result.buildings.representative_point().within(school.geometry.iloc[0])]
    assert len(under) > 0 and set(under["grid_code"]) == {row["code"]}


def test_small_units_cluster_into_one_dedicated_grid_or_stay_in_the_base():
    town = make_town(per_side=2, households=50)
    shops = to_lonlat(
        [Point(X0 + 10, Y0 + 290).buffer(8), Point(X0 + 60, Y0 + 290).buffer(8), Point(X0 + 110, Y0 + 290).buffer(8),
         Point(X0 + 590, Y0 + 10).buffer(8)],
        unit_id=["m1", "m2", "m3", "far"], name=["甲", "乙", "丙", "丁"], unit_type=["market"] * 4,
        persons=[300, 300, 300, 300],
    )  # fmt: skip  # 107 households-equivalent each; the band's standard is 0.8 x 300 = 240
    result = run(town, units=shops)
    assert_partition_invariants(result, town)
    dedicated = result.grids[result.grids["kind"] == "dedicated"]
    assert len(dedicated) == 1
    assert "multipart" in flag_codes(result)[int(np.flatnonzero(result.grids["kind"] == "dedicated")[0])]
    by_unit = {u["unit_id"]: u for u in result.report["dedicated"]}
    assert [by_unit[k]["reason"] for k in ("m1", "m2", "m3", "far")] == ["cluster", "cluster", "cluster", "small"]


def test_an_oversize_block_is_split_without_cutting_buildings():
    town = make_town(nx=1, ny=1, block_m=300, per_side=10, households=12, arterial_row=None)  # 1200 households
    result = run(town)
    assert_partition_invariants(result, town)
    assert result.report["blocks"]["split"] == 1
    assert len(result.grids) == 3
    assert interior_overlaps(town.buildings, result.grids) == []
    assert all("block_split" in f for f in flag_codes(result))
    assert all(BAND.contains(h) for h in result.grids["households"])


def test_the_strategy_is_pluggable_and_its_result_is_checked():
    town = make_town(per_side=2, households=50)
    calls = []

    def one_region(problem, *, rng):
        calls.append(problem.n)
        return np.zeros(problem.n, dtype=np.int64)

    result = run(town, strategy=one_region)
    assert calls == [12]
    assert len(result.grids) == 1
    assert "over_max" in flag_codes(result)[0]
    assert not result.certificate.ok

    def bad(problem, *, rng):
        return np.zeros(problem.n + 1, dtype=np.int64)

    with pytest.raises(PartitionError, match="one non-negative integer label per atom"):
        run(town, strategy=bad)


def test_empty_roads_make_one_block():
    town = make_town(nx=1, ny=1, per_side=2, households=100, arterial_row=None)  # 400 households
    result = run(town, roads=town.roads.iloc[0:0])
    assert len(result.grids) == 1 and result.report["blocks"]["count"] == 1
    assert result.certificate.ok


def test_bad_input_raises_clear_errors():
    town = make_town(per_side=2, households=50)
    with pytest.raises(ValidationError, match="must be a polygon"):
        run(town, boundary=town.roads.geometry.iloc[0])
    with pytest.raises(ValidationError, match="min \\(600\\) is greater than max \\(500\\)"):
        run(town, band=Band(600, 500, 550))
    no_hh = town.buildings.drop(columns=["households"])
    with pytest.raises(ValidationError, match=r"bld\.geojson: no households column"):
        run(town, buildings=no_hh, sources={"buildings": "bld.geojson"})
    with pytest.raises(ValidationError, match=r"'41061100' has 8 digits"):
        partition_community(town.boundary, town.roads, town.buildings, community_code="41061100",
                            community_name="x", band=BAND, settings=SETTINGS)  # fmt: skip


def test_a_big_site_gets_a_dedicated_grid_by_area_and_a_point_unit_takes_its_building():
    town = make_town(nx=6, ny=4, per_side=2, households=50)
    park = box(X0 + 1, Y0 + 1, X0 + 299, Y0 + 187)  # 55,400 m² > 50,000 m²; its north edge crosses buildings
    hospital_building = town.buildings.to_crs(METRIC_EPSG).geometry.iloc[-1]
    units = to_lonlat(
        [park, hospital_building.centroid],
        unit_id=["P1", "H1"], name=["人民公园", "人民医院"], unit_type=["park", "hospital"], persons=[0, 1200],
    )  # fmt: skip
    result = run(town, units=units)
    assert_partition_invariants(result, town)
    by_unit = {u["unit_id"]: u for u in result.report["dedicated"]}
    assert by_unit["P1"]["reason"] == "area" and by_unit["H1"]["reason"] == "standard"
    dedicated = result.grids[result.grids["kind"] == "dedicated"].to_crs(METRIC_EPSG)
    assert sorted(dedicated["subtype"]) == ["hospital", "park"]
    hospital = dedicated[dedicated["subtype"] == "hospital"].geometry.iloc[0]
    assert shapely.symmetric_difference(hospital, hospital_building).area < 1e-3
    # the park's edge ran through a row of buildings: they stay whole, on one side or the other
    crossed = town.buildings.to_crs(METRIC_EPSG).crosses(shapely.LineString([(X0, Y0 + 187), (X0 + 300, Y0 + 187)]))
    assert crossed.sum() == 4
    assert interior_overlaps(town.buildings, result.grids) == []


def test_z_coordinates_are_dropped():
    town = make_town(per_side=2, households=50)

    def z(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        return frame.set_geometry(gpd.GeoSeries(shapely.force_3d(frame.geometry.values, 12.5), crs=frame.crs))

    result = run(town, boundary=z(town.boundary), roads=z(town.roads), buildings=z(town.buildings))
    assert not result.grids.has_z.any()
    assert result.certificate.ok
