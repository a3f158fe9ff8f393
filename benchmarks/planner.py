"""Benchmark: rebalancing a 1,000-block community, and activation with re-linking of 100,000 incidents.

Targets (issue 9): ``rebalance`` of a community of 1,000 road blocks < 2 s; activating a generation
whose grids moved, re-linking 100,000 open incidents (and the workers) in the same transaction,
< 10 s. Both on the GeoPackage store and on PostGIS (a throwaway cluster, benchmarks/pgcluster.py).

Data (synthetic, seeded): a lattice of 50 x 20 road blocks (~70 m x 80 m) near Hebi with 3 buildings
each (75..123 households per block), active grids of 2 x 2 blocks (so they start in band); then 12
blocks gain a new estate and 12 are demolished, so some grids leave the band. For re-linking, the new
generation is the same lattice grouped with a one-column shift, so nearly every incident changes grid.

Timings: ``rebalance_plan_s`` is ``partition.rebalance.rebalance_community`` on frames in memory (the
algorithm, second call; ``rebalance_plan_cold_s`` is the first call of the process, which also loads
the PROJ database; CPU seconds are recorded too, since the machine may be shared);
``rebalance_<store>_s`` is ``services.planner.rebalance_from_store`` (reads included);
``activate_relink_<store>_s`` is ``services.generations.activate_with_report``. Writes
benchmarks/results/planner.json. Run: ``.venv/bin/python -m benchmarks.planner``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon, box

from benchmarks.common import timed, write_result
from benchmarks.pgcluster import ClusterUnavailable, start_cluster
from gridmap import schema
from gridmap.codes import grid_code, grid_name
from gridmap.config import Settings
from gridmap.partition.problem import Band
from gridmap.partition.rebalance.plan import rebalance_community
from gridmap.services.generations import activate_generation, activate_with_report, active_grids, stage_generation
from gridmap.services.partitioning import inputs_from_store
from gridmap.services.planner import rebalance_from_store, used_codes
from gridmap.store.base import Store
from gridmap.store.factory import open_store

SEED = 9
COLS, ROWS = 50, 20
W, S, DX, DY = 114.28, 35.74, 0.0008, 0.0007
COMMUNITY, STREET = "410611001001", "410611001"
BAND = Band(300, 500, 400)
INCIDENTS = 100_000
TARGETS_S = {"rebalance_plan_s": 2.0, "rebalance_gpkg_s": 2.0, "rebalance_postgis_s": 2.0,
             "activate_relink_gpkg_s": 10.0, "activate_relink_postgis_s": 10.0}  # fmt: skip


def _cell(c: int, r: int) -> shapely.Polygon:
    return box(W + c * DX, S + r * DY, W + (c + 1) * DX, S + (r + 1) * DY)


def _seed(store: Store, rng: np.random.Generator) -> None:
    outline = shapely.normalize(shapely.union_all([_cell(c, r) for c in range(COLS) for r in range(ROWS)]))
    areas = gpd.GeoDataFrame(
        {"code": [STREET, COMMUNITY], "name": ["金山街道", "黎阳社区"], "level": ["street", "community"],
         "parent_code": ["410611", STREET]},
        geometry=[MultiPolygon([outline.buffer(0.001, join_style="mitre")]), MultiPolygon([cast(Polygon, outline)])],
        crs=4326,
    )
    roads = [LineString([(W + c * DX, S - 0.0003), (W + c * DX, S + ROWS * DY + 0.0003)]) for c in range(1, COLS)]
    roads += [LineString([(W - 0.0003, S + r * DY), (W + COLS * DX + 0.0003, S + r * DY)]) for r in range(1, ROWS)]
    buildings, households = [], []
    for c in range(COLS):
        for r in range(ROWS):
            per = int(rng.integers(25, 42))  # 75..123 per block: 2 x 2 grids in band
            cx, cy = W + (c + 0.5) * DX, S + (r + 0.5) * DY
            for k in (-1, 0, 1):
                buildings.append(box(cx + k * DX / 4 - 0.00005, cy - 0.00005, cx + k * DX / 4 + 0.00005, cy + 0.00005))
                households.append(per)
    with store.transaction() as tx:
        tx.insert(schema.AREAS, areas)
        tx.insert(schema.ROADS, gpd.GeoDataFrame({"road_class": ["local"] * len(roads)}, geometry=roads, crs=4326))
        tx.insert(schema.BUILDINGS, gpd.GeoDataFrame({"building_id": [f"b{i}" for i in range(len(buildings))],
                                                      "households": households}, geometry=buildings, crs=4326))


def _grids(shift: int) -> gpd.GeoDataFrame:
    """Grids of 2 x 2 blocks (columns grouped from ``shift``), numbered north->south, west->east."""
    starts = [0] if shift else []
    starts += list(range(shift, COLS, 2))
    geoms: list[MultiPolygon] = []
    rows: list[dict[str, Any]] = []
    for r0 in range(ROWS - 1, -1, -2):
        for i, c0 in enumerate(starts):
            c1 = starts[i + 1] if i + 1 < len(starts) else COLS
            cells = [_cell(c, r) for c in range(c0, c1) for r in (r0, r0 - 1) if r >= 0]
            geoms.append(MultiPolygon([cast(Polygon, shapely.union_all(cells))]))
            seq = len(rows) + 1 + (500 if shift else 0)
            rows.append({"code": grid_code(COMMUNITY, seq), "name": grid_name("黎阳社区", seq), "kind": "base",
                         "community_code": COMMUNITY, "generation_id": 0, "households": 0, "flags": []})
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)


def _activate(store: Store, grids: gpd.GeoDataFrame) -> int:
    with store.transaction() as tx:
        gen = stage_generation(tx, COMMUNITY, grids, created_by="bench")
    return gen


def _perturb(store: Store, rng: np.random.Generator) -> None:
    """12 blocks gain a new estate (3 x 60 households), 12 lose all their buildings."""
    cells = rng.choice(COLS * ROWS, size=24, replace=False)
    grow, gone = cells[:12], cells[12:]
    new = [box(W + (c // ROWS + 0.5) * DX + k * DX / 4 - 0.00004, S + (c % ROWS + 0.8) * DY - 0.00004,
               W + (c // ROWS + 0.5) * DX + k * DX / 4 + 0.00004, S + (c % ROWS + 0.8) * DY + 0.00004)
           for c in grow.tolist() for k in (-1, 0, 1)]  # fmt: skip
    with store.transaction() as tx:
        tx.insert(schema.BUILDINGS, gpd.GeoDataFrame({"building_id": [f"n{i}" for i in range(len(new))],
                                                      "households": [60] * len(new)}, geometry=new, crs=4326))
        tx.delete(schema.BUILDINGS, {"building_id": [f"b{3 * int(c) + k}" for c in gone.tolist() for k in range(3)]})


def _incidents(rng: np.random.Generator, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    x = rng.uniform(W + 1e-6, W + COLS * DX - 1e-6, INCIDENTS)
    y = rng.uniform(S + 1e-6, S + ROWS * DY - 1e-6, INCIDENTS)
    points = shapely.points(x, y)
    idx = shapely.STRtree(np.asarray(grids.geometry.values)).query(points, predicate="within")
    codes = np.full(INCIDENTS, None, dtype=object)
    codes[idx[0]] = grids["code"].to_numpy()[idx[1]]
    return gpd.GeoDataFrame({
        "incident_id": [f"E{i:06d}" for i in range(INCIDENTS)], "category": "环境卫生",
        "status": np.where(rng.random(INCIDENTS) < 0.9, "in_progress", "closed"),
        "reported_at": pd.Timestamp("2024-05-01T08:00:00Z"), "grid_code": codes, "community_code": COMMUNITY,
    }, geometry=points, crs=4326)  # fmt: skip


def _measure_store(store: Store, settings: Settings, name: str, timings: dict[str, float],
                   extra: dict[str, Any]) -> None:  # fmt: skip
    rng = np.random.default_rng(SEED)
    _seed(store, rng)
    first = _grids(0)
    activate_generation(store, _activate(store, first))
    _perturb(store, rng)
    if name == "gpkg":  # the algorithm alone, on frames already in memory
        inputs = inputs_from_store(store, COMMUNITY)
        active = active_grids(store, community_code=COMMUNITY)
        codes = used_codes(store, COMMUNITY)
        def plan_once() -> Any:
            return rebalance_community(inputs.boundary, inputs.roads, inputs.buildings, active,
                                       community_code=COMMUNITY, community_name=inputs.name, band=BAND,
                                       settings=settings, used_codes=codes)  # fmt: skip

        cpu = time.process_time()
        with timed() as t:
            plan = plan_once()  # cold: the first metric transform in the process loads the PROJ database
        timings["rebalance_plan_cold_s"] = t.seconds
        extra["rebalance_plan_cold_cpu_s"] = round(time.process_time() - cpu, 3)
        cpu = time.process_time()
        with timed() as t:
            plan_once()
        timings["rebalance_plan_s"] = t.seconds
        extra["rebalance_plan_cpu_s"] = round(time.process_time() - cpu, 3)
        extra["rebalance"] = {k: plan.report[k] for k in ("blocks", "blocks_moved", "households_moved", "codes_new",
                                                          "codes_retired", "out_of_band_after")}
        extra["rebalance"]["certificate_ok"] = plan.certificate.ok
        extra["rebalance"]["grids_before"] = len(active)
    with timed() as t:
        rebalance_from_store(store, settings, COMMUNITY, band=BAND)
    timings[f"rebalance_{name}_s"] = t.seconds
    with store.transaction() as tx:
        tx.insert(schema.INCIDENTS, _incidents(rng, first))
    gen = _activate(store, _grids(1))
    with timed() as t:
        result = activate_with_report(store, gen, actor="bench")
    timings[f"activate_relink_{name}_s"] = t.seconds
    extra[f"relink_{name}"] = result.relink.counts


def run() -> dict[str, Any]:
    settings = Settings()
    timings: dict[str, float] = {}
    extra: dict[str, Any] = {"blocks": COLS * ROWS, "incidents": INCIDENTS, "seed": SEED}
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-planner-") as tmp:
        store = open_store(f"gpkg://{Path(tmp) / 'planner.gpkg'}", settings)
        try:
            _measure_store(store, settings, "gpkg", timings, extra)
        finally:
            store.close()
    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        extra["postgis_error"] = str(exc)
    else:
        try:
            pg = open_store(cluster.create_database("planner_bench"), settings)
            try:
                _measure_store(pg, settings, "postgis", timings, extra)
            finally:
                pg.close()
        finally:
            cluster.stop()
    extra["load_avg_1m_after"] = os.getloadavg()[0]
    return write_result("planner", timings_s=timings, targets_s=TARGETS_S, extra=extra)


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2, ensure_ascii=False))
