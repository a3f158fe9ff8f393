"""The resident page in headless Chromium: search an address, tap the map, use my location, see the worker card.

Uses the portal's Playwright harness (conftest.py here: no request may leave 127.0.0.1, JS and console
errors fail the test, screenshots go to test-artifacts/screenshots/). ``live_server`` is replaced for this
module by a portal on the lookup tests' synthetic district (tests/lookup/fixtures.py). Owned by lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from PIL import Image
from werkzeug.serving import make_server

from gridmap import schema
from gridmap.config import Settings
from gridmap.portal.app import close_app, create_app
from gridmap.store.gpkg import GeoPackageStore
from tests.lookup import fixtures as fx

pytestmark = pytest.mark.browser
LOOPBACK = "127.0.0.1"
HOSTILE = "<img src=x onerror=alert(1)>"


@dataclass
class ResidentServer:
    """What the harness's ``browser_page`` needs from ``live_server``: the base URL."""

    url: str
    settings: Settings


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ResidentServer]:
    """The portal on a free loopback port with the lookup test district (overrides the harness's one)."""
    path = tmp_path_factory.mktemp("resident-browser") / "resident.gpkg"
    settings = Settings(store_url=f"gpkg://{path}", secret_key="resident-browser")
    photo = path.parent / "photos" / "photos" / "w1.jpg"  # 张伟's roster photo, in the default photo folder
    photo.parent.mkdir(parents=True)
    Image.new("RGB", (60, 80), (0, 128, 0)).save(photo, format="JPEG")
    store = GeoPackageStore(settings.store_url, settings)
    store.migrate()
    fx.fill_store(store)
    with store.transaction() as tx:
        tx.insert(schema.ROADS, fx.roads_frame())
        tx.insert(schema.WORKERS, fx.workers_frame().iloc[[0]].assign(
            worker_id="evil", name=HOSTILE, grid_code=fx.COMM_B + "002", duties=HOSTILE, extra_grid_codes=None))
    app = create_app(settings, store=store)
    server = make_server(LOOPBACK, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="resident-portal", daemon=True)
    thread.start()
    try:
        yield ResidentServer(url=f"http://{LOOPBACK}:{server.server_port}", settings=settings)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        close_app(app)
        store.close()


def click_map_at(page: Any, lon: float, lat: float) -> None:
    """Pan to (lon, lat) as a user would, then click where it is drawn (Leaflet's projection gives the pixel)."""
    x, y = page.evaluate(
        """([lat, lon]) => {
            const map = window.gridmapResidentMap;
            map.setView([lat, lon], 15, {animate: false});
            const p = map.latLngToContainerPoint([lat, lon]);
            return [p.x, p.y];
        }""",
        [lat, lon],
    )
    page.locator("#rs-map").click(position={"x": x, "y": y})


def test_address_search_then_map_click(browser_page: Any) -> None:
    page = browser_page.page
    browser_page.goto("/resident")
    assert page.locator("h1").inner_text() == "居民查询 · 我的网格"
    page.get_by_test_id("address-input").fill("淇河路１２号")
    page.get_by_test_id("address-submit").click()
    grid_name = page.get_by_test_id("grid-name")
    grid_name.filter(has_text="甲社区第一网格").wait_for()
    assert page.get_by_test_id("matched").inner_text() == "匹配地址: 淇河路12号"
    assert page.get_by_test_id("candidate").first.inner_text() == "淇河路14号"  # the other, lower-ranked match
    names = page.get_by_test_id("worker-name").all_inner_texts()
    assert [n.replace(" ", "") for n in names] == ["赵敏网格长", "张伟专职网格员"]
    phones = page.get_by_test_id("worker-phone")
    assert phones.first.get_attribute("href") == "tel:13800000000"
    photos = page.locator("[data-testid=worker-card] img")
    photos.nth(1).and_(page.locator("img[src='/photos/photos/w1.jpg']")).wait_for()  # 张伟: served by the portal
    assert photos.nth(1).evaluate("img => img.complete && img.naturalWidth") == 60
    assert photos.nth(0).get_attribute("src") == "/static/img/worker-placeholder.svg"  # 赵敏: file not delivered
    assert "0392-1234561" in page.get_by_test_id("centre").inner_text()
    assert page.locator("path.rs-grid").count() == 1  # the grid boundary is drawn
    browser_page.snapshot("address")

    click_map_at(page, *fx.xy(15, 5))  # grid B2, where the hostile worker is
    grid_name.filter(has_text="乙社区第二网格").wait_for()
    cards = page.get_by_test_id("worker-name").all_inner_texts()
    assert any(HOSTILE in c for c in cards)  # shown as text, not markup
    assert page.locator("#rs-result img[src='x']").count() == 0
    browser_page.snapshot("map-click")

    click_map_at(page, *fx.xy(18, 3))  # community C: no grid there
    status = page.get_by_test_id("status")
    status.filter(has_text="最近的网格是乙社区第二网格").wait_for()
    assert page.get_by_test_id("result").is_hidden()
    # The API answers "outside every grid" with 404 (as specified); Chromium logs every 4xx fetch as a
    # console error. That one is expected: take it off the list, anything else still fails the test.
    expected = "Failed to load resource: the server responded with a status of 404 (NOT FOUND)"
    assert browser_page.console_errors == [expected]
    browser_page.console_errors.clear()
    browser_page.assert_clean()


def test_use_my_location_and_english(browser_page: Any, chromium_context: Any) -> None:
    page = browser_page.page
    lon, lat = fx.xy(6, 5)  # grid A2
    chromium_context.grant_permissions(["geolocation"], origin=browser_page.base_url)
    chromium_context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 10})
    try:
        browser_page.goto("/resident?lang=en")
        assert page.locator("h1").inner_text() == "Find my grid"
        page.get_by_test_id("locate").click()
        page.get_by_test_id("grid-name").filter(has_text="甲社区第二网格").wait_for()
        assert "Grid code" in page.get_by_test_id("result").inner_text()
        browser_page.snapshot("located-en")
    finally:
        chromium_context.clear_permissions()
    browser_page.assert_clean()


def test_qr_link_opens_the_grid(browser_page: Any) -> None:
    page = browser_page.page
    b1 = fx.COMM_B + "001"
    browser_page.goto(f"/resident?grid={b1}")
    page.get_by_test_id("grid-name").filter(has_text="乙社区第一网格").wait_for()
    assert b1 in page.get_by_test_id("result").inner_text()
    browser_page.assert_clean()
