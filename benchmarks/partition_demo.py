"""Partition quality and speed on the demo district: every community with its own band, serially.

Why: the demo district (60 communities: 社区 urban 300-500, 村 rural 100-300 households, P-5) is
the closest thing to a real roll-out that ships with gridmap. The issue asks for every grid in band
wherever that is feasible and for the whole district to partition in < 30 s on one core. This reads
every community's inputs once, then runs ``partition_community`` on each serially (each with its own
band, seed 0; nothing is written) and reports, for urban and rural communities apart, the share of
base grids in band, every grid still out of band with its flag message (``proved infeasible: ...``
or ``heuristic: ...``), and the number of islands the exact model proved infeasible.

Wall-clock and CPU seconds are both recorded: the CPU figure is the one to compare when the
machine is shared. Run: ``.venv/bin/python -m benchmarks.partition_demo [--store gpkg:///tmp/q.gpkg]``.
Without a store a fresh demo (seed 2024) is built in a temporary GeoPackage first (~45 s, not
timed). ``--baseline DIR`` also partitions the same store with the gridmap package found in DIR
(e.g. ``git archive <commit> gridmap | tar -x -C DIR``) and stores it under ``before``. Writes
benchmarks/results/partition_demo.json.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from benchmarks.common import write_result
from gridmap.config import Settings
from gridmap.services.partitioning import band_for_community, community_codes, inputs_from_store
from gridmap.store.factory import open_store

try:
    from gridmap.codes import is_village_code
except ImportError:  # an older checkout measured with --baseline
    from gridmap.services.partitioning import is_village_code  # type: ignore[attr-defined,no-redef]

ROOT = Path(__file__).resolve().parent.parent
TARGETS_S = {"demo_60_communities_serial": 30.0}


def _summary(outcomes: list[Any]) -> dict[str, Any]:
    """In-band shares by setting (urban/rural), the grids out of band and the proofs."""
    kinds: dict[str, dict[str, int]] = {"urban": {"grids": 0, "in_band": 0}, "rural": {"grids": 0, "in_band": 0}}
    out: list[dict[str, Any]] = []
    proved = 0
    for o in outcomes:
        rep = o.result.report
        kind = "rural" if is_village_code(o.code) else "urban"
        base = [g for g in rep["grid_summary"] if g["kind"] == "base"]
        kinds[kind]["grids"] += len(base)
        kinds[kind]["in_band"] += sum(bool(g["in_band"]) for g in base)
        proved += int(rep.get("islands", {}).get("proved_infeasible", 0))
        out.extend({"community": o.code, "setting": kind, **g} for g in rep["out_of_band"])
    shares = {k: round(v["in_band"] / v["grids"], 4) if v["grids"] else None for k, v in kinds.items()}
    return {"by_setting": kinds, "share_in_band": shares, "out_of_band": out, "islands_proved_infeasible": proved}


def dump_inputs(store_url: str, path: Path) -> float:
    """Every community's inputs and band, read from the store and pickled as plain data (so that
    an older gridmap, which may refuse a newer store, can partition the very same inputs); the
    seconds the reading took."""
    settings = Settings()
    store = open_store(store_url, settings)
    start = time.perf_counter()
    try:
        rows = []
        for code in community_codes(store):
            band = band_for_community(code, settings)
            inp = inputs_from_store(store, code, band=band)
            rows.append({"code": code, "name": inp.name, "boundary": inp.boundary, "roads": inp.roads,
                         "buildings": inp.buildings, "estates": inp.estates, "units": inp.units,
                         "band": (band.min, band.max, band.target)})  # fmt: skip
    finally:
        store.close()
    path.write_bytes(pickle.dumps(rows))
    return time.perf_counter() - start


def measure(inputs_path: Path) -> dict[str, Any]:
    """Partition every community serially (seed 0, each with its own band) and summarise."""
    from gridmap.partition.engine import partition_community
    from gridmap.partition.problem import Band

    rows = pickle.loads(inputs_path.read_bytes())  # a file this benchmark wrote itself
    settings = Settings()
    outcomes = []
    start, cpu = time.perf_counter(), time.process_time()
    for r in rows:
        result = partition_community(r["boundary"], r["roads"], r["buildings"], community_code=r["code"],
                                     community_name=r["name"], band=Band(*r["band"]), settings=settings,
                                     estates=r["estates"], units=r["units"], seed=0)  # fmt: skip
        outcomes.append(SimpleNamespace(code=r["code"], result=result))
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    per_community = {o.code: round(float(o.result.report["runtime_s"]), 3) for o in outcomes}
    strategy_s = sum(float(o.result.report.get("strategy_s", 0.0)) for o in outcomes)
    return {"seconds": round(seconds, 3), "communities": len(rows), **_summary(outcomes),
            "cpu_s": round(cpu_s, 3), "strategy_s": round(strategy_s, 3),
            "runtime_per_community_s": per_community}  # fmt: skip


def _baseline(code_dir: Path, inputs_path: Path) -> dict[str, Any]:
    """``measure`` with the gridmap package of ``code_dir`` (its directory comes first on sys.path)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out = subprocess.run([sys.executable, "-m", "benchmarks.partition_demo", "--worker", str(inputs_path)],
                         capture_output=True, text=True, check=True, cwd=code_dir, env=env)  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(*, store_url: str | None = None, baseline: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gridmap-partition-demo-") as tmp:
        url = store_url or f"gpkg://{Path(tmp) / 'demo.gpkg'}"
        if store_url is None:
            from gridmap.demo.build import build_demo

            store = open_store(url, Settings())
            build_demo(store, Settings(), seed=2024)
            store.close()
        inputs_path = Path(tmp) / "inputs.pickle"
        read_s = dump_inputs(url, inputs_path)
        after = measure(inputs_path)
        before = _baseline(baseline, inputs_path) if baseline is not None else None
    seconds = after.pop("seconds")
    extra = {"store": store_url or "fresh demo (seed 2024)", "read_inputs_s": round(read_s, 3), **after,
             "before": {"code": str(baseline), **before} if before else None}  # fmt: skip
    return write_result("partition_demo", timings_s={"demo_60_communities_serial": seconds}, targets_s=TARGETS_S,
                        extra=extra)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="an existing demo store, e.g. gpkg:///tmp/q.gpkg (read only)")
    parser.add_argument("--baseline", type=Path, help="A directory holding an older gridmap package to compare.")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker), ensure_ascii=False))
        return
    result = run(store_url=args.store, baseline=args.baseline)
    keys = ("timings_s", "cpu_s", "strategy_s", "share_in_band", "by_setting", "islands_proved_infeasible")
    brief = {k: result[k] for k in keys}
    brief["out_of_band"] = [(g["community"], g["households"], g["reason"]) for g in result["out_of_band"]]
    if result.get("before"):
        brief["before"] = {k: result["before"][k] for k in ("seconds", "cpu_s", "share_in_band", "by_setting")}
    print(json.dumps(brief, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
