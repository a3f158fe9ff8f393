"""Run every benchmark: each ``benchmarks/*.py`` module that defines ``run() -> dict``.

Usage: ``python -m benchmarks.run_all [name ...]`` (names filter the modules). Each benchmark
writes its own ``benchmarks/results/<name>.json``; this prints a one-line summary per benchmark
and exits 1 when any benchmark failed its targets or raised.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
_NOT_BENCHMARKS = {"__init__", "common", "run_all", "pgcluster"}


def benchmark_modules(names: Sequence[str] = ()) -> list[str]:
    """Module names under benchmarks/ (sorted), optionally only those named."""
    found = sorted(p.stem for p in HERE.glob("*.py") if p.stem not in _NOT_BENCHMARKS)
    return [m for m in found if not names or m in names]


def run_benchmarks(names: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """Run the benchmarks in turn; a benchmark that raises is recorded as failed, the others still run."""
    results: dict[str, dict[str, Any]] = {}
    for module_name in benchmark_modules(names):
        module = importlib.import_module(f"benchmarks.{module_name}")
        run: Callable[[], dict[str, Any]] | None = getattr(module, "run", None)
        if not callable(run):
            continue
        try:
            results[module_name] = run()
        except Exception as exc:  # one broken benchmark must not hide the others
            traceback.print_exc()
            results[module_name] = {"name": module_name, "passed": False, "error": f"{type(exc).__name__}: {exc}"}
    return results


def main(argv: Sequence[str] | None = None) -> int:
    names = list(sys.argv[1:] if argv is None else argv)
    unknown = set(names) - set(benchmark_modules())
    if unknown:
        print(f"unknown benchmarks: {', '.join(sorted(unknown))}; known: {', '.join(benchmark_modules())}")
        return 2
    results = run_benchmarks(names)
    for name, result in results.items():
        status = "PASS" if result.get("passed") else "FAIL"
        timings = ", ".join(f"{k}={v:.2f}s" for k, v in result.get("timings_s", {}).items())
        print(f"{status} {name}: {timings or result.get('error', '')}")
    return 0 if results and all(r.get("passed") for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
