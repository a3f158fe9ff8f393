"""Benchmark: what access control costs the portal, and how fast live events arrive.

* ``login_s``: one sign-in through the form (scrypt at n=2**14 dominates on purpose), median of 5.
* ``request_anonymous_s`` / ``request_session_s`` / ``request_token_s``: median of a cheap request
  (/api/v1/health) as the public, with a session cookie and with a Bearer key (the principal comes
  from the per-app cache, re-read every 5 s), Flask test client, 300 requests each.
* ``limiter_hit_s``: one token-bucket decision (100,000 in a row, one thread).
* ``publish_fanout_100_s``: one ``publish`` delivered to 100 scoped subscribers (half cover it).
* ``sse_latency_p50_s`` / ``_p99_s``: publish -> frame read by a client over loopback, under waitress
  (``gridmap serve``'s server), 200 events.
* ``dashboard_s``: a command centre's dashboard (map, numbers, open incidents) for the portal sample.

Run: ``.venv/bin/python -m benchmarks.portal_auth`` (or ``python -m benchmarks.run_all portal_auth``);
writes benchmarks/results/portal_auth.json.
"""

from __future__ import annotations

import importlib.util
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks.common import timed, write_result
from gridmap.auth.accounts import create_token
from gridmap.auth.principal import Principal
from gridmap.config import Settings
from gridmap.model import Role
from gridmap.portal import live
from gridmap.portal.app import close_app, create_app
from gridmap.portal.ratelimit import RateLimiter, Rule
from gridmap.portal.server import make_server, stop_server
from gridmap.store.base import Store
from gridmap.store.factory import open_store

REPO = Path(__file__).resolve().parents[1]
TARGETS_S = {
    "login_s": 0.5,
    "request_session_s": 0.01,
    "request_token_s": 0.01,
    "limiter_hit_s": 20e-6,
    "publish_fanout_100_s": 0.005,
    "sse_latency_p99_s": 0.05,
    "dashboard_s": 1.0,
}


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "tests" / "portal" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _median_request(client: Any, path: str, n: int, **kwargs: Any) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path, **kwargs)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    return statistics.median(times)


def _sse_latencies(settings: Settings, store: Store, key: str, n: int) -> list[float]:
    server, app = make_server(settings, port=0, workers=4, store=store)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        sock = socket.create_connection(("127.0.0.1", server.effective_port), timeout=10)
        sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
        buffer = b""
        while b": connected" not in buffer:
            buffer += sock.recv(4096)
        assert live.hub(app).wait_for_subscribers(1, timeout_s=5)
        publish = live.publisher(app)
        latencies = []
        for i in range(n):
            marker = f'"n":{i}}}'.encode()
            start = time.perf_counter()
            publish({"type": "bench.tick", "area_code": "410611001001001", "data": {"n": i}})
            buffer = b""
            while marker not in buffer:
                buffer += sock.recv(4096)
            latencies.append(time.perf_counter() - start)
        sock.close()
        return latencies
    finally:
        close_app(app)
        stop_server(server)
        thread.join(timeout=10)


def run() -> dict[str, Any]:
    sample, auth = _load("portal_sample"), _load("auth_sample")
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(store_url=f"gpkg://{Path(tmp) / 'bench.gpkg'}", secret_key="bench",
                            rate_limit_public_read_per_s=0, live_heartbeat_s=5.0)
        store = open_store(settings.store_url, settings)
        sample.populate_store(store)
        auth.seed_accounts(store)
        auth.seed_workers_and_incidents(store, {g[0]: g[5] for g in sample.GRIDS})
        app = create_app(settings, store=store)
        logins = []
        for _ in range(5):
            client = app.test_client()  # a fresh browser each time (GET form + POST)
            with timed() as t:
                assert auth.login(client, "cmd_ty").status_code == 302
            logins.append(t.seconds)
        timings["login_s"] = statistics.median(logins)
        timings["request_session_s"] = _median_request(client, "/api/v1/health", 300)
        timings["request_anonymous_s"] = _median_request(app.test_client(), "/api/v1/health", 300)
        key = create_token(store, role="command", area_code="410611001001", actor="bench").api_key
        timings["request_token_s"] = _median_request(app.test_client(), "/api/v1/health", 300,
                                                     headers={"Authorization": f"Bearer {key}"})
        client.get("/dashboard")  # warm-up
        with timed() as t:
            assert client.get("/dashboard").status_code == 200
        timings["dashboard_s"] = t.seconds
        close_app(app)

        limiter = RateLimiter({"r": Rule("r", rate_per_s=1e6, burst=1e6)})
        with timed() as t:
            for i in range(100_000):
                limiter.hit("r", f"10.0.{i % 256}.{i % 100}")
        timings["limiter_hit_s"] = t.seconds / 100_000

        hub = live.EventHub(max_subscribers=100)
        for i in range(100):
            hub.subscribe(Principal(f"u{i}", Role.COMMAND, "410611001001" if i % 2 else "410611001002"))
        with timed() as t:
            for i in range(200):
                hub.publish({"type": "bench.tick", "area_code": "410611001001001", "data": {"n": i}})
        timings["publish_fanout_100_s"] = t.seconds / 200

        latencies = sorted(_sse_latencies(settings, store, key, 200))
        timings["sse_latency_p50_s"] = statistics.median(latencies)
        timings["sse_latency_p99_s"] = latencies[int(0.99 * (len(latencies) - 1))]
        store.close()
    base = timings["request_anonymous_s"]
    extra = {"auth_overhead_session_ms": round((timings["request_session_s"] - base) * 1e3, 3),
             "auth_overhead_token_ms": round((timings["request_token_s"] - base) * 1e3, 3),
             # timings_s keeps 4 decimals: the sub-millisecond figures again, in finer units
             "limiter_hit_us": round(timings["limiter_hit_s"] * 1e6, 3),
             "publish_fanout_100_us": round(timings["publish_fanout_100_s"] * 1e6, 1),
             "sse_latency_p50_ms": round(timings["sse_latency_p50_s"] * 1e3, 3),
             "sse_latency_p99_ms": round(timings["sse_latency_p99_s"] * 1e3, 3)}
    return write_result("portal_auth", timings_s=timings, targets_s=TARGETS_S, extra=extra)


if __name__ == "__main__":
    result = run()
    print({k: v for k, v in result.items() if k not in ("machine", "targets_s", "checks", "name", "created_at")})
