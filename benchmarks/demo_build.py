"""Benchmark: the build ``gridmap demo`` runs (scale 1, seed 2024, 12 months) into a fresh GeoPackage.

That is ``build_demo`` with the partition hook ``partition_every_community``: generate, write the
base layers, partition and activate every community, then workers and incidents located to the
grids. Target: the whole build under 60 s, so `make demo` starts quickly. Per-step timings come
from the build's own summary; ``cpu_s`` (this process's CPU seconds) shows how much of the wall
time was our own work on a shared machine. Writes benchmarks/results/demo_build.json.
Usage: ``python -m benchmarks.demo_build``.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import timed, write_result
from gridmap.config import Settings
from gridmap.demo.build import build_demo, partition_every_community
from gridmap.store.factory import open_store

SEED = 2024
TARGET_S = 60.0


def run(*, seed: int = SEED, scale: float = 1.0) -> dict[str, Any]:
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="gridmap-demo-bench-") as tmp:
        path = Path(tmp) / "demo.gpkg"
        store = open_store(f"gpkg://{path}", settings)
        cpu_start = time.process_time()
        with timed() as total:
            summary = build_demo(store, settings, seed=seed, scale=scale, partition=partition_every_community)
        cpu_s = time.process_time() - cpu_start
        size_mb = path.stat().st_size / 1e6
        store.close()
    timings = {"total": total.seconds, "cpu_s": cpu_s, **{f"step: {k}": v for k, v in summary.timings.items()}}
    counts = summary.as_dict()
    counts.pop("timings")
    return write_result(
        "demo_build",
        timings_s=timings,
        targets_s={"total": TARGET_S},
        extra={"summary": counts, "gpkg_size_mb": round(size_mb, 1), "store": "gpkg (fresh file)",
               "partition": "every community, as gridmap demo (partition_every_community)"},
    )


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, ensure_ascii=False))
