"""Hierarchy rules on the synthetic Hebi district: codes, uniqueness, containment, grids in one community."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
import shapely

from gridmap import hierarchy
from gridmap.config import Settings
from gridmap.errors import ValidationError

DATA = Path(__file__).parent / "data"
GEOD = pyproj.Geod(ellps="WGS84")


def _areas() -> gpd.GeoDataFrame:
    parts = []
    for level, name in (("district", "districts"), ("street", "streets"), ("community", "communities")):
        frame = gpd.read_file(DATA / f"hebi_{name}.geojson")
        frame["level"] = level
        frame["parent_code"] = [c[: {"district": 0, "street": 6, "community": 9}[level]] or None for c in frame.code]
        parts.append(frame)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4326")


def geodesic_area_m2(geom: shapely.Geometry) -> float:
    """Area on the ellipsoid, independent of the working CRS the code under test picks."""
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def _grids(*rows: tuple[str, str, shapely.Geometry]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "name": [f"网格{i}" for i in range(len(rows))],
            "community_code": [r[1] for r in rows],
        },
        geometry=[r[2] for r in rows],
        crs="EPSG:4326",
    )


def test_fixture_hierarchy_is_clean() -> None:
    assert hierarchy.hierarchy_violations(_areas(), Settings()) == []


def test_street_sticking_out_is_measured() -> None:
    areas = _areas()
    i = areas.index[areas.code == "410611002"][0]
    bulge = shapely.box(114.40, 35.74, 114.401, 35.75)  # ~90 m east of the district edge
    areas.loc[i, "geometry"] = shapely.MultiPolygon([areas.geometry[i].geoms[0].union(bulge)])
    found = hierarchy.hierarchy_violations(areas, Settings())
    assert [v.rule for v in found] == ["outside_parent"]
    v = found[0]
    assert v.codes == ("410611002", "410611") and v.names == ("东城街道", "淇滨区")
    assert v.measures["area_outside_m2"] == pytest.approx(geodesic_area_m2(bulge), rel=0.01)
    assert v.measures["distance_outside_m"] == pytest.approx(GEOD.inv(114.40, 35.745, 114.401, 35.745)[2], rel=0.01)
    assert "street 410611002 东城街道 lies partly outside its parent 410611 淇滨区" in v.message


def test_tolerance_absorbs_digitising_noise() -> None:
    areas = _areas()
    i = areas.index[areas.code == "410611002"][0]
    sliver = shapely.box(114.40, 35.74, 114.400005, 35.75)  # ~0.45 m outside, tolerance is 1 m
    areas.loc[i, "geometry"] = shapely.MultiPolygon([areas.geometry[i].geoms[0].union(sliver)])
    assert hierarchy.hierarchy_violations(areas, Settings()) == []
    strict = Settings(within_tolerance_m=0.1)
    assert [v.rule for v in hierarchy.hierarchy_violations(areas, strict)] == ["outside_parent"]


def test_codes_prefix_duplicates_and_missing_parent() -> None:
    areas = _areas()
    areas.loc[areas.code == "410611002002", "parent_code"] = "410611001"  # says street 1 but code is street 2
    extra = areas[areas.code == "410611001001"].copy()
    extra["name"] = "重复社区"
    orphan = areas[areas.code == "410611001002"].copy()
    orphan[["code", "parent_code", "name"]] = ["410611009001", "410611009", "孤儿社区"]
    broken = gpd.GeoDataFrame(pd.concat([areas, extra, orphan], ignore_index=True), crs="EPSG:4326")
    found = hierarchy.hierarchy_violations(broken, Settings())
    rules = sorted(v.rule for v in found)
    assert rules == ["code_parent_prefix", "duplicate_code", "missing_parent", "outside_parent"]
    dup = next(v for v in found if v.rule == "duplicate_code")
    assert dup.names == ("西城南社区", "重复社区") and "used 2 times" in dup.message
    assert next(v for v in found if v.rule == "missing_parent").codes == ("410611009001",)


def test_duplicates_against_store_and_bad_code_format() -> None:
    streets = gpd.read_file(DATA / "hebi_streets.geojson")
    found = hierarchy.duplicate_code_violations(streets, existing=["410611002", "999"])
    assert [(v.rule, v.codes, v.rows) for v in found] == [("duplicate_code", ("410611002",), (1,))]
    assert "already exists in the store" in found[0].message
    streets.loc[0, "code"] = "41061100"
    bad = hierarchy.code_violations(streets, hierarchy.AreaLevel.STREET)
    assert [(v.rule, v.rows) for v in bad] == [("code_format", (0,))]


def test_grids_in_exactly_one_community() -> None:
    communities = _areas().query("level == 'community'").reset_index(drop=True)
    inside = shapely.box(114.21, 35.71, 114.22, 35.72)
    straddling = shapely.box(114.29, 35.71, 114.31, 35.72)  # crosses the street boundary at 114.30
    grids = _grids(
        ("410611001001001", "410611001001", inside),
        ("410611001001002", "410611001001", straddling),
        ("410611001002001", "410611001001", inside),  # code under community 002, says 001
        ("410611001001001", "410611001001", inside),  # duplicate code
    )
    found = hierarchy.grid_violations(grids, communities, Settings())
    by_rule = sorted((v.rule, v.rows) for v in found)
    assert by_rule == [
        ("duplicate_code", (0, 3)),
        ("grid_community_prefix", (2,)),
        ("grid_in_several_communities", (1,)),
        ("outside_parent", (1,)),
    ]
    several = next(v for v in found if v.rule == "grid_in_several_communities")
    assert several.codes == ("410611001001002", "410611002001")
    other_half = straddling.intersection(shapely.box(114.30, 35.70, 114.40, 35.75))
    assert several.measures["overlap_m2"] == pytest.approx(geodesic_area_m2(other_half), rel=0.01)


def test_raise_if_any_lists_everything() -> None:
    hierarchy.raise_if_any([], source="x")
    violations = [hierarchy.Violation("duplicate_code", f"code {i} twice", (str(i),), rows=(i,)) for i in range(12)]
    with pytest.raises(ValidationError) as err:
        hierarchy.raise_if_any(violations, source="streets.geojson")
    assert err.value.message.startswith("streets.geojson: 12 hierarchy violation(s) (duplicate_code)")
    assert "[duplicate_code] feature 1: code 0 twice" in err.value.message and "and 2 more" in err.value.message
    assert len(err.value.details) == 12 and err.value.details[11]["codes"] == ["11"]
