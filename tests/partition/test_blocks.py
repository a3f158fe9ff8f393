"""Road blocks and building assignment: exact coverage, road classes on edges, slivers, dangles,
disconnected parts, and buildings kept whole and counted once."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.affinity
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from gridmap.errors import ValidationError
from gridmap.partition.blocks.faces import coverage_from_polygons
from gridmap.partition.blocks.households import assign_buildings_to_blocks, buildings_from_input
from gridmap.partition.blocks.road_blocks import (
    block_edges_from_blocks,
    blocks_from_roads,
    lines_from_roads,
    road_class_from_highway,
)

CRS = 4547  # CGCS2000 Gauss-Krüger CM 114E, metres
SQ = box(0, 0, 400, 300)


def roads(lines: list, classes: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"road_class": classes}, geometry=lines, crs=CRS)


def assert_tiles(blocks: gpd.GeoDataFrame, area) -> None:
    geoms = np.asarray(blocks.geometry.values, dtype=object)
    union = shapely.union_all(geoms)
    assert shapely.symmetric_difference(union, area).area <= 1e-6 * area.area
    assert abs(shapely.area(geoms).sum() - area.area) <= 1e-6 * area.area  # no overlaps
    assert shapely.coverage_is_valid(geoms)


def test_crossing_roads_make_four_blocks_with_road_classes_on_edges():
    r = roads(
        [LineString([(200, -50), (200, 350)]), LineString([(-50, 100), (450, 100)])],
        ["arterial", "local"],
    )
    blocks = blocks_from_roads(SQ, r, sliver_area_m2=200)
    assert len(blocks) == 4
    assert_tiles(blocks, SQ)
    assert sorted(np.round(blocks["area_m2"]).tolist()) == [20000, 20000, 40000, 40000]
    assert blocks["component"].nunique() == 1
    edges = block_edges_from_blocks(blocks, r)
    assert len(edges) == 4  # the diagonal pairs touch at a point only: not neighbours
    by_len = {round(le): c for le, c in zip(edges["shared_length_m"], edges["road_class"], strict=True)}
    assert by_len == {200: "local", 100: "arterial"}
    assert np.allclose(edges["road_length_m"], edges["shared_length_m"])


def test_block_ids_run_north_to_south_then_west_to_east():
    r = roads([LineString([(200, -50), (200, 350)]), LineString([(-50, 100), (450, 100)])], ["local", "local"])
    blocks = blocks_from_roads(SQ, r, sliver_area_m2=200)
    rep = shapely.point_on_surface(np.asarray(blocks.geometry.values, dtype=object))
    ys = shapely.get_y(rep)
    assert list(blocks["block_id"]) == [0, 1, 2, 3]
    assert ys[0] >= ys[-1]
    assert shapely.get_x(rep)[0] < shapely.get_x(rep)[1]


def test_dangling_roads_do_not_cut():
    through = LineString([(200, -50), (200, 350)])
    dangle = LineString([(50, 150), (150, 150)])  # ends inside a block on both sides
    spur = LineString([(200, 150), (320, 150)])  # touches the through road but ends inside
    blocks = blocks_from_roads(SQ, roads([through, dangle, spur], ["local"] * 3), sliver_area_m2=200)
    assert len(blocks) == 2
    assert_tiles(blocks, SQ)


def test_roads_empty_gives_one_block_equal_to_the_community():
    blocks = blocks_from_roads(SQ, roads([], []), sliver_area_m2=200)
    assert len(blocks) == 1
    assert shapely.equals_exact(shapely.normalize(blocks.geometry.iloc[0]), shapely.normalize(SQ), tolerance=1e-6)
    blocks2 = blocks_from_roads(gpd.GeoSeries([SQ], crs=CRS), None, sliver_area_m2=200)
    assert len(blocks2) == 1


def test_a_sliver_with_one_neighbour_merges_into_it():
    # a 1 m x 100 m strip (100 m² < 200 m²) cut off the east edge by a service road
    r = roads(
        [LineString([(200, -50), (200, 350)]), LineString([(399, -50), (399, 100), (450, 100)])],
        ["local", "service"],
    )
    blocks = blocks_from_roads(SQ, r, sliver_area_m2=200, road_classes=None)
    assert len(blocks) == 2
    assert_tiles(blocks, SQ)
    east = blocks.loc[blocks.geometry.centroid.x.idxmax()]
    assert east["n_faces"] == 2
    assert east["area_m2"] == pytest.approx(200 * 300)


def test_a_sliver_merges_into_the_neighbour_sharing_the_longest_edge():
    # sliver x 200..201, y 0..150: 150 m shared with the west block, 150 + 1 m with the east block
    r = roads(
        [LineString([(200, -50), (200, 350)]), LineString([(201, -50), (201, 150), (200, 150)])],
        ["local", "local"],
    )
    blocks = blocks_from_roads(SQ, r, sliver_area_m2=200)
    assert len(blocks) == 2
    assert_tiles(blocks, SQ)
    west = blocks.loc[blocks.geometry.centroid.x.idxmin()]
    east = blocks.loc[blocks.geometry.centroid.x.idxmax()]
    assert west["area_m2"] == pytest.approx(200 * 300) and west["n_faces"] == 1
    assert east["n_faces"] == 2


def test_multipolygon_boundary_gives_separate_components():
    parts = MultiPolygon([box(0, 0, 300, 300), box(400, 0, 500, 100)])  # a river between them
    r = roads([LineString([(150, -10), (150, 310)])], ["local"])
    blocks = blocks_from_roads(parts, r, sliver_area_m2=200)
    assert len(blocks) == 3
    assert blocks["component"].nunique() == 2
    assert_tiles(blocks, parts)


def test_boundary_with_a_hole_keeps_the_hole_empty():
    holed = Polygon(SQ.exterior.coords, [box(150, 100, 250, 200).exterior.coords])
    r = roads([LineString([(200, -50), (200, 350)])], ["local"])
    blocks = blocks_from_roads(holed, r, sliver_area_m2=200)
    assert_tiles(blocks, holed)
    assert shapely.union_all(blocks.geometry.values).area == pytest.approx(400 * 300 - 100 * 100)


def test_lon_lat_input_is_projected_to_a_metric_crs():
    near_cm = shapely.affinity.translate(SQ, 500_000, 3_950_000)  # on the zone's central meridian
    lonlat = gpd.GeoSeries([near_cm], crs=CRS).to_crs(4326)
    road = shapely.affinity.translate(LineString([(200, -50), (200, 350)]), 500_000, 3_950_000)
    r = roads([road], ["local"]).to_crs(4326)
    blocks = blocks_from_roads(lonlat, r, sliver_area_m2=200)
    assert blocks.crs.is_projected
    assert blocks["area_m2"].sum() == pytest.approx(400 * 300, rel=1e-3)


def test_road_classes_from_osm_highway_and_bad_classes():
    assert road_class_from_highway("primary") == "arterial"
    assert road_class_from_highway("residential") == "local"
    assert road_class_from_highway("footway") == "footpath"
    assert road_class_from_highway("corridor") is None
    osm = gpd.GeoDataFrame({"highway": ["primary", "corridor"]}, geometry=[LineString([(0, 0), (1, 1)])] * 2, crs=CRS)
    assert list(lines_from_roads(osm)["road_class"]) == ["arterial"]
    bad = roads([LineString([(0, 0), (1, 1)])], ["motorway"])
    with pytest.raises(ValidationError, match=r"roads.geojson: unknown road_class value\(s\) motorway"):
        lines_from_roads(bad, source="roads.geojson")


@pytest.mark.parametrize("geom", [LineString([(0, 0), (1, 1)]), Point(0, 0), Polygon()])
def test_a_boundary_that_is_not_a_polygon_is_rejected(geom):
    with pytest.raises(ValidationError, match="community boundary must be a polygon"):
        blocks_from_roads(geom, roads([], []), sliver_area_m2=200)


def test_coverage_from_polygons_makes_mismatched_neighbours_a_valid_coverage():
    a = Polygon([(0, 0), (100, 0), (100, 100), (0, 100)])
    b = Polygon([(100, 0), (200, 0), (200, 100), (100, 100), (100, 37.123456789)])  # extra vertex on the edge
    area = box(0, 0, 200, 100)
    assert not shapely.coverage_is_valid(np.asarray([a, b], dtype=object))
    fixed = coverage_from_polygons([a, b], area)
    assert shapely.coverage_is_valid(np.asarray(fixed, dtype=object))
    assert [round(g.area, 3) for g in fixed] == [10000.0, 10000.0]


# --- buildings ------------------------------------------------------------------------------------

def two_blocks() -> gpd.GeoDataFrame:
    return blocks_from_roads(SQ, roads([LineString([(200, -50), (200, 350)])], ["local"]), sliver_area_m2=200)


def buildings(geoms: list, households: list[int], ids: list[str] | None = None) -> gpd.GeoDataFrame:
    ids = ids or [f"b{i}" for i in range(len(geoms))]
    frame = gpd.GeoDataFrame({"building_id": ids, "households": households}, geometry=geoms, crs=CRS)
    return buildings_from_input(frame, crs=frame.crs)


def test_each_building_goes_whole_to_the_block_of_its_representative_point():
    blocks = two_blocks()
    # an L-shaped building whose centroid lies outside it, and one straddling the road mostly east
    ell = Polygon([(20, 20), (120, 20), (120, 40), (40, 40), (40, 120), (20, 120)])
    straddle = box(190, 50, 260, 80)
    result = assign_buildings_to_blocks(buildings([ell, straddle], [10, 20]), blocks, area=SQ)
    assert not ell.contains(ell.centroid)
    got = dict(zip(result.buildings["building_id"], result.buildings["block_id"], strict=True))
    west = int(blocks.loc[blocks.geometry.centroid.x.idxmin(), "block_id"])
    east = int(blocks.loc[blocks.geometry.centroid.x.idxmax(), "block_id"])
    assert got == {"b0": west, "b1": east}
    assert result.buildings["households"].sum() == 30


def test_buildings_outside_are_reported_not_counted():
    result = assign_buildings_to_blocks(
        buildings([box(10, 10, 20, 20), box(500, 500, 510, 510)], [5, 7]), two_blocks(), area=SQ
    )
    assert result.outside == ["b1"]
    assert result.buildings["households"].sum() == 5
    assert any("outside the community" in w for w in result.warnings)
    assert result.to_dict()["outside"] == {"count": 1, "building_ids": ["b1"]}


def test_identical_buildings_are_counted_once_and_overlaps_are_reported():
    g = box(10, 10, 30, 30)
    overlapping = box(25, 10, 45, 30)  # 25% of each overlaps the other
    result = assign_buildings_to_blocks(
        buildings([g, shapely.Polygon(list(g.exterior.coords)[::-1]), overlapping], [12, 12, 4]), two_blocks(), area=SQ
    )
    assert result.duplicates == [{"kept": "b0", "dropped": "b1"}]
    assert result.buildings["households"].sum() == 16
    assert [(o["a"], o["b"]) for o in result.overlaps] == [("b0", "b2")]
    assert any("counted once" in w for w in result.warnings)


def test_a_point_on_the_edge_between_blocks_goes_to_exactly_one():
    blocks = two_blocks()
    result = assign_buildings_to_blocks(buildings([Point(200, 150)], [3]), blocks, area=SQ)
    assert len(result.buildings) == 1
    assert result.buildings["block_id"].iloc[0] in set(blocks["block_id"])


def test_missing_households_are_an_error_naming_the_file_and_buildings():
    frame = gpd.GeoDataFrame(
        {"building_id": ["a", "b", "c"], "households": [3, None, -1]}, geometry=[Point(1, 1)] * 3, crs=CRS
    )
    with pytest.raises(ValidationError, match=r"bld.gpkg: 2 building\(s\) .* b, c"):
        buildings_from_input(frame, crs=frame.crs, source="bld.gpkg")
    with pytest.raises(ValidationError, match=r"bld\.gpkg: no households column 'hh'"):
        buildings_from_input(frame, crs=frame.crs, households_column="hh", source="bld.gpkg")


def test_an_edge_with_no_road_along_it_has_no_road_class():
    # two pieces cut off-road (as split.py does) and a road that merely crosses their shared edge
    pieces = gpd.GeoDataFrame({"block_id": [0, 1]}, geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=CRS)
    crossing = roads([LineString([(50, 50), (150, 50)])], ["arterial"])
    along_half = roads([LineString([(100, -10), (100, 60)])], ["lane"])  # 60 m of the 100 m edge
    none = block_edges_from_blocks(pieces, crossing)
    assert none["road_class"].tolist() == [None] and none["road_length_m"].iloc[0] < 1.0
    half = block_edges_from_blocks(pieces, along_half)
    assert half["road_class"].tolist() == ["lane"]
    assert half["road_length_m"].iloc[0] == pytest.approx(60.0, abs=0.1)
