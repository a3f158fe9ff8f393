"""Workers: one full-time worker per grid, a leader per community, A/B partners in adjacent grids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from gridmap import schema
from gridmap.demo.generate import DemoDistrict
from gridmap.demo.people import HOUSEHOLDS_PER_WORKER, partners_from_adjacency, workers_for_grids
from gridmap.model import WorkerRole
from gridmap.services.workers import registry_problems
from tests.demo.helpers import strip_grids


def _communities(district: DemoDistrict) -> gpd.GeoDataFrame:
    return district.areas[district.areas["level"] == "community"]


def test_one_worker_per_grid_and_a_leader_per_community(small_district: DemoDistrict) -> None:
    grids = strip_grids(small_district)
    workers = workers_for_grids(grids, _communities(small_district), rng=np.random.default_rng(3))
    assert list(workers.columns) == list(schema.WORKERS_SPEC.column_names)
    assert workers["worker_id"].is_unique
    full = workers[workers["role"] == WorkerRole.FULL_TIME.value]
    assert sorted(full["grid_code"]) == sorted(grids["code"])  # 一格一员
    leaders = workers[workers["role"] == WorkerRole.GRID_LEADER.value]
    assert sorted(leaders["grid_code"].str[:12]) == sorted(_communities(small_district)["code"])
    for _, leader in leaders.iterrows():  # a leader covers every grid of the community
        mine = set(grids.loc[grids["community_code"] == leader["grid_code"][:12], "code"])
        assert {leader["grid_code"], *leader["extra_grid_codes"]} == mine
    part = workers[workers["role"] == WorkerRole.PART_TIME.value]
    assert set(part["grid_code"]) <= set(grids["code"]) and 0 < len(part) < len(grids)
    assert workers["phone"].str.fullmatch(r"1380000\d{4}").all() and workers["phone"].is_unique
    assert workers["device_id"].is_unique and workers["name"].str.len().between(2, 3).all()
    assert (workers["photo"] == workers["worker_id"] + ".png").all() and workers["synthetic"].all()


def test_partners_are_workers_of_adjacent_grids(small_district: DemoDistrict) -> None:
    grids = strip_grids(small_district).set_index("code")
    workers = workers_for_grids(grids.reset_index(), _communities(small_district), rng=np.random.default_rng(3))
    full = workers[workers["role"] == WorkerRole.FULL_TIME.value].set_index("worker_id")
    paired = full[full["partner_worker_id"].notna()]
    assert len(paired) >= 0.8 * len(full)
    metric = grids.to_crs(small_district.working_crs)
    alone = metric.loc[full.loc[full["partner_worker_id"].isna(), "grid_code"]]
    for code, geom in alone.geometry.items():  # two workers left alone never sit in neighbouring grids
        others = alone.drop(index=code).geometry
        assert not (others.boundary.intersection(geom.boundary).length > 1.0).any(), code
    for worker_id, row in paired.iterrows():
        partner = full.loc[row["partner_worker_id"]]
        assert partner.name != worker_id and partner["partner_worker_id"] == worker_id  # A/B posts are mutual
        shared = metric.geometry[row["grid_code"]].boundary.intersection(metric.geometry[partner["grid_code"]].boundary)
        assert shared.length > 1.0, f"{row['grid_code']} and {partner['grid_code']} share no edge"
    assert registry_problems(workers, grids.reset_index()) == []  # the registry's own check accepts the demo


def test_a_maximum_matching_pairs_a_path_of_four_completely() -> None:
    # 0-1-2-3 in a row: greedy by longest edge (1-2) would strand 0 and 3
    pairs = [(0, 1, 10.0), (1, 2, 50.0), (2, 3, 10.0)]
    assert partners_from_adjacency(4, pairs, group=["a"] * 4) == [1, 0, 3, 2]
    assert partners_from_adjacency(3, pairs[:2], group=["a"] * 3).count(None) == 1  # odd: one is left over
    assert partners_from_adjacency(1, [], group=["a"]) == [None]


def test_same_seed_same_workers_and_community_mode(small_district: DemoDistrict) -> None:
    grids = strip_grids(small_district)
    a = workers_for_grids(grids, _communities(small_district), rng=np.random.default_rng(5))
    b = workers_for_grids(grids, _communities(small_district), rng=np.random.default_rng(5))
    pd.testing.assert_frame_equal(a, b)
    c = workers_for_grids(grids, _communities(small_district), rng=np.random.default_rng(6))
    assert not a["name"].equals(c["name"])
    alone = workers_for_grids(None, _communities(small_district), rng=np.random.default_rng(5))
    assert alone["grid_code"].isna().all()
    expected = sum(max(1, round(h / HOUSEHOLDS_PER_WORKER)) for h in _communities(small_district)["households"])
    assert (alone["role"] == WorkerRole.FULL_TIME.value).sum() == expected
    assert (alone["role"] == WorkerRole.GRID_LEADER.value).sum() == len(_communities(small_district))


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_inputs(small_district: DemoDistrict, n: int) -> None:
    grids = strip_grids(small_district, per_community=1).iloc[:n]
    communities = _communities(small_district)
    workers = workers_for_grids(grids, communities[communities["code"].isin(grids["community_code"])],
                                rng=np.random.default_rng(1))
    full = workers[workers["role"] == WorkerRole.FULL_TIME.value]
    assert len(full) == n
    if n == 1:
        assert full["partner_worker_id"].isna().all()  # nobody adjacent
