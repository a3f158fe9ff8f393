"""Incidents in headless Chromium: report with a map pin, sign in, find it in the list, open the case.

Uses the portal's Playwright harness (conftest.py here: nothing may leave 127.0.0.1, JS and console
errors and dialogs fail the test, screenshots in test-artifacts/screenshots/). ``live_server`` is
replaced for this module by a portal on the incident tests' district (tests/incidents/sample.py)
with anonymous reports on. Owned by incidents.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from gridmap import schema
from gridmap.auth.accounts import add_account
from gridmap.config import Settings
from gridmap.portal.app import close_app, create_app
from gridmap.store.factory import open_store
from tests.incidents import sample

pytestmark = pytest.mark.browser
LOOPBACK = "127.0.0.1"
PASSWORD = "correct-horse-battery"


@dataclass
class IncidentServer:
    url: str
    settings: Settings
    store: Any


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IncidentServer]:
    """The portal on a free loopback port with the sample district and a command-centre account."""
    path = tmp_path_factory.mktemp("incidents-browser") / "incidents.gpkg"
    settings = Settings(store_url=f"gpkg://{path}", secret_key="incidents-browser", allow_anonymous_reports=True)
    store = open_store(settings.store_url, settings)
    sample.populate(store)
    add_account(store, "dispatcher", role="command", area_code=sample.DISTRICT, password=PASSWORD)
    app = create_app(settings, store=store)
    server = make_server(LOOPBACK, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="incidents-portal", daemon=True)
    thread.start()
    try:
        yield IncidentServer(url=f"http://{LOOPBACK}:{server.server_port}", settings=settings, store=store)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        close_app(app)
        store.close()


def click_map_at(page: Any, map_var: str, lon: float, lat: float) -> None:
    """Click the Leaflet map (``window[map_var]``) where (lon, lat) is drawn."""
    point = page.evaluate(f"([lat, lon]) => window.{map_var}.latLngToContainerPoint([lat, lon])", [lat, lon])
    page.locator("#ic-map").click(position={"x": point["x"], "y": point["y"]})


def test_report_in_the_form_then_see_and_open_it(browser_page: Any, live_server: IncidentServer) -> None:
    page = browser_page.page
    browser_page.goto("/incidents/new")
    page.wait_for_function("() => window.gridmapReportMap !== undefined")
    lon, lat = sample.INSIDE[sample.GRID_A1]
    click_map_at(page, "gridmapReportMap", lon, lat)
    page.locator("#ic-pin.ic-pinned").wait_for()
    page.select_option('[data-testid="category"]', "sanitation")
    page.fill('[data-testid="description"]', sample.HOSTILE)
    page.click('[data-testid="submit"]')
    page.locator('[data-testid="report-id"]').wait_for()
    browser_page.snapshot("reported")
    stored = live_server.store.read(schema.INCIDENTS)
    assert len(stored) == 1 and stored["description"].iloc[0] == sample.HOSTILE
    iid = str(stored["incident_id"].iloc[0])
    assert iid in page.locator('[data-testid="report-id"]').inner_text()
    assert stored["grid_code"].iloc[0] == sample.GRID_A1
    assert abs(stored.geometry.iloc[0].x - lon) < 1e-4 and abs(stored.geometry.iloc[0].y - lat) < 1e-4

    browser_page.goto("/login?next=/incidents")
    page.fill('input[name="username"]', "dispatcher")
    page.fill('input[name="password"]', PASSWORD)
    page.click('[data-testid="login-submit"]')
    row = page.locator(f'[data-testid="incident-row"][data-id="{iid}"]')
    row.wait_for()
    browser_page.assert_clean()
    assert sample.HOSTILE[:30] in row.inner_text()  # shown as text: no dialog fired, no element injected
    assert page.locator('[data-testid="incident-table"] img').count() == 0
    # the map draws its markers after the table (Leaflet, from the page's data): wait, then count exactly
    expect(page.locator("path.ic-marker")).to_have_count(1)
    browser_page.snapshot("list")

    row.locator("a").click()
    page.locator('[data-action="open_case"]').wait_for()
    page.click('[data-action="open_case"]')
    page.click("#ic-action-form button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=incident-status]').textContent.includes('已立案')")
    browser_page.assert_clean()
    assert live_server.store.read(schema.INCIDENTS)["status"].iloc[0] == "case_opened"
    assert page.locator('[data-testid="event"]').count() == 2
    browser_page.goto("/assessment?unit=grid")
    for chart in ("chart-bar", "chart-pie", "chart-trend"):
        assert page.locator(f'svg[data-testid="{chart}"]').is_visible()
    assert page.locator('[data-testid="assessment-row"]').count() == 1
    browser_page.snapshot("assessment")
