"""The city benchmark's live steps: tiles over HTTP at a fixed rate, the command map in Chromium,
and ``partition --all`` on a Dask cluster of two worker processes (issue 14 item 5).

Why separate from ``benchmarks/city.py``: these steps start servers and processes (waitress, a
Chromium, a Dask scheduler and workers), each with its own clean-up. Every step takes the city
store that ``city.py`` built and returns plain numbers for its JSON.
"""

from __future__ import annotations

import math
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import requests

from gridmap.config import Settings
from gridmap.services.accounts import add_account, create_token
from gridmap.services.partitioning import partition_and_activate_all
from gridmap.store import Store

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
RATE_PER_S = 50.0
BENCH_PASSWORD = "city-bench-Passw0rd"
#: How many times the command map page is opened; the median load time is the result.
COMMAND_MAP_LOADS = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    return int((lon + 180.0) / 360.0 * n), int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)


@contextmanager
def portal(store: Store, settings: Settings, *, threads: int = 8) -> Iterator[str]:
    """``gridmap serve`` (waitress, ``threads`` threads) on ``store``'s URL in its own process."""
    port = free_port()
    proc = subprocess.Popen([str(BIN / "gridmap"), "serve", "--store", store.url, "--host", "127.0.0.1", "--port",
                             str(port), "--workers", str(threads)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/api/v1/openapi.json", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"gridmap serve did not start on {base}") from None
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def paced_tiles(base: str, key: str, points: np.ndarray, layer: str, z: int, *, count: int) -> dict[str, Any]:
    """``count`` tile requests started at RATE_PER_S (an open-loop load, like many map viewers)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    urls = [f"{base}/tiles/{layer}/{z}/{x}/{y}.mvt" for x, y in (tile_xy(lo, la, z) for lo, la in points[:count])]
    start = time.perf_counter() + 0.2

    def fetch(i: int) -> tuple[float, int, int]:
        time.sleep(max(0.0, start + i / RATE_PER_S - time.perf_counter()))
        t0 = time.perf_counter()
        response = session.get(urls[i], timeout=30)
        return time.perf_counter() - t0, response.status_code, len(response.content)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(fetch, range(len(urls))))
    seconds = [r[0] for r in results]
    return {"requests": len(results), "rate_per_s": RATE_PER_S, "p50_s": float(np.percentile(seconds, 50)),
            "p99_s": float(np.percentile(seconds, 99)), "errors": sum(r[1] not in (200, 204) for r in results),
            "mean_bytes": float(np.mean([r[2] for r in results]))}  # fmt: skip


def http_tiles(store: Store, settings: Settings, points: np.ndarray, *, count: int = 300) -> dict[str, Any]:
    key = create_token(store, role="admin", area_code="", label="city benchmark", actor="bench").api_key
    with portal(store, settings) as base:
        return {"grids_z12": paced_tiles(base, key, points, "grids", 12, count=count),
                "buildings_z16": paced_tiles(base, key, points, "buildings", 16, count=count)}  # fmt: skip


def command_map_page(store: Store, settings: Settings) -> dict[str, Any]:
    """Sign in as a city-wide admin, open /command in headless Chromium: load time and bytes received.

    The page is opened ``COMMAND_MAP_LOADS`` times and the median is the result (every sample is kept):
    one load is one sample of a noisy number on a 2-core machine, and the first one also warms the
    browser's and the server's caches.
    """
    from playwright.sync_api import sync_playwright

    add_account(store, "citybench", role="admin", area_code="", password=BENCH_PASSWORD, actor="bench")
    with portal(store, settings) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page.goto(f"{base}/login")
        page.get_by_label("用户名").fill("citybench")
        page.get_by_label("密码").fill(BENCH_PASSWORD)
        page.get_by_test_id("login-submit").click()
        page.wait_for_load_state("load")
        loads, settles = [], []
        for _ in range(COMMAND_MAP_LOADS):  # a fresh navigation each time; the last one's resources are counted
            t0 = time.perf_counter()
            page.goto(f"{base}/command", wait_until="load")
            loads.append(time.perf_counter() - t0)
            page.wait_for_load_state("networkidle")
            settles.append(time.perf_counter() - t0)
        html_bytes = len(page.content().encode())
        # Bytes over the wire (headers and bodies) of the page and of everything it loaded (Resource Timing).
        received = page.evaluate("""() => performance.getEntriesByType('navigation').concat(
            performance.getEntriesByType('resource')).map(e => e.transferSize || e.encodedBodySize || 0)""")
        browser.close()
    return {"load_s": statistics.median(loads), "network_idle_s": statistics.median(settles),
            "load_samples_s": loads, "network_idle_samples_s": settles, "bytes_received": int(sum(received)),
            "responses": len(received), "html_bytes": html_bytes}  # fmt: skip


@contextmanager
def dask_cluster(workers: int = 2) -> Iterator[str]:
    """A scheduler and ``workers`` single-threaded worker processes, started with the ``dask`` command."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    dask = shutil.which("dask", path=str(BIN)) or "dask"
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]  # fmt: skip
    time.sleep(2.0)
    procs += [subprocess.Popen([dask, "worker", f"tcp://{address}", "--nthreads", "1", "--no-nanny",
                                "--no-dashboard", "--name", f"w{i}"], **quiet) for i in range(workers)]  # fmt: skip
    try:
        from distributed import Client

        with Client(f"tcp://{address}", timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def dask_partition(store: Store, settings: Settings) -> dict[str, Any]:
    """``partition --all --commit`` again, this time on two Dask worker processes: wall time and grids."""
    with dask_cluster(2) as address:
        t0 = time.perf_counter()
        grids = partition_and_activate_all(store, settings, executor=f"dask://{address}", actor="bench")
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "grids": len(grids), "workers": 2}
