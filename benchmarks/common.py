"""Shared plumbing of the benchmarks: machine facts, timing, and one JSON result file per benchmark.

Why JSON files: speed and memory targets are tracked over time and across machines, not asserted
in tests (a loaded CI runner would make such tests flaky). Each benchmark module defines
``run() -> dict`` that returns what :func:`write_result` wrote to ``benchmarks/results/<name>.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
_PACKAGES = ("numpy", "pandas", "shapely", "geopandas", "pyogrio", "pyproj", "psycopg", "psycopg-binary")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).parent, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def machine_info() -> dict[str, Any]:
    """Where the numbers were measured: CPU, cores, memory, Python and library versions, commit."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        import pyogrio
        import shapely

        versions["gdal"] = pyogrio.__gdal_version_string__
        versions["geos"] = shapely.geos_version_string
    except ImportError:
        pass
    versions["sqlite"] = sqlite3.sqlite_version
    mem_kb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "memory_mb": mem_kb // 1024,
        "python": platform.python_version(),
        "versions": versions,
        "commit": _git_commit(),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB): the benchmarks' memory figure."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stopwatch:
    """Seconds of one timed block (``perf_counter``, wall clock)."""

    seconds: float = float("nan")


@contextmanager
def timed() -> Iterator[Stopwatch]:
    watch = Stopwatch()
    start = time.perf_counter()
    try:
        yield watch
    finally:
        watch.seconds = time.perf_counter() - start


def write_result(
    name: str,
    *,
    timings_s: Mapping[str, float],
    targets_s: Mapping[str, float],
    extra: Mapping[str, Any] | None = None,
    results_dir: Path = RESULTS_DIR,
) -> dict[str, Any]:
    """Write ``<results_dir>/<name>.json``: machine, timings, targets, pass/fail per target and overall.

    A target whose timing is missing (e.g. a backend that could not start) counts as failed.
    """
    checks = {key: (key in timings_s and timings_s[key] <= limit) for key, limit in targets_s.items()}
    result: dict[str, Any] = {
        "name": name,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "timings_s": {k: round(v, 4) for k, v in timings_s.items()},
        "targets_s": dict(targets_s),
        "checks": checks,
        "passed": all(checks.values()),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        **(extra or {}),
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result
