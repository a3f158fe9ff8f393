"""Partition quality and speed on the demo district: every community with its own band, serially.

Why: the demo district (60 communities: 社区 urban 300-500, 村 rural 100-300 households, P-5) is
the closest thing to a real roll-out that ships with gridmap. The issue asks for every grid in band
wherever that is feasible and for the whole district to partition in < 30 s on one core. This runs
``services.partitioning.partition_store`` (serial executor, dry run: nothing is written) on a demo
store and reports, for urban and rural communities apart, the share of base grids in band, every
grid still out of band with its flag message (``proved infeasible: ...`` or ``heuristic: ...``),
and the number of islands the exact model proved infeasible.

Wall-clock and CPU seconds are both recorded: the CPU figure is the one to compare when the
machine is shared. Run: ``.venv/bin/python -m benchmarks.partition_demo [--store gpkg:///tmp/q.gpkg]``.
Without a store a fresh demo (seed 2024) is built in a temporary GeoPackage first (~45 s, not
timed). Writes benchmarks/results/partition_demo.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import write_result
from gridmap.codes import is_village_code
from gridmap.config import Settings
from gridmap.services.partitioning import community_codes, partition_store
from gridmap.store.base import open_store

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


def run(*, store_url: str | None = None) -> dict[str, Any]:
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="gridmap-partition-demo-") as tmp:
        url = store_url or f"gpkg://{Path(tmp) / 'demo.gpkg'}"
        store = open_store(url, settings)
        if store_url is None:
            from gridmap.demo.build import build_demo

            build_demo(store, settings, seed=2024)
        codes = community_codes(store)
        start, cpu = time.perf_counter(), time.process_time()
        run_ = partition_store(store, settings, codes, executor="serial")
        seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        store.close()
    summary = _summary(run_.outcomes)
    per_community = {o.code: round(float(o.result.report["runtime_s"]), 3) for o in run_.outcomes}
    strategy_s = sum(float(o.result.report.get("strategy_s", 0.0)) for o in run_.outcomes)
    extra = {"communities": len(codes), "store": store_url or "fresh demo (seed 2024)", **summary,
             "cpu_s": round(cpu_s, 3), "strategy_s": round(strategy_s, 3),
             "runtime_per_community_s": per_community}  # fmt: skip
    return write_result("partition_demo", timings_s={"demo_60_communities_serial": seconds}, targets_s=TARGETS_S,
                        extra=extra)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="an existing demo store, e.g. gpkg:///tmp/q.gpkg (read only)")
    args = parser.parse_args()
    result = run(store_url=args.store)
    keys = ("timings_s", "cpu_s", "strategy_s", "share_in_band", "by_setting", "islands_proved_infeasible")
    brief = {k: result[k] for k in keys}
    brief["out_of_band"] = [(g["community"], g["households"], g["reason"]) for g in result["out_of_band"]]
    print(json.dumps(brief, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
