"""Rebalancing on both stores: nothing changes when nothing changed; local changes stay local; codes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gridmap import schema
from gridmap.codes import grid_code
from gridmap.errors import NotFoundError
from gridmap.model import GenerationStatus
from gridmap.partition.problem import Band, PartitionProblem
from gridmap.partition.rebalance.repair import repair_labels
from gridmap.services.generations import activate_generation, active_grids
from gridmap.services.planner import rebalance_from_store
from tests.planner import sample as sm


def _code(seq: int) -> str:
    return grid_code(sm.COMMUNITY, seq)


def _neighbours_of(codes: set[str], grids: gpd.GeoDataFrame) -> set[str]:
    """Codes of grids sharing an edge (not just a corner) with any grid in ``codes``."""
    geoms = dict(zip(grids["code"], grids.geometry, strict=True))
    out = set(codes)
    for code in codes:
        for other, geom in geoms.items():
            if other not in codes and shapely.intersection(geoms[code], geom).length > 0:
                out.add(other)
    return out


def test_nothing_changed_moves_nothing_and_keeps_geometry(store, settings):
    sm.seed_community(store)
    sm.activate_layout(store)
    before = active_grids(store, community_code=sm.COMMUNITY).sort_values("code").reset_index(drop=True)
    outcome = rebalance_from_store(store, settings, sm.COMMUNITY, band=sm.BAND, commit=True)
    report = outcome.plan.report
    assert report["changed"] is False
    assert report["blocks"] == sm.COLS * sm.ROWS
    assert (report["blocks_moved"], report["households_moved"], report["blocks_joined"]) == (0, 0, 0)
    assert report["codes_kept"] == sorted(before["code"]) and report["codes_new"] == report["codes_retired"] == []
    assert outcome.generation_id is None  # nothing staged for a plan that changes nothing
    assert store.count(schema.GENERATIONS) == 1
    after = outcome.plan.after.sort_values("code").reset_index(drop=True)
    assert after["households"].tolist() == [360] * 6
    # boundaries did not move: straight edges in lon/lat vs in metres differ by millimetres only
    shift_m = shapely.hausdorff_distance(after.to_crs(32650).geometry.values, before.to_crs(32650).geometry.values)
    assert float(np.max(shift_m)) < 0.05
    assert outcome.plan.certificate.ok, outcome.plan.certificate.summary()


def test_new_estate_moves_only_nearby_blocks_and_keeps_in_band_codes(store, settings):
    sm.seed_community(store)
    sm.activate_layout(store)
    # grid 5 (blocks (2..3, 0..1)) gets a new estate of 3 x 60 households in block (2, 0): 360 -> 540
    sm.add_buildings(store, [(2, 0)], households=60)
    active = active_grids(store, community_code=sm.COMMUNITY)
    outcome = rebalance_from_store(store, settings, sm.COMMUNITY, band=sm.BAND, commit=True, actor="planner1")
    plan = outcome.plan
    report = plan.report
    assert report["changed"] and plan.certificate.ok, plan.certificate.summary()
    now = {g["code"]: g["households_now"] for g in report["grids"] if g["households_now"] is not None}
    assert now[_code(5)] == 540 and all(v == 360 for k, v in now.items() if k != _code(5))
    assert plan.after["households"].between(sm.BAND.min, sm.BAND.max).all()
    assert int(plan.after["households"].sum()) == 6 * 360 + 180
    # every grid that was in band keeps its code; nothing retired
    assert set(report["codes_kept"]) == {_code(s) for s in range(1, 7)} and report["codes_retired"] == []
    # minimal: one 90-household block (or the 270-household one) moved, only from grid 5 to a neighbour
    moved = plan.units[plan.units["moved"]]
    assert report["blocks_moved"] == len(moved) >= 1
    assert report["households_moved"] == int(moved["households"].sum()) <= 270
    assert set(moved["old_code"]) == {_code(5)}
    assert set(moved["new_code"]) <= _neighbours_of({_code(5)}, active) - {_code(5)}
    # committed as a staged generation with the certificate; the active one is untouched
    gens = store.read(schema.GENERATIONS).set_index("generation_id")
    assert gens.loc[outcome.generation_id, "status"] == GenerationStatus.STAGED.value
    assert gens.loc[outcome.generation_id, "certificate"]["ok"] is True
    assert gens.loc[outcome.generation_id, "created_by"] == "planner1"
    staged = store.read(schema.GRIDS, where={"generation_id": outcome.generation_id})
    assert sorted(staged["code"]) == sorted(plan.after["code"])


def test_demolition_merges_and_new_codes_never_reuse_retired_ones(store, settings):
    sm.seed_community(store)
    sm.activate_layout(store)
    # grid 1 (north-west) loses 3 of its 4 blocks: 90 households left, below half the minimum -> merged
    removed = sm.demolish(store, [(0, 2), (0, 3), (1, 3)])
    assert removed == 270
    first = rebalance_from_store(store, settings, sm.COMMUNITY, band=sm.BAND, commit=True)
    report = first.plan.report
    assert report["codes_retired"] == [_code(1)] and report["codes_new"] == []
    assert report["households_moved"] == 90  # only the surviving block changed grid
    assert first.plan.certificate.ok
    activate_generation(store, first.generation_id)
    # now a new estate doubles grid 6: it is split and the new grid continues after 006, not at 001
    sm.add_buildings(store, [(4, 0), (5, 0), (4, 1), (5, 1)], households=30)
    second = rebalance_from_store(store, settings, sm.COMMUNITY, band=sm.BAND)
    assert second.plan.report["codes_new"] == [_code(7)]
    assert _code(1) not in set(second.plan.after["code"])
    assert second.plan.after["households"].between(sm.BAND.min, sm.BAND.max).all()
    assert second.generation_id is None and store.count(schema.GENERATIONS) == 2  # dry run stages nothing


def test_rebalance_needs_an_active_generation(store, settings):
    sm.seed_community(store)
    with pytest.raises(NotFoundError, match="no active generation"):
        rebalance_from_store(store, settings, sm.COMMUNITY, band=sm.BAND)


def _path_problem(households: list[int], band: Band) -> PartitionProblem:
    n = len(households)
    edges = np.asarray([[i, i + 1] for i in range(n - 1)], dtype=np.int64).reshape(-1, 2)
    return PartitionProblem(
        households=np.asarray(households, dtype=np.int64),
        xy_m=np.column_stack([np.arange(n, dtype=float) * 100, np.zeros(n)]),
        area_m2=np.full(n, 1e4),
        edges=edges,
        edge_length_m=np.full(len(edges), 100.0),
        edge_cut_weight=np.ones(len(edges)),
        band=band,
    )


def test_repair_moves_one_unit_across_the_boundary():
    band = Band(300, 500, 400)
    problem = _path_problem([150, 150, 150, 150, 100, 250], band)
    labels = np.asarray([0, 0, 0, 0, 1, 1], dtype=np.int64)  # A = 600 (over), B = 350
    result = repair_labels(problem, labels, {0: "A", 1: "B"}, rng=np.random.default_rng(0))
    assert result.labels.tolist() == [0, 0, 0, 1, 1, 1]  # the boundary unit moved, nothing else
    assert result.codes == {0: "A", 1: "B"} and result.retired == []
    assert [a["action"] for a in result.actions] == ["move"]


def test_repair_prefers_a_worse_move_to_disconnecting_a_grid():
    # A = units 0-1-2 (1 in the middle), B = unit 3 touching all three. Moving unit 1 fixes most
    # violation per household but would cut A in two; a corner unit must move instead.
    band = Band(200, 300, 250)
    problem = PartitionProblem(
        households=np.asarray([150, 100, 150, 150], dtype=np.int64),
        xy_m=np.asarray([[0.0, 0.0], [100.0, 0.0], [200.0, 0.0], [100.0, 100.0]]),
        area_m2=np.full(4, 1e4),
        edges=np.asarray([[0, 1], [1, 2], [0, 3], [1, 3], [2, 3]], dtype=np.int64),
        edge_length_m=np.full(5, 100.0),
        edge_cut_weight=np.ones(5),
        band=band,
    )
    labels = np.asarray([0, 0, 0, 1], dtype=np.int64)  # A = 400 (over by 100), B = 150 (under by 50)
    result = repair_labels(problem, labels, {0: "A", 1: "B"}, rng=np.random.default_rng(0))
    assert result.labels.tolist() == [1, 0, 0, 1]
    assert [a["unit"] for a in result.actions] == [0]


def test_repair_merges_an_emptied_grid_and_retires_its_code():
    band = Band(300, 500, 400)
    problem = _path_problem([200, 200, 0, 50, 300], band)
    labels = np.asarray([0, 0, 1, 1, 2], dtype=np.int64)  # A = 400, B = 50 (demolished), C = 300
    result = repair_labels(problem, labels, {0: "A", 1: "B", 2: "C"}, rng=np.random.default_rng(0))
    assert result.retired == ["B"]
    assert sorted(c for c in result.codes.values() if c) == ["A", "C"]
    sums = np.bincount(result.labels, weights=problem.households)
    assert all(band.contains(s) for s in sums[np.unique(result.labels)])


def test_an_estate_in_one_grid_is_never_split_by_moves(store, settings):
    sm.seed_community(store)
    sm.activate_layout(store)
    estate = [f"b{c}{r}{k}" for c, r in ((3, 0), (3, 1)) for k in range(sm.BUILDINGS_PER_BLOCK)]
    with store.transaction() as tx:
        tx.update(schema.BUILDINGS, {"building_id": estate}, {"estate_id": "E1", "estate_name": "翠苑小区"})
    sm.add_buildings(store, [(2, 0)], households=60)  # grid 5: 540; its eastern column is estate E1
    plan = rebalance_from_store(store, settings, sm.COMMUNITY, band=sm.BAND).plan
    assert plan.certificate.ok and plan.report["blocks_moved"] >= 1
    grids = plan.after.to_crs(32650)
    holders = set()
    for c, r in ((3, 0), (3, 1)):
        centre = gpd.GeoSeries([sm.block_centre(c, r)], crs=4326).to_crs(32650).iloc[0]
        holders |= set(grids.loc[grids.covers(centre), "code"])
    assert len(holders) == 1  # both blocks of the estate stay in one grid
