"""Address search: every spelling variant a resident may type finds the right building first."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from gridmap.analysis.gazetteer import Gazetteer, canonical, split_number
from gridmap.errors import ValidationError
from tests.lookup import fixtures as fx


def _buildings() -> gpd.GeoDataFrame:
    rows = []
    for k, (road, number) in enumerate(
        [("淇河路", "12号"), ("淇河路", "120号"), ("淇河路", "21号"), ("淇河东路", "12号"), ("黎阳路", "8"),
         ("淇河路", "2号")]
    ):
        rows.append(
            {"building_id": f"road-{k}", "road_name": road, "house_number": number,
             "geometry": fx.box(k, 0, k + 0.5, 0.5)}
        )
    for n in range(1, 6):
        rows.append({"building_id": f"cy-{n}", "estate_name": "翠苑小区", "building_no": f"{n}号楼",
                     "geometry": fx.box(n, 2, n + 0.5, 2.5)})
    rows.append(
        {"building_id": "cyhy-3", "estate_name": "翠苑花园", "building_no": "3", "geometry": fx.box(1, 4, 1.5, 4.5)}
    )
    # a point building (some imports only have points)
    rows.append(
        {"building_id": "pt-1", "road_name": "黎阳路", "house_number": "10号", "geometry": shapely.Point(fx.xy(9, 9))}
    )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def _estates() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"estate_id": ["e1", "e2"], "name": ["翠苑小区", "翠苑花园"]},
        geometry=[fx.box(0.5, 1.5, 6, 3), fx.box(0.5, 3.5, 2, 5)],
        crs=4326,
    )


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.from_frames(_buildings(), _estates(), area_names=["淇滨区", "黎阳街道", "淇河社区", "甲社区"])


ROAD_VARIANTS = [
    "淇河路12号",
    "淇河路１２号",  # full-width digits
    "淇河路12號",  # traditional 號
    "淇河路 12 号",  # spaces
    "淇河路12",  # no 号
    "淇滨区黎阳街道淇河路12号",  # district + street prefix
    "河南省鹤壁市淇滨区淇河路12号",  # province + city + district
    "淇河社区淇河路12号",  # community prefix that shares 淇河 with the road
    "黎阳街道 淇河路１２號",
]


@pytest.mark.parametrize("query", ROAD_VARIANTS)
def test_road_address_variants_find_the_building_first(gazetteer: Gazetteer, query: str) -> None:
    hits = gazetteer.search(query)
    assert hits[0].ref == "road-0", [(h.label, h.score) for h in hits]
    assert hits[0].label == "淇河路12号"
    assert hits[0].score == 1.0
    # the point is the building's representative point, inside its footprint
    assert fx.box(0, 0, 0.5, 0.5).contains(shapely.Point(hits[0].lon, hits[0].lat))


ESTATE_VARIANTS = [
    "翠苑小区3号楼",
    "翠苑小区3栋",
    "翠苑小区3幢",
    "翠苑小区3座",
    "翠苑小区3号",
    "翠苑小区三号楼",
    "翠苑小区３#",
    "翠苑小区 3号楼 2单元 501室",
    "淇滨区翠苑小区3号楼",
    "翠苑3号楼",  # estate name without 小区
]


@pytest.mark.parametrize("query", ESTATE_VARIANTS)
def test_estate_building_variants_find_the_building_first(gazetteer: Gazetteer, query: str) -> None:
    hits = gazetteer.search(query)
    assert hits[0].ref == "cy-3", [(h.label, h.score) for h in hits]
    assert hits[0].kind == "building"
    assert fx.box(3, 2, 3.5, 2.5).contains(shapely.Point(hits[0].lon, hits[0].lat))


def test_scores_are_ranked_and_bounded(gazetteer: Gazetteer) -> None:
    for query in [*ROAD_VARIANTS, *ESTATE_VARIANTS, "翠苑", "黎阳路", "不存在的地方99号"]:
        hits = gazetteer.search(query, limit=10)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 < s <= 1.0 for s in scores)
    assert len(gazetteer.search("淇河路12号", limit=3)) == 3


def test_wrong_number_ranks_below_right_number(gazetteer: Gazetteer) -> None:
    hits = gazetteer.search("淇河路21号", limit=10)
    assert hits[0].ref == "road-2"
    others = {h.ref: h.score for h in hits[1:]}
    assert others["road-0"] < hits[0].score
    assert gazetteer.search("淇河东路12号")[0].ref == "road-3"


def test_estate_name_alone_finds_the_estate(gazetteer: Gazetteer) -> None:
    hits = gazetteer.search("翠苑花园")
    assert (hits[0].kind, hits[0].ref) == ("estate", "e2")
    hit = gazetteer.search("翠苑花园3栋")[0]
    assert (hit.ref, hit.label) == ("cyhy-3", "翠苑花园3号楼")


def test_point_buildings_and_bare_numbers(gazetteer: Gazetteer) -> None:
    hit = gazetteer.search("黎阳路10号")[0]
    assert hit.ref == "pt-1"
    assert (hit.lon, hit.lat) == fx.xy(9, 9)
    assert gazetteer.search("黎阳路8号")[0].ref == "road-4"


@pytest.mark.parametrize("empty", ["", "   ", "\u3000"])
def test_empty_address_is_a_validation_error(gazetteer: Gazetteer, empty: str) -> None:
    with pytest.raises(ValidationError, match="empty"):
        gazetteer.search(empty)


def test_canonical_forms() -> None:
    assert canonical("淇河路１２號") == "淇河路12#"
    assert canonical("翠苑小区二十三号楼3单元") == "翠苑小区23#"
    assert canonical("翠苑小区 十 栋") == "翠苑小区10#"
    assert split_number("淇河路12#") == ("淇河路", "12")
    assert split_number("翠苑小区") == ("翠苑小区", None)
