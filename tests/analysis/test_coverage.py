"""Coverage queries on hand-made geometry with known answers (areas in m², households, Gini)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridmap.analysis.access import distances_to_facilities, road_graph_from_lines
from gridmap.analysis.coverage import (
    gini,
    grids_without_worker,
    households_per_worker_by_street,
    households_within_distance,
    key_units_with_responsibility,
    share_within_by_area,
    uncovered_area_by_community,
    worker_loads,
)
from tests.analysis import sample

COMM = sample.COMMUNITY
STREET = COMM[:9]


def grids4() -> gpd.GeoDataFrame:
    """2 x 2 grids of 300 m, households 100, 200, 300, 400."""
    return sample.lattice_grids(2, 300.0, households=[100, 200, 300, 400])


def workers(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["worker_id", "name", "phone", "role", "grid_code", "extra_grid_codes", "active"])


def test_gini_known_values():
    assert gini([5, 5, 5, 5]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 10]) == pytest.approx(0.75)  # (n-1)/n for one holder of everything
    assert gini([1, 3]) == pytest.approx(0.25)
    assert np.isnan(gini([]))


def test_grids_without_worker_and_loads():
    g = grids4()
    codes = list(g["code"])
    w = workers([
        ("W1", "甲", "13800000001", "full_time", codes[0], [codes[1]], True),  # serves grids 1 and 2
        ("W2", "乙", "13800000002", "full_time", codes[1], [], True),  # shares grid 2 with W1
        ("W3", "丙", "13800000003", "full_time", codes[2], [], False),  # inactive: grid 3 has nobody
        ("L1", "丁", "13800000004", "grid_leader", None, [], True),  # community leader: no grid load
    ])
    missing = grids_without_worker(g, w)
    assert list(missing["code"]) == [codes[2], codes[3]]
    loads = worker_loads(g, w).set_index("worker_id")
    assert loads.loc["W1", "households"] == pytest.approx(100 + 200 / 2)
    assert loads.loc["W2", "households"] == pytest.approx(200 / 2)
    assert set(loads.index) == {"W1", "W2"}
    street = households_per_worker_by_street(g, w, pd.DataFrame({"code": [STREET], "name": ["福平路街道"]}))
    row = street.iloc[0]
    assert row["street_name"] == "福平路街道" and row["workers"] == 2
    assert row["households"] == 1000 and row["households_without_worker"] == 700
    assert row["households_per_worker"] == pytest.approx(150) and row["gini"] == pytest.approx(gini([200, 100]))


def test_uncovered_area_per_community():
    g = grids4().iloc[:3]  # the north-east 300 m x 300 m grid is missing
    community = gpd.GeoDataFrame(
        {"code": [COMM], "name": ["黎阳社区"], "level": ["community"]},
        geometry=sample.lonlat([sample.square_m(0, 0, 300.0, width=2, height=2)]), crs=4326,
    )
    out = uncovered_area_by_community(community, g).iloc[0]
    assert out["area_m2"] == pytest.approx(360_000, rel=1e-6)
    assert out["uncovered_m2"] == pytest.approx(90_000, rel=1e-5)
    assert out["grid_area_m2"] == pytest.approx(270_000, rel=1e-6)
    assert out["uncovered_share"] == pytest.approx(0.25, rel=1e-5)


def road_l() -> gpd.GeoSeries:
    """An L-shaped road: 0 -> 1000 m east, then 1000 m north (metric, EPSG:4547)."""
    x, y = sample.X0, sample.Y0
    line = shapely.LineString([(x, y), (x + 1000, y), (x + 1000, y + 1000)])
    return gpd.GeoSeries([line], crs=sample.WORKING_EPSG)


def test_network_distance_follows_the_road_around_the_corner():
    graph = road_graph_from_lines(road_l())
    assert nx_len(graph) == pytest.approx(2000.0)
    centre = np.array([[sample.X0, sample.Y0 + 10]])  # 10 m north of the road's west end
    homes = np.array([[sample.X0 + 1000 + 5, sample.Y0 + 1000], [sample.X0 + 500, sample.Y0 - 20]])
    from gridmap.analysis.access import line_distances, network_distances

    along = network_distances(graph, homes, centre)
    assert along[0] == pytest.approx(10 + 2000 + 5, abs=0.1)
    assert along[1] == pytest.approx(10 + 500 + 20, abs=0.1)
    straight = line_distances(homes, centre)
    assert straight[0] == pytest.approx(np.hypot(1005, 990), abs=0.1)
    assert network_distances(graph, homes, centre, cutoff_m=1000)[0] == np.inf


def nx_len(graph) -> float:
    return sum(d["length"] for _, _, d in graph.graph.edges(data=True))


def test_share_of_households_within_distance_of_a_centre():
    homes_m = [shapely.Point(sample.X0 + 1005, sample.Y0 + 1000), shapely.Point(sample.X0 + 500, sample.Y0 - 20),
               shapely.Point(sample.X0 + 100, sample.Y0 + 5)]
    buildings = gpd.GeoDataFrame(
        {"building_id": ["B1", "B2", "B3"], "households": [100, 30, 70],
         "community_code": [COMM, COMM, COMM[:9] + "002"]},
        geometry=sample.lonlat(homes_m), crs=4326,
    )
    centre = gpd.GeoDataFrame(geometry=sample.lonlat([shapely.Point(sample.X0, sample.Y0 + 10)]), crs=4326)
    roads = gpd.GeoDataFrame(geometry=road_l().to_crs(4326))
    frame, summary = households_within_distance(buildings, centre, 1000.0, method="network", roads=roads)
    assert list(frame["within"]) == [False, True, True]
    assert summary["share_within"] == pytest.approx(100 / 200)
    _, line = households_within_distance(buildings, centre, 1000.0, method="line")
    assert line["share_within"] == pytest.approx(100 / 200)  # 1.4 km straight: out either way
    by_area = share_within_by_area(frame).set_index("code")
    assert by_area.loc[COMM, "share_within"] == pytest.approx(30 / 130)
    with pytest.raises(Exception, match="roads"):
        distances_to_facilities(buildings.geometry, centre.geometry, crs=sample.WORKING_EPSG, method="network")


def test_key_units_get_their_grid_and_people():
    g = grids4()
    codes = list(g["code"])
    units = gpd.GeoDataFrame(
        {"unit_id": ["U1", "U2", "U3"], "name": ["化工厂", "小学", "超市"],
         "unit_type": ["enterprise", "school", "market"],
         "responsible_person": ["张三", "李四", None], "key_unit": [True, True, False],
         "community_code": [COMM, None, COMM]},
        geometry=sample.lonlat([sample.square_m(4, 0.2, 100.0), sample.square_m(9, 9, 100.0),
                                sample.square_m(0.2, 0.2, 100.0)]), crs=4326,
    )
    w = workers([("W1", "甲", "13800000001", "full_time", codes[1], [], True),
                 ("W2", "乙", "13800000002", "part_time", codes[1], [], True)])
    out = key_units_with_responsibility(units, g, w).set_index("unit_id")
    assert list(out.index) == ["U1", "U2"]  # U3 is not a key unit
    assert out.loc["U1", "grid_code"] == codes[1] and out.loc["U1", "responsible_person"] == "张三"
    assert out.loc["U1", "grid_workers"] == "甲、乙"
    assert out.loc["U1", "grid_worker_phones"] == "13800000001、13800000002"
    assert pd.isna(out.loc["U2", "grid_code"])  # outside every grid: shown, with no grid, never dropped


def test_workers_of_dedicated_grids_carry_no_household_load():
    g = grids4()
    g.loc[3, "kind"] = "dedicated"  # a school's grid: its worker serves the school, not households
    codes = list(g["code"])
    w = workers([("W1", "甲", "1", "full_time", codes[0], [], True),
                 ("W9", "校", "9", "full_time", codes[3], [], True)])
    assert set(worker_loads(g, w)["worker_id"]) == {"W1"}
    street = households_per_worker_by_street(g, w).iloc[0]
    assert street["workers"] == 1 and street["households"] == 100 + 200 + 300
    assert list(grids_without_worker(g, w)["code"]) == codes[1:3]  # the dedicated grid has its worker
