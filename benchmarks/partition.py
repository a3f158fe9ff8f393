"""Speed, memory and quality of the region strategy, against PySAL spopt's max-p heuristic.

Why: the strategy must stay interactive (1,000 blocks in < 2 s including the repair), scale to a
whole district (10,000 blocks under 1 GB, sparse structures only) and put every grid in the band
where that is feasible. spopt's ``MaxPHeuristic`` is the reference peer: it has a floor (300
households) but no ceiling and builds dense n x n matrices.

Instance: ``gridmap.partition.regions_synthetic.lattice_community`` -- a perturbed street lattice
(110 m x 90 m blocks, jitter 15 m, an arterial every 6th street, a collector every 3rd), 20-120
households per block, seeded, so every run measures the same blocks. Both solvers get the same
blocks and the same adjacency. Each measurement runs in its own subprocess so that its peak
resident memory (``ru_maxrss``) belongs to it alone.

Run: ``.venv/bin/python -m benchmarks.partition [--skip-spopt]``; writes
benchmarks/results/partition.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from benchmarks.common import RESULTS_DIR, peak_rss_mb, write_result
from gridmap.partition.problem import Band
from gridmap.partition.regions_synthetic import ARTERIAL_WEIGHT, LatticeCommunity, lattice_community

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240611
BAND = Band(300, 500, 400)
SIZES = {"1000": (40, 25), "10000": (100, 100)}
TARGETS_S = {"gridmap_1000": 2.0}
MEMORY_TARGET_MB = 1024.0
SPEEDUP_TARGET = 10.0


def community(size: str) -> LatticeCommunity:
    nx, ny = SIZES[size]
    return lattice_community(nx, ny, rng=np.random.default_rng(SEED), band=BAND)


def quality(com: LatticeCommunity, labels: np.ndarray) -> dict[str, Any]:
    """Share in band, deviation from target, Polsby-Popper of the dissolved grids, arterial share of cuts."""
    p = com.problem
    _, labels = np.unique(labels, return_inverse=True)
    k = int(labels.max()) + 1
    sums = np.bincount(labels, weights=p.households, minlength=k)
    inside = (sums >= BAND.min) & (sums <= BAND.max)
    grids = [shapely.coverage_union_all(com.blocks[labels == r]) for r in range(k)]
    pp = [4 * np.pi * g.area / g.length**2 for g in grids]
    cut = labels[p.edges[:, 0]] != labels[p.edges[:, 1]]
    arterial = p.edge_cut_weight == ARTERIAL_WEIGHT
    return {
        "regions": k,
        "share_in_band": round(float(inside.mean()), 4),
        "max_deviation_from_target": float(np.abs(sums - BAND.target).max()),
        "mean_abs_deviation_from_target": round(float(np.abs(sums - BAND.target).mean()), 1),
        "households_min": int(sums.min()),
        "households_max": int(sums.max()),
        "multipart_grids": int(sum(g.geom_type != "Polygon" for g in grids)),
        "polsby_popper_mean": round(float(np.mean(pp)), 3),
        "arterial_share_of_cut_edges": round(float(arterial[cut].mean()), 3),
        "arterial_share_of_all_edges": round(float(arterial.mean()), 3),
    }


def measure_gridmap(size: str) -> dict[str, Any]:
    from gridmap.partition.regions import region_result_from_problem

    com = community(size)
    rss_before = peak_rss_mb()
    start = time.perf_counter()
    result = region_result_from_problem(com.problem, rng=np.random.default_rng(SEED))
    seconds = time.perf_counter() - start
    d = result.diagnostics
    return {
        "solver": "gridmap", "blocks": com.problem.n, "households": com.problem.total_households,
        "runtime_s": round(seconds, 3), "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_solve_mb": round(rss_before, 1),
        "bisection_trees": d.trees, "bisection_fallbacks": d.bisection_fallbacks, "moves": d.moves,
        "repairs": d.repairs, **quality(com, result.labels),
    }  # fmt: skip


def measure_spopt(size: str) -> dict[str, Any]:
    import geopandas as gpd
    from libpysal.weights import W
    from spopt.region import MaxPHeuristic

    com = community(size)
    p = com.problem
    gdf = gpd.GeoDataFrame({"households": p.households.astype(float)}, geometry=list(com.blocks))
    neighbours: dict[int, list[int]] = {i: [] for i in range(p.n)}
    for a, b in p.edges.tolist():
        neighbours[a].append(b)
        neighbours[b].append(a)
    w = W(neighbours, silence_warnings=True)
    np.random.seed(SEED)  # spopt draws from numpy's global generator; seeded here, in its own process
    rss_before = peak_rss_mb()
    model = MaxPHeuristic(gdf, w, ["households"], "households", BAND.min, top_n=2)
    start = time.perf_counter()
    model.solve()
    seconds = time.perf_counter() - start
    return {
        "solver": "spopt.MaxPHeuristic", "blocks": p.n, "households": p.total_households,
        "runtime_s": round(seconds, 3), "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_solve_mb": round(rss_before, 1), "floor": BAND.min,
        **quality(com, np.asarray(model.labels_)),
    }  # fmt: skip


def _in_subprocess(solver: str, size: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.partition", "--worker", solver, size],
                         capture_output=True, text=True, check=True, cwd=ROOT)  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(*, skip_spopt: bool = False) -> dict[str, Any]:
    runs = {"gridmap_1000": _in_subprocess("gridmap", "1000")}
    if not skip_spopt:
        runs["spopt_1000"] = _in_subprocess("spopt", "1000")
    runs["gridmap_10000"] = _in_subprocess("gridmap", "10000")
    timings = {name: r["runtime_s"] for name, r in runs.items()}
    g1000, g10000 = runs["gridmap_1000"], runs["gridmap_10000"]
    speedup = runs["spopt_1000"]["runtime_s"] / g1000["runtime_s"] if "spopt_1000" in runs else None
    checks = {
        "gridmap_1000_in_band": g1000["share_in_band"] == 1.0,
        "gridmap_10000_memory": g10000["peak_rss_mb"] < MEMORY_TARGET_MB,
        "speedup_vs_spopt": speedup is not None and speedup >= SPEEDUP_TARGET,
    }
    extra = {
        "instance": {"generator": "lattice_community", "seed": SEED, "band": [BAND.min, BAND.max, BAND.target],
                     "households_per_block": [20, 120], "sizes": SIZES},
        "runs": runs,
        "speedup_vs_spopt_1000": round(speedup, 1) if speedup is not None else None,
        "memory_target_mb": MEMORY_TARGET_MB,
        "quality_checks": checks,
    }
    result = write_result("partition", timings_s=timings, targets_s=TARGETS_S, extra=extra)
    result["passed"] = bool(result["passed"] and all(checks.values()))
    (RESULTS_DIR / "partition.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("SOLVER", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-spopt", action="store_true", help="Leave out the (slow) spopt baseline.")
    args = parser.parse_args()
    if args.worker:
        solver, size = args.worker
        measure = measure_gridmap if solver == "gridmap" else measure_spopt
        print(json.dumps(measure(size)))
        return
    print(json.dumps(run(skip_spopt=args.skip_spopt), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
