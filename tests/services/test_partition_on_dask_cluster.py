"""``gridmap partition --all --executor dask://HOST:PORT --commit`` on a real cluster (issue 14 item 4).

The scheduler and two workers are separate processes started with the ``dask`` command, as on a
real cluster (not a LocalCluster inside the test). While the run is going, the worker that holds
a community task is killed with SIGKILL (no nanny, so it stays dead); the scheduler gives its
tasks to the other worker. The stored result must equal a serial run on an identical copy of the
store community by community: one staged generation per community (none written twice, none
lost), the same grid codes, households and geometries. Everything is read back with pyogrio, not
through gridmap.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gridmap(*args: str, exit_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(BIN / "gridmap"), *args], capture_output=True, text=True, timeout=600)
    assert result.returncode in exit_codes, f"{' '.join(args)}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result


@pytest.fixture
def cluster() -> Iterator[tuple[str, dict[str, subprocess.Popen[bytes]]]]:
    port = free_port()
    address = f"127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], **quiet)  # type: ignore[call-overload]  # fmt: skip
    workers = {name: subprocess.Popen([str(BIN / "dask"), "worker", f"tcp://{address}", "--name", name, "--no-nanny",
                                       "--nthreads", "1", "--no-dashboard"], **quiet)  # type: ignore[call-overload]
               for name in ("w1", "w2")}  # fmt: skip
    try:
        from distributed import Client

        with Client(f"tcp://{address}", timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for process in [*workers.values(), scheduler]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*workers.values(), scheduler]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def staged_grids(path: Path) -> dict[str, gpd.GeoDataFrame]:
    """Per community: the grids of its staged generation(s), read with pyogrio."""
    generations = pyogrio.read_dataframe(path, layer="generations")
    staged = generations[generations["status"] == "staged"]
    grids = pyogrio.read_dataframe(path, layer="grids")
    return {str(code): grids[grids["generation_id"].isin(rows["generation_id"])].sort_values("code")
            for code, rows in staged.groupby("community_code")}  # fmt: skip


def kill_a_busy_worker(address: str, workers: dict[str, subprocess.Popen[bytes]], run: subprocess.Popen[str]) -> str:
    """Wait until a worker holds a community task and a first one is done, then SIGKILL it."""
    from distributed import Client

    with Client(f"tcp://{address}", timeout="30s") as client:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and run.poll() is None:
            names = {addr: info["name"] for addr, info in client.scheduler_info()["workers"].items()}
            busy = [names[addr] for addr, keys in client.processing().items() if keys and addr in names]
            done = client.run_on_scheduler(
                lambda dask_scheduler: sum(ts.state == "memory" for ts in dask_scheduler.tasks.values())
            )
            if busy and done:
                victim = busy[0]
                os.kill(workers[victim].pid, signal.SIGKILL)
                return victim
            time.sleep(0.02)
    raise AssertionError("the run finished before any worker could be killed mid-run")


@pytest.mark.slow
def test_city_run_on_a_dask_cluster_survives_a_killed_worker_and_equals_serial(
    cluster: tuple[str, dict[str, subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    address, workers = cluster
    on_dask, serial = tmp_path / "dask.gpkg", tmp_path / "serial.gpkg"
    gridmap("demo", "--store", f"gpkg://{on_dask}", "--no-serve", "--scale", "0.4")
    with sqlite3.connect(on_dask) as source, sqlite3.connect(serial) as copy:
        source.backup(copy)  # an identical store for the serial reference
    # exit 1: a few demo communities have a grid proved unable to fit the band (the certificate says so)
    reference = gridmap("partition", "--all", "--store", f"gpkg://{serial}", "--commit", "--executor", "serial",
                        exit_codes=(0, 1))  # fmt: skip

    run = subprocess.Popen([str(BIN / "gridmap"), "partition", "--all", "--store", f"gpkg://{on_dask}", "--commit",
                            "--executor", f"dask://{address}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)  # fmt: skip
    victim = kill_a_busy_worker(address, workers, run)
    out, err = run.communicate(timeout=600)
    assert run.returncode == reference.returncode, f"{out[-2000:]}\n{err[-2000:]}"
    assert out.splitlines()[-1] == reference.stdout.splitlines()[-1]  # "staged N grids in M communities; ..."
    assert workers[victim].poll() == -signal.SIGKILL  # it really died mid-run; the other one finished its tasks

    expected, got = staged_grids(serial), staged_grids(on_dask)
    communities = pyogrio.read_dataframe(on_dask, layer="areas", columns=["code", "level"], read_geometry=False)
    assert sorted(got) == sorted(expected) == sorted(communities[communities["level"] == "community"]["code"])
    generations = pyogrio.read_dataframe(on_dask, layer="generations", read_geometry=False)
    per_community = generations[generations["status"] == "staged"].groupby("community_code").size()
    assert (per_community == 1).all()  # none written twice
    for code, want in expected.items():
        have = got[code]
        assert have["code"].tolist() == want["code"].tolist(), code
        assert have["households"].tolist() == want["households"].tolist(), code
        assert all(shapely.equals_exact(a, b, tolerance=1e-9) for a, b in zip(have.geometry, want.geometry,
                                                                              strict=True)), code  # fmt: skip
