"""Stop and start a throwaway PostGIS cluster's server in place (same data, same options).

benchmarks/pgcluster.py starts a cluster and deletes it at the end; the reliability test needs the
server to go away and come back in the middle of a run. ``pg_ctl stop -m fast`` ends the sessions and
flushes committed work (the cluster runs with fsync off, so an immediate stop could lose commits that
were acknowledged: that would test the throwaway cluster's settings, not gridmap); the restart reuses
the options the server was started with (``postmaster.opts``).
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
