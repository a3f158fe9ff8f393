"""Benchmark: a full ``build_demo`` (scale 1, seed 2024, 12 months) into a fresh GeoPackage.

Target: the whole build (generate + workers + incidents + write) under 60 s, so `make demo`
starts quickly. Per-step timings come from the build's own summary. Writes
benchmarks/results/demo_build.json. Usage: ``python -m benchmarks.demo_build``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import timed, write_result
from gridmap.config import Settings
from gridmap.demo.build import build_demo
from gridmap.store.base import open_store

SEED = 2024
TARGET_S = 60.0


def run(*, seed: int = SEED, scale: float = 1.0) -> dict[str, Any]:
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="gridmap-demo-bench-") as tmp:
        path = Path(tmp) / "demo.gpkg"
        store = open_store(f"gpkg://{path}", settings)
        with timed() as total:
            summary = build_demo(store, settings, seed=seed, scale=scale)
        size_mb = path.stat().st_size / 1e6
        store.close()
    timings = {"total": total.seconds, **{f"step: {k}": v for k, v in summary.timings.items()}}
    counts = summary.as_dict()
    counts.pop("timings")
    return write_result(
        "demo_build",
        timings_s=timings,
        targets_s={"total": TARGET_S},
        extra={"summary": counts, "gpkg_size_mb": round(size_mb, 1), "store": "gpkg (fresh file)"},
    )


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, ensure_ascii=False))
