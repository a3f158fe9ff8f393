"""The command centre's live worker map in headless Chromium (owned by tracking).

A command-centre account opens ``/command`` on a portal served by waitress; then fixes arrive (a)
at the portal's own ``/osmand`` and (b) in the store from another process (as ``track-listen``
writes them). In both cases the worker's marker must move to the new point and change colour
without a page reload, driven by the server-sent events. Nothing may leave 127.0.0.1, no JS or
console errors (the harness in conftest.py checks).
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from gridmap.auth.accounts import add_account
from gridmap.config import Settings
from gridmap.portal.app import close_app
from gridmap.portal.server import make_server, stop_server
from gridmap.services.tracking import TrackingService
from gridmap.store.base import Store
from gridmap.store.factory import open_store
from tests.tracking import world

pytestmark = pytest.mark.browser
LOOPBACK = "127.0.0.1"
PASSWORD = "correct-horse-battery"
MARKER_JS = """(id) => {
  const c = window.gridmapCommand; const w = c && c.workers[id];
  if (!w) { return null; }
  const p = w.marker.getLatLng();
  return {lat: p.lat, lon: p.lng, state: w.marker.getElement().getAttribute('data-state')};
}"""


@dataclass
class CommandServer:
    url: str
    port: int
    settings: Settings
    store: Store


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CommandServer]:
    path = tmp_path_factory.mktemp("command-browser") / "command.gpkg"
    settings = Settings(store_url=f"gpkg://{path}", secret_key="command-browser", live_heartbeat_s=1.0,
                        live_max_subscribers=4)
    store = open_store(settings.store_url, settings)
    world.populate_store(store)
    add_account(store, "centre", role="command", area_code="410611001", password=PASSWORD)
    seed = TrackingService(store, settings)
    for device, code in (("dev-a", world.A), ("dev-b", world.B)):
        lon, lat = world.inside(code)
        at = (datetime.now(UTC) - timedelta(minutes=2)).isoformat()
        seed.receive(query=urlencode({"id": device, "lon": lon, "lat": lat, "timestamp": at}), body=b"",
                     content_type=None)
    seed.close()
    server, app = make_server(settings, host=LOOPBACK, port=0, workers=8, store=store)
    thread = threading.Thread(target=server.run, name="command-portal", daemon=True)
    thread.start()
    port = server.effective_port  # type: ignore[union-attr]
    try:
        yield CommandServer(url=f"http://{LOOPBACK}:{port}", port=port, settings=settings, store=store)
    finally:
        close_app(app)
        stop_server(server)
        thread.join(timeout=10)
        store.close()


def sign_in(browser_page: Any, next_path: str) -> None:
    page = browser_page.page
    browser_page.goto(f"/login?next={next_path}")
    page.get_by_label("用户名").fill("centre")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"**{next_path}")
    browser_page.assert_clean()


def send_fix(port: int, device: str, lon: float, lat: float) -> int:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    try:
        at = datetime.now(UTC).isoformat()
        conn.request("GET", "/osmand?" + urlencode({"id": device, "lon": lon, "lat": lat, "timestamp": at}))
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_for_marker(page: Any, worker_id: str, lon: float, lat: float, state: str) -> None:
    page.wait_for_function(
        """([id, lon, lat, state]) => { const c = window.gridmapCommand; const w = c && c.workers[id];
             if (!w || !w.marker.getElement()) { return false; }
             const p = w.marker.getLatLng();
             return Math.abs(p.lng - lon) < 1e-7 && Math.abs(p.lat - lat) < 1e-7
               && w.marker.getElement().getAttribute('data-state') === state; }""",
        arg=[worker_id, lon, lat, state])


def test_a_fix_moves_the_marker_live_and_colours_it(browser_page: Any, live_server: CommandServer) -> None:
    page = browser_page.page
    sign_in(browser_page, "/command")
    expect(page.get_by_test_id("live-status")).to_have_text("实时更新已连接")
    a_lon, a_lat = world.inside(world.A)
    wait_for_marker(page, "w-a", a_lon, a_lat, "inside")
    expect(page.get_by_test_id("count-inside")).to_have_text("2")
    browser_page.snapshot("before")

    lon, lat = world.inside(world.B, 0.3, 0.7)  # w-a walks into the neighbouring grid B
    assert send_fix(live_server.port, "dev-a", lon, lat) == 200
    wait_for_marker(page, "w-a", lon, lat, "outside")
    expect(page.get_by_test_id("count-outside")).to_have_text("1")
    assert page.evaluate(MARKER_JS, "w-a")["state"] == "outside"

    page.locator('path[data-worker-id="w-a"]').click()
    popup = page.get_by_test_id("worker-popup")
    expect(popup).to_contain_text("张三")
    expect(popup).to_contain_text(world.B)  # the grid it is in now
    popup.get_by_test_id("show-track").click()
    page.locator("path.cm-track").wait_for()
    browser_page.snapshot("moved")
    browser_page.assert_clean()


def test_a_fix_stored_by_track_listen_reaches_the_map(browser_page: Any, live_server: CommandServer) -> None:
    page = browser_page.page
    sign_in(browser_page, "/command")
    expect(page.get_by_test_id("live-status")).to_have_text("实时更新已连接")
    page.wait_for_function("() => window.gridmapCommand && window.gridmapCommand.workers['w-b'] !== undefined")
    listener = TrackingService(live_server.store, live_server.settings)  # another process: no event hub
    try:
        lon, lat = world.inside(world.B, 0.8, 0.2)
        lon_q, lat_q = world.inside(world.B, 0.8, 0.2)
        listener.receive(query=urlencode({"id": "dev-b", "lon": lon_q, "lat": lat_q,
                                          "timestamp": datetime.now(UTC).isoformat()}), body=b"", content_type=None)
    finally:
        listener.close()
    wait_for_marker(page, "w-b", lon, lat, "inside")
    browser_page.assert_clean()


def test_area_filter_hides_workers_of_other_communities(browser_page: Any, live_server: CommandServer) -> None:
    page = browser_page.page
    sign_in(browser_page, "/command")
    page.wait_for_function("() => window.gridmapCommand && Object.keys(window.gridmapCommand.workers).length >= 2")
    page.get_by_test_id("area-filter").select_option("410611001002")
    expect(page.locator("path.cm-worker")).to_have_count(0)  # w-a and w-b serve community 410611001001
    page.get_by_test_id("area-filter").select_option("410611001001")
    expect(page.locator("path.cm-worker")).to_have_count(2)
    assert "area=410611001001" in page.url
