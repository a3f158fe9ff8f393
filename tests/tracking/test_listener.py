"""``gridmap track-listen`` over real HTTP (waitress on a free port): the protocol's answers."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest

from gridmap import schema
from gridmap.config import Settings
from gridmap.portal.server import stop_server
from gridmap.services.tracking_listener import make_listener
from gridmap.store.factory import open_store
from tests.tracking import world


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[int, object]]:
    settings = Settings(store_url=f"gpkg://{tmp_path / 'track.gpkg'}")
    seed = open_store(settings.store_url, settings)
    world.populate_store(seed)
    seed.close()
    server, service = make_listener(settings, host="127.0.0.1", port=0, threads=8)
    thread = threading.Thread(target=server.run, name="listener", daemon=True)
    thread.start()
    try:
        yield server.effective_port, service  # type: ignore[union-attr]
    finally:
        stop_server(server)
        thread.join(10)
        service.close()
        service.store.close()


def request(port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


def now_iso(minutes_ago: float = 1.0) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def test_get_post_and_json_are_stored_and_answered_200_with_an_empty_body(listener) -> None:
    port, service = listener
    lon, lat = world.inside(world.A)
    status, body, _ = request(port, "GET", "/?" + urlencode({"id": "dev-a", "lat": lat, "lon": lon,
                                                              "timestamp": now_iso(3)}))
    assert (status, body) == (200, b"")
    form = urlencode({"deviceid": "dev-b", "lat": lat, "lon": lon, "timestamp": now_iso(2)}).encode()
    status, body, _ = request(port, "POST", "/", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body) == (200, b"")
    doc = {"device_id": "dev-c", "location": {"timestamp": now_iso(1), "coords": {
        "latitude": lat, "longitude": lon, "speed": 1.2, "heading": 10, "accuracy": 4, "altitude": 90},
        "battery": {"level": 0.5}}}
    status, body, _ = request(port, "POST", "/", json.dumps(doc).encode(), {"Content-Type": "application/json"})
    assert (status, body) == (200, b"")
    stored = service.store.read(schema.POSITIONS).sort_values("fix_time")
    assert stored["device_id"].tolist() == ["dev-a", "dev-b", "dev-c"]
    assert stored["protocol"].tolist() == ["osmand", "osmand", "traccar_json"]
    assert set(stored["grid_code"]) == {world.A}


def test_refusals_have_their_status_and_reason(listener) -> None:
    port, service = listener
    lon, lat = world.inside(world.A)
    status, body, _ = request(port, "GET", "/?" + urlencode({"lat": lat, "lon": lon}))
    assert status == 400 and b"device id" in body
    status, body, _ = request(port, "GET", "/?" + urlencode({"id": "dev-a", "lat": 91, "lon": lon}))
    assert status == 400 and b"out of range" in body
    status, body, _ = request(port, "GET", "/?" + urlencode({"id": "ghost", "lat": lat, "lon": lon}))
    assert status == 404 and b"ghost" in body
    status, _, headers = request(port, "PUT", "/")
    assert status == 405 and headers["Allow"] == "GET, POST"
    status, _, _ = request(port, "GET", "/elsewhere")
    assert status == 404
    status, body, _ = request(port, "POST", "/", b"x" * 20_000, {"Content-Type": "text/plain"})
    assert status == 413
    status, body, _ = request(port, "GET", "/stats")
    stats = json.loads(body)["stats"]
    assert status == 200 and stats["unknown_device"] == 1 and stats["rejected"] == 2 and stats["stored"] == 0
    assert service.store.count(schema.POSITIONS) == 0


def test_store_down_is_503_with_retry_after(listener) -> None:
    port, service = listener
    service.registry.lookup("dev-a")
    service.store.close()
    lon, lat = world.inside(world.A)
    status, body, headers = request(port, "GET", "/?" + urlencode({"id": "dev-a", "lat": lat, "lon": lon}))
    assert status == 503 and int(headers["Retry-After"]) >= 1 and b"again" in body
