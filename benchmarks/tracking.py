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
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely

from benchmarks.common import write_result
from benchmarks.pgcluster import start_cluster

RATE = 1100.0  # fixes/s asked of the clients (the target is >= 1,000 achieved)
DURATION_S = 60.0
DEVICES = 1000
GRIDS_SIDE = 20  # 20 x 20 = 400 grids of ~300 m
CLIENT_THREADS = 256
LISTENER_THREADS = 320
LIVE_SAMPLES = 12
SEED = 2024
TARGETS_S = {
    "s_per_1000_fixes": 1.0,  # i.e. >= 1,000 fixes/s achieved over the whole run
    "lost_fixes": 0.0,  # acknowledged with 200 but not stored (a count)
    "rss_growth_second_half_mb": 25.0,  # listener RSS: last sample minus the sample at half time
    "live_p95_s": 2.0,  # POST of a fix -> the marker moved in Chromium
}
LON0, LAT0, STEP = 114.25, 35.70, 0.003  # south-west corner and grid size (degrees, ~300 m)


def _code(row: int, col: int) -> tuple[str, str]:
    """(community code, grid code): 4 streets x 4 communities, each 5 x 5 grids."""
    street, community = 1 + (row // 10) * 2 + col // 10, 1 + ((row % 10) // 5) * 2 + (col % 10) // 5
    comm = f"410611{street:03d}{community:03d}"
    return comm, f"{comm}{1 + (row % 5) * 5 + col % 5:03d}"


def populate(store: Any) -> list[tuple[str, str, tuple[float, float, float, float]]]:
    """Districts, streets, communities, 400 active grids and DEVICES workers; returns (device, grid, box)."""
    now = pd.Timestamp.now(tz="UTC")
    boxes = {}
    for row in range(GRIDS_SIDE):
        for col in range(GRIDS_SIDE):
            comm, code = _code(row, col)
            x, y = LON0 + col * STEP, LAT0 + row * STEP
            boxes[code] = (comm, (x, y, x + STEP, y + STEP))
    communities = sorted({c for c, _ in boxes.values()})
    comm_geom = {c: shapely.union_all([shapely.box(*b) for cc, b in boxes.values() if cc == c]) for c in communities}
    streets = sorted({c[:9] for c in communities})
    area_rows: list[tuple[str, str, str, str | None, Any]] = [
        ("410611", "淇滨区", "district", None, shapely.union_all(list(comm_geom.values())))]
    area_rows += [(s, f"街道{s[-3:]}", "street", "410611",
                   shapely.union_all([g for c, g in comm_geom.items() if c.startswith(s)])) for s in streets]
    area_rows += [(c, f"社区{c[-6:]}", "community", c[:9], g) for c, g in comm_geom.items()]
    areas = gpd.GeoDataFrame({"code": [a[0] for a in area_rows], "name": [a[1] for a in area_rows],
                              "level": [a[2] for a in area_rows], "parent_code": [a[3] for a in area_rows]},
                             geometry=[shapely.MultiPolygon(list(getattr(a[4], "geoms", [a[4]]))) for a in area_rows],
                             crs=4326)
    gen_of = {c: i + 1 for i, c in enumerate(communities)}
    codes = sorted(boxes)
    grids = gpd.GeoDataFrame({"code": codes, "name": [f"网格{c[-6:]}" for c in codes], "kind": "base",
                              "community_code": [boxes[c][0] for c in codes],
                              "generation_id": [gen_of[boxes[c][0]] for c in codes], "valid_from": now},
                             geometry=[shapely.MultiPolygon([shapely.box(*boxes[c][1])]) for c in codes], crs=4326)
    gens = pd.DataFrame({"generation_id": list(gen_of.values()), "community_code": communities, "status": "active",
                         "version": 1, "created_at": now, "activated_at": now})
    devices = [(f"dev-{i:04d}", codes[i % len(codes)], boxes[codes[i % len(codes)]][1]) for i in range(DEVICES)]
    workers = pd.DataFrame({"worker_id": [f"w-{i:04d}" for i in range(DEVICES)],
                            "name": [f"网格员{i:04d}" for i in range(DEVICES)], "role": "full_time",
                            "grid_code": [d[1] for d in devices], "device_id": [d[0] for d in devices]})
    with store.transaction() as tx:
        tx.insert("areas", areas)
        tx.insert("generations", gens)
        tx.insert("grids", grids)
        tx.insert("workers", workers)
    return devices


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(port: int, path: str, *, timeout_s: float = 60.0) -> None:
    """Poll ``path`` until it answers (any status); raises when the server never comes up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            threading.Event().wait(0.2)
    raise RuntimeError(f"nothing answers on port {port} after {timeout_s:.0f} s")


@contextmanager
def listener_process(url: str, port: int) -> Any:
    """``gridmap track-listen`` in its own process (as deployed), stopped with SIGINT at the end."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "gridmap.cli.main", "track-listen", "--host", "127.0.0.1",
                             "--port", str(port), "--store", url, "--threads", str(LISTENER_THREADS)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_up(port, "/stats")
        yield proc
    finally:
        proc.send_signal(2)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


@dataclass
class Load:
    """What the clients sent and what came back."""

    acked: list[tuple[str, int]] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class RawClient:
    """A minimal HTTP/1.1 keep-alive client: the load generator must cost far less CPU than the server.

    (http.client spends more Python per request than the listener does on a busy two-core machine.)
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def get(self, target: str) -> int:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
            self.buffer = b""
        self.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode("ascii"))
        while b"\r\n\r\n" not in self.buffer:
            self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = next((int(line.split(b":", 1)[1]) for line in lines[1:]
                       if line.lower().startswith(b"content-length:")), 0)
        self.buffer = rest
        while len(self.buffer) < length:
            self._recv()
        self.buffer = self.buffer[length:]
        if any(line.lower() == b"connection: close" for line in lines[1:]):
            self.close()
        return status

    def _recv(self) -> None:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise OSError("connection closed by the server")
        self.buffer += chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None


def _client(k: int, port: int, devices: list[Any], base: datetime, start: float, load: Load) -> None:
    """Thread ``k``: its share of the devices, one fix per device per round, paced to RATE overall."""
    mine = devices[k::CLIENT_THREADS]
    interval = CLIENT_THREADS / RATE
    client = RawClient(port)
    base_s = int(base.timestamp())
    n, local_acked, local_lat = 0, [], []
    local_status: dict[int, int] = {}
    while True:
        due = start + (k / RATE) + n * interval
        if due - start >= DURATION_S:
            break
        wait = due - time.perf_counter()
        if wait > 0:
            threading.Event().wait(wait)
        device, _, (x0, y0, x1, y1) = mine[n % len(mine)]
        seq = n // len(mine)
        lon, lat = x0 + (x1 - x0) * (0.1 + 0.8 * (seq % 50) / 50), (y0 + y1) / 2
        target = f"/?id={device}&lat={lat:.7f}&lon={lon:.7f}&timestamp={base_s + seq}&speed=4.5"
        sent = time.perf_counter()
        try:
            status = client.get(target)
        except OSError:
            status = 0
            client.close()
        local_lat.append(time.perf_counter() - sent)
        local_status[status] = local_status.get(status, 0) + 1
        if status == 200:
            local_acked.append((device, seq))
        n += 1
    client.close()
    with load.lock:
        load.acked += local_acked
        load.latencies_s += local_lat
        for status, count in local_status.items():
            load.statuses[status] = load.statuses.get(status, 0) + count


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_ingest(url: str, devices: list[Any]) -> dict[str, Any]:
    """DURATION_S of paced fixes over HTTP into track-listen on PostGIS; loss and RSS measured."""
    port = free_port()
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=DURATION_S + 120)
    load = Load()
    samples: list[tuple[float, float]] = []
    with listener_process(url, port) as proc:
        stop = threading.Event()

        def sample() -> None:
            t0 = time.perf_counter()
            while not stop.wait(1.0):
                samples.append((time.perf_counter() - t0, rss_mb(proc.pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        cpu_before, client_before = cpu_s(proc.pid), time.process_time()
        start = time.perf_counter()
        threads = [threading.Thread(target=_client, args=(k, port, devices, base, start, load), daemon=True)
                   for k in range(CLIENT_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        stats = {"listener_cpu_s": round(cpu_s(proc.pid) - cpu_before, 2),
                 "client_cpu_s": round(time.process_time() - client_before, 2)}
        stop.set()
        sampler.join()
        stats.update(_get_json(port, "/stats")["stats"])
    return _ingest_result(url, base, load, samples, elapsed, stats)


def _get_json(port: int, path: str) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        return dict(json.loads(conn.getresponse().read()))
    finally:
        conn.close()


def _ingest_result(url: str, base: datetime, load: Load, samples: list[tuple[float, float]], elapsed: float,
                   stats: dict[str, Any]) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT device_id, fix_time FROM positions").fetchall()
    stored = {(d, round((t - base).total_seconds())) for d, t in rows}
    acked = set(load.acked)
    lat = np.array(load.latencies_s)
    half = [r for t, r in samples if t >= elapsed / 2]
    return {
        "duration_s": round(elapsed, 2), "sent": sum(load.statuses.values()), "acknowledged": len(acked),
        "stored": len(rows), "lost": len(acked - stored), "stored_not_acknowledged": len(stored - acked),
        "fixes_per_s": round(len(acked) / elapsed, 1), "statuses": {str(k): v for k, v in load.statuses.items()},
        "latency_p50_ms": round(float(np.percentile(lat, 50)) * 1000, 2) if lat.size else None,
        "latency_p99_ms": round(float(np.percentile(lat, 99)) * 1000, 2) if lat.size else None,
        "rss_mb_samples": [round(r, 1) for _, r in samples],
        "rss_growth_second_half_mb": round(half[-1] - half[0], 1) if len(half) > 1 else None,
        "listener_stats": stats,
    }


WATCH_MARKER_JS = """([id, lon, lat]) => {
  window.__moved = undefined;
  const w = window.gridmapCommand.workers[id];
  const done = () => { const p = w.marker.getLatLng();
    return Math.abs(p.lng - lon) < 1e-9 && Math.abs(p.lat - lat) < 1e-9; };
  const obs = new MutationObserver(() => { if (done()) { window.__moved = Date.now(); obs.disconnect(); } });
  obs.observe(w.marker.getElement(), {attributes: true});
}"""


def _send_one(port: int, path: str, device: str, lon: float, lat: float) -> tuple[int, float]:
    """POST one fix; returns (status, wall-clock ms when it was sent)."""
    body = urlencode({"id": device, "lon": lon, "lat": lat, "timestamp": datetime.now(UTC).isoformat()})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        sent_ms = time.time() * 1000.0
        conn.request("POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        response.read()
        return response.status, sent_ms
    finally:
        conn.close()


def _open_command_map(page: Any, portal_port: int) -> None:
    """Sign in as the command-centre account and wait until the live map is connected."""
    page.goto(f"http://127.0.0.1:{portal_port}/login?next=/command")
    page.fill('input[name="username"]', "bench")
    page.fill('input[name="password"]', "bench-password-1")
    page.click('[data-testid="login-submit"]')
    page.wait_for_url("**/command")
    page.wait_for_function("() => window.gridmapCommand && window.gridmapCommand.workers['w-0000']")
    page.wait_for_function("""() => { const c = JSON.parse(document.getElementById('cm-config').textContent);
        return document.getElementById('cm-status').textContent === c.messages['command.live_connected']; }""")


def _live_samples(page: Any, device: Any, ports: dict[str, tuple[int, str]]) -> dict[str, list[float]]:
    """LIVE_SAMPLES fixes, alternately to the portal and to track-listen; seconds until the marker moved."""
    name, _, (x0, y0, x1, y1) = device
    samples: dict[str, list[float]] = {via: [] for via in ports}
    for i in range(LIVE_SAMPLES):
        via = list(ports)[i % len(ports)]
        port, path = ports[via]
        lon, lat = x0 + (x1 - x0) * (0.2 + 0.6 * (i % 7) / 6), y0 + (y1 - y0) * (0.3 + 0.05 * i)
        page.evaluate(WATCH_MARKER_JS, ["w-0000", lon, lat])
        status, sent_ms = _send_one(port, path, name, lon, lat)
        if status != 200:
            raise RuntimeError(f"live sample {i}: {via} answered {status}")
        page.wait_for_function("() => window.__moved !== undefined", timeout=15_000)
        samples[via].append((page.evaluate("() => window.__moved") - sent_ms) / 1000.0)
    return samples


def bench_live(url: str, devices: list[Any]) -> dict[str, Any]:
    """Fix POSTed (to the portal's /osmand, and to track-listen) -> marker moved in Chromium, in seconds."""
    from playwright.sync_api import sync_playwright

    from gridmap.auth.accounts import add_account
    from gridmap.config import Settings
    from gridmap.portal.app import close_app
    from gridmap.portal.server import make_server, stop_server
    from gridmap.store.factory import open_store

    settings = Settings(store_url=url, secret_key="bench-tracking", live_max_subscribers=4, live_heartbeat_s=1.0)
    store = open_store(url, settings)
    add_account(store, "bench", role="command", area_code="410611", password="bench-password-1")
    server, app = make_server(settings, host="127.0.0.1", port=0, workers=8, store=store)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    portal_port, listen_port = server.effective_port, free_port()
    try:
        with listener_process(url, listen_port), sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(locale="zh-CN")
            _open_command_map(page, portal_port)
            samples = _live_samples(page, devices[0], {"portal": (portal_port, "/osmand"),
                                                       "track_listen": (listen_port, "/")})
            browser.close()
    finally:
        close_app(app)
        stop_server(server)
        serving.join(10)
        store.close()
    every = samples["portal"] + samples["track_listen"]
    return {"samples_s": {k: [round(v, 3) for v in vals] for k, vals in samples.items()},
            "p50_s": round(float(np.percentile(every, 50)), 3), "p95_s": round(float(np.percentile(every, 95)), 3),
            "max_s": round(max(every), 3)}


def run(*, duration_s: float | None = None) -> dict[str, Any]:
    """The whole benchmark on a throwaway PostGIS cluster; writes benchmarks/results/tracking.json."""
    global DURATION_S, RATE  # the module constants are the defaults; env overrides are for smoke runs
    DURATION_S = float(os.environ.get("GRIDMAP_BENCH_TRACK_S", duration_s or DURATION_S))
    RATE = float(os.environ.get("GRIDMAP_BENCH_TRACK_RATE", RATE))
    from gridmap.config import Settings
    from gridmap.store.factory import open_store

    cluster = start_cluster()
    try:
        url = cluster.create_database(f"bench_track_{uuid.uuid4().hex[:8]}")
        store = open_store(url, Settings())
        devices = populate(store)
        store.close()
        ingest = bench_ingest(url, devices)
        live = bench_live(url, devices)
    finally:
        cluster.stop()
    timings = {
        "s_per_1000_fixes": 1000.0 / ingest["fixes_per_s"] if ingest["fixes_per_s"] else float("inf"),
        "lost_fixes": float(ingest["lost"]),
        "rss_growth_second_half_mb": float(ingest["rss_growth_second_half_mb"] or 0.0),
        "live_p95_s": live["p95_s"],
    }
    extra = {"ingest": ingest, "live": live, "devices": DEVICES, "grids": GRIDS_SIDE**2, "rate_asked": RATE,
             "client_threads": CLIENT_THREADS, "listener_threads": LISTENER_THREADS,
             "note": "lost_fixes is a count (target 0); s_per_1000_fixes <= 1 means >= 1,000 fixes/s"}
    result = write_result("tracking", timings_s=timings, targets_s=TARGETS_S, extra=extra)
    print(json.dumps({k: result[k] for k in ("timings_s", "checks", "passed")}, indent=2))
    return result


if __name__ == "__main__":
    run()
