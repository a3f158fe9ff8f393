"""Speed, memory and quality of the region strategy, against PySAL spopt (max-p) and GerryChain.

Why: the strategy must stay interactive (1,000 blocks in < 2 s including the repair), scale to a
whole district (10,000 blocks under 1 GB, sparse structures only) and put every grid in the band
where that is feasible -- and say so where it is not. The peers: spopt's ``MaxPHeuristic`` has a
floor (300 households) but no ceiling and builds dense n x n matrices; GerryChain's
``recursive_tree_part`` (spanning-tree bisection, the ReCom family) balances two-sided but needs the
number of parts given (here ``round(total / target)``, epsilon 0.25 so that parts of
``total / k +- 25%`` fall in 300..500) and knows neither roads nor infeasibility.

Instances: ``gridmap.partition.regions.synthetic.lattice_community`` -- a perturbed street lattice
(110 m x 90 m blocks, jitter 15 m, an arterial every 6th street, a collector every 3rd), seeded, so
every run measures the same blocks: 1,000 and 10,000 blocks of 20-120 households, and a "coarse"
lattice of 120 blocks of 100-450 households (estate-sized atoms: no partition keeps every grid in
band; the fewest households outside it is what counts). All solvers get the same blocks and
adjacency. Each measurement runs in its own subprocess so that its peak resident memory
(``ru_maxrss``) belongs to it alone.

Before/after: ``--baseline DIR`` also measures gridmap from an older checkout (``git archive
<commit> gridmap | tar -x -C DIR``) under the same load and stores it under ``before``.

Run: ``.venv/bin/python -m benchmarks.partition [--skip-peers] [--baseline DIR]``; writes
benchmarks/results/partition.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from benchmarks.common import RESULTS_DIR, peak_rss_mb, write_result
from gridmap.partition.problem import Band
from gridmap.partition.regions.synthetic import ARTERIAL_WEIGHT, LatticeCommunity, lattice_community

ROOT = Path(__file__).resolve().parent.parent
SEED = 20240611
BAND = Band(300, 500, 400)
SIZES = {"1000": (40, 25), "10000": (100, 100), "coarse": (12, 10)}
HOUSEHOLDS = {"1000": (20, 120), "10000": (20, 120), "coarse": (100, 450)}
TARGETS_S = {"gridmap_1000": 2.0}
MEMORY_TARGET_MB = 1024.0
SPEEDUP_TARGET = 10.0
#: GerryChain gives up on a bisection after this many spanning trees (its default, 100,000, runs
#: for hours on an instance without balanced cuts).
GERRYCHAIN_MAX_TREES = 2000


def community(size: str) -> LatticeCommunity:
    nx, ny = SIZES[size]
    return lattice_community(nx, ny, rng=np.random.default_rng(SEED), band=BAND, households_range=HOUSEHOLDS[size])


def quality(com: LatticeCommunity, labels: np.ndarray) -> dict[str, Any]:
    """Share in band, households outside it, deviation from target, Polsby-Popper of the dissolved
    grids, arterial share of cut edges."""
    p = com.problem
    _, labels = np.unique(labels, return_inverse=True)
    k = int(labels.max()) + 1
    sums = np.bincount(labels, weights=p.households, minlength=k)
    inside = (sums >= BAND.min) & (sums <= BAND.max)
    outside = np.maximum(BAND.min - sums, 0) + np.maximum(sums - BAND.max, 0)
    grids = [shapely.coverage_union_all(com.blocks[labels == r]) for r in range(k)]
    pp = [4 * np.pi * g.area / g.length**2 for g in grids]
    cut = labels[p.edges[:, 0]] != labels[p.edges[:, 1]]
    arterial = p.edge_cut_weight == ARTERIAL_WEIGHT
    return {
        "regions": k,
        "share_in_band": round(float(inside.mean()), 4),
        "grids_out_of_band": int((~inside).sum()),
        "households_outside_band": int(outside.sum()),
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
    from gridmap.partition.regions.strategy import region_result_from_problem

    com = community(size)
    rss_before = peak_rss_mb()
    start, cpu = time.perf_counter(), time.process_time()
    result = region_result_from_problem(com.problem, rng=np.random.default_rng(SEED))
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    d = result.diagnostics
    islands = [{"status": getattr(c, "status", None), "proved_min_outside": getattr(c, "lower_bound", None)}
               for c in d.components]  # fmt: skip  # (older versions report no status)
    return {
        "solver": "gridmap", "blocks": com.problem.n, "households": com.problem.total_households,
        "runtime_s": round(seconds, 3), "cpu_s": round(cpu_s, 3), "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_solve_mb": round(rss_before, 1), "attempts": getattr(d, "attempts", 1),
        "bisection_trees": d.trees, "bisection_fallbacks": d.bisection_fallbacks, "moves": d.moves,
        "repairs": d.repairs, "islands": islands, **quality(com, result.labels),
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


def measure_gerrychain(size: str) -> dict[str, Any]:
    from functools import partial

    import networkx as nx
    from gerrychain import Graph
    from gerrychain.partition.initial_partition_generators import recursive_tree_part
    from gerrychain.tree import bipartition_tree

    com = community(size)
    p = com.problem
    graph = nx.Graph()
    graph.add_nodes_from((i, {"households": int(h)}) for i, h in enumerate(p.households.tolist()))
    graph.add_edges_from(map(tuple, p.edges.tolist()))
    k = round(p.total_households / BAND.target)
    rss_before = peak_rss_mb()
    start = time.perf_counter()
    base = {"solver": "gerrychain.recursive_tree_part", "blocks": p.n, "households": p.total_households,
            "parts_requested": k, "epsilon": 0.25}  # fmt: skip
    try:
        assignment = recursive_tree_part(
            Graph.from_networkx(graph), range(k), p.total_households / k, "households", 0.25,
            bipartition_tree_fn=partial(bipartition_tree, max_attempts=GERRYCHAIN_MAX_TREES), rng=SEED,
        )  # fmt: skip
    except (RuntimeError, ValueError) as exc:  # no balanced cut within the tree budget
        return {**base, "runtime_s": round(time.perf_counter() - start, 3), "failed": str(exc)[:200],
                "share_in_band": 0.0, "peak_rss_mb": round(peak_rss_mb(), 1)}  # fmt: skip
    seconds = time.perf_counter() - start
    labels = np.asarray([assignment[i] for i in range(p.n)], dtype=np.int64)
    return {**base, "runtime_s": round(seconds, 3), "peak_rss_mb": round(peak_rss_mb(), 1),
            "rss_before_solve_mb": round(rss_before, 1), **quality(com, labels)}  # fmt: skip


MEASURES = {"gridmap": measure_gridmap, "spopt": measure_spopt, "gerrychain": measure_gerrychain}


def _in_subprocess(solver: str, size: str, *, code_dir: Path | None = None) -> dict[str, Any]:
    """One measurement in a fresh process; with ``code_dir`` the ``gridmap`` package comes from there."""
    env = dict(os.environ)
    if code_dir is not None:  # the working directory comes first on sys.path: its gridmap wins
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run([sys.executable, "-m", "benchmarks.partition", "--worker", solver, size],
                         capture_output=True, text=True, check=True, cwd=code_dir or ROOT, env=env)  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(*, skip_peers: bool = False, baseline: Path | None = None) -> dict[str, Any]:
    runs = {f"gridmap_{s}": _in_subprocess("gridmap", s) for s in ("1000", "10000", "coarse")}
    if not skip_peers:
        for peer in ("spopt", "gerrychain"):
            for s in ("1000", "coarse"):
                runs[f"{peer}_{s}"] = _in_subprocess(peer, s)
    before = {f"gridmap_{s}": _in_subprocess("gridmap", s, code_dir=baseline) for s in SIZES} if baseline else {}
    timings = {name: r["runtime_s"] for name, r in runs.items()}
    g1000, g10000, coarse = runs["gridmap_1000"], runs["gridmap_10000"], runs["gridmap_coarse"]
    speedups = {peer: round(runs[f"{peer}_1000"]["runtime_s"] / g1000["runtime_s"], 1)
                for peer in ("spopt", "gerrychain") if f"{peer}_1000" in runs}  # fmt: skip
    peers_coarse = [runs[f"{peer}_coarse"] for peer in ("spopt", "gerrychain") if f"{peer}_coarse" in runs]
    checks = {
        "gridmap_1000_in_band": g1000["share_in_band"] == 1.0,
        "gridmap_10000_memory": g10000["peak_rss_mb"] < MEMORY_TARGET_MB,
        **{f"speedup_vs_{peer}": v >= SPEEDUP_TARGET for peer, v in speedups.items()},
        "coarse_proved_optimal": all(i["proved_min_outside"] == coarse["households_outside_band"]
                                     for i in coarse["islands"]),
        "coarse_fewest_outside": all("failed" in r or r["households_outside_band"] >= coarse["households_outside_band"]
                                     for r in peers_coarse),
    }  # fmt: skip
    extra = {
        "instance": {"generator": "lattice_community", "seed": SEED, "band": [BAND.min, BAND.max, BAND.target],
                     "households_per_block": HOUSEHOLDS, "sizes": SIZES},
        "runs": runs,
        "before": {"code": str(baseline), "runs": before} if baseline else None,
        "speedup_1000": speedups,
        "memory_target_mb": MEMORY_TARGET_MB,
        "quality_checks": checks,
    }  # fmt: skip
    result = write_result("partition", timings_s=timings, targets_s=TARGETS_S, extra=extra)
    result["passed"] = bool(result["passed"] and all(checks.values()))
    (RESULTS_DIR / "partition.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("SOLVER", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-peers", action="store_true", help="Leave out the (slow) spopt and GerryChain runs.")
    parser.add_argument("--baseline", type=Path, help="A directory holding an older gridmap package to compare.")
    args = parser.parse_args()
    if args.worker:
        solver, size = args.worker
        print(json.dumps(MEASURES[solver](size)))
        return
    print(json.dumps(run(skip_peers=args.skip_peers, baseline=args.baseline), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
