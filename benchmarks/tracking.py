"""Benchmark: worker positions over HTTP into PostGIS, and ingest-to-browser latency of the live map.

Targets (issue 7): at least 1,000 fixes/s for 60 s over HTTP (``gridmap track-listen``, one fix per
request as phones send them) into PostGIS, with zero loss (positions stored == fixes acknowledged with
200) and steady memory (the listener's RSS sampled every second: growth over the second half of the
run stays small); under 2 s from a fix's POST to the moment its marker moves on the live map in headless
Chromium (``/command``, SSE), measured with Playwright.

The load: ``DEVICES`` workers with phones in a synthetic district of ``GRIDS`` grids; client threads
send fixes paced to ``RATE`` per second (each device moving along a line), counting 200s and keeping
every acknowledged (device, fix time). The listener runs as a separate ``gridmap track-listen``
process on a throwaway PostGIS cluster (benchmarks/pgcluster.py).

Run: ``.venv/bin/python -m benchmarks.tracking`` (``GRIDMAP_BENCH_TRACK_S`` shortens the load phase,
``GRIDMAP_BENCH_TRACK_RATE`` changes the rate). Writes benchmarks/results/tracking.json.

:func:`pause_cluster` / :func:`resume_cluster` stop and restart a throwaway cluster's server with the
same options (postmaster.opts) and data: the reliability test (tests/tracking/test_reliability.py)
uses them to take PostGIS away in the middle of a stream of fixes.
"""

from __future__ import annotations

import shlex
import subprocess

from benchmarks.pgcluster import PG_BIN_DIR, START_TIMEOUT_S, PgCluster


def _pg_ctl(cluster: PgCluster, *args: str) -> None:
    argv = [str(PG_BIN_DIR / "pg_ctl"), "-D", str(cluster.data_dir), *args]
    cmd = ["runuser", "-u", cluster.run_as, "--", *argv] if cluster.run_as else argv
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"pg_ctl {args[0]} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")


def pause_cluster(cluster: PgCluster) -> list[str]:
    """Stop the server (fast shutdown: sessions end, committed work is flushed); returns its options."""
    words = shlex.split((cluster.data_dir / "postmaster.opts").read_text())[1:]
    options = []
    skip = False
    for word in words:  # pg_ctl passes -D itself
        if skip:
            skip = False
            continue
        if word == "-D":
            skip = True
            continue
        options.append(word)
    _pg_ctl(cluster, "-m", "fast", "-w", "stop")
    return options


def resume_cluster(cluster: PgCluster, options: list[str]) -> None:
    """Start the server again with the options :func:`pause_cluster` returned."""
    _pg_ctl(cluster, "-l", str(cluster.root / "server.log"), "-w", "-t", str(START_TIMEOUT_S),
            "-o", shlex.join(options), "start")
