"""Roles in headless Chromium: sign in per role, scoping by page and API, a grid click, keyboard use,
phone layouts, an address search on the resident page, and an incident reported in the form that
appears on the command centre's map through server-sent events.

Uses the portal's Playwright harness (conftest.py here: nothing may leave 127.0.0.1, JS and console
errors and dialogs fail a test, screenshots go to test-artifacts/screenshots/). ``live_server`` is
replaced for this module by the portal sample with accounts, workers, incidents and two addressed
buildings, served by waitress (as ``gridmap serve`` does) so that the event stream is tested there.
Owned by portal auth.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import geopandas as gpd
import pytest
import shapely
from flask import Flask
from playwright.sync_api import expect

from gridmap import schema
from gridmap.auth.principal import Principal
from gridmap.config import Settings
from gridmap.model import Role
from gridmap.portal.app import close_app
from gridmap.portal.home.dashboard import nav_items
from gridmap.portal.server import make_server, stop_server
from gridmap.store.factory import open_store
from tests.browser.conftest import BrowserPage, load_portal_sample

pytestmark = pytest.mark.browser
LOOPBACK = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]
PHONE = {"width": 390, "height": 844}


def load_auth_sample() -> ModuleType:
    path = REPO / "tests" / "portal" / "auth_sample.py"
    spec = importlib.util.spec_from_file_location("auth_sample_for_browser", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SAMPLE = load_portal_sample()
AUTH = load_auth_sample()
AREA_OF = {u: a for u, _, a, _ in AUTH.ACCOUNTS}
ROLE_OF = {u: r for u, r, _, _ in AUTH.ACCOUNTS}
GRID_BOX = {g[0]: g[5] for g in SAMPLE.GRIDS}


@dataclass
class RolesServer:
    url: str
    settings: Settings
    app: Flask
    store: Any


def _buildings() -> gpd.GeoDataFrame:
    """Two addressed buildings in 杏园社区第一网格 (410611001002001)."""
    x0, y0, x1, y1 = GRID_BOX["410611001002001"]
    rows = [
        {"building_id": "b1", "road_name": "淇河路", "house_number": "12号", "community_code": "410611001002",
         "geometry": shapely.box(x0 + 0.002, y0 + 0.002, x0 + 0.004, y0 + 0.004)},
        {"building_id": "b2", "road_name": "淇河路", "house_number": "14号", "community_code": "410611001002",
         "geometry": shapely.box(x1 - 0.004, y1 - 0.004, x1 - 0.002, y1 - 0.002)},
    ]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RolesServer]:
    path = tmp_path_factory.mktemp("roles-browser") / "roles.gpkg"
    settings = Settings(store_url=f"gpkg://{path}", secret_key="roles-browser", allow_anonymous_reports=True,
                        live_heartbeat_s=1.0, live_max_subscribers=4)
    store = open_store(settings.store_url, settings)
    SAMPLE.populate_store(store)
    AUTH.seed_accounts(store)
    AUTH.seed_workers_and_incidents(store, GRID_BOX)
    with store.transaction() as tx:
        tx.insert(schema.BUILDINGS, _buildings())
    server, app = make_server(settings, host=LOOPBACK, port=0, workers=8, store=store)
    thread = threading.Thread(target=server.run, name="roles-portal", daemon=True)
    thread.start()
    try:
        yield RolesServer(url=f"http://{LOOPBACK}:{server.effective_port}", settings=settings, app=app, store=store)
    finally:
        close_app(app)  # ends open event streams first
        stop_server(server)
        thread.join(timeout=10)
        store.close()


def sign_in(browser_page: BrowserPage, username: str, *, next_path: str | None = None) -> None:
    page = browser_page.page
    browser_page.goto("/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(AUTH.PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"**{next_path or '/dashboard'}")
    browser_page.assert_clean()


def _grid_codes_drawn(page: Any) -> list[str]:
    return sorted(page.evaluate("""() => {
      const map = window[document.querySelector('.folium-map').id];
      const codes = [];
      map.eachLayer((l) => { if (l.feature && l._path && l._path.classList.contains('gm-grid')) {
        codes.push(l.feature.properties.code); } });
      return codes; }"""))


# -- sign in per role -----------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["root", "cmd_ty", "plan_jz", "analyst", "worker_ts"])
def test_each_role_lands_on_its_dashboard_with_its_navigation(
    browser_page: BrowserPage, live_server: RolesServer, username: str
) -> None:
    sign_in(browser_page, username)
    page = browser_page.page
    role = ROLE_OF[username]
    expect(page.get_by_test_id("dashboard-title")).to_have_text(AUTH.TITLES[role])
    principal = Principal(username, Role(role), AREA_OF[username])
    expected = [i.endpoint for i in nav_items(live_server.app, principal)]
    shown = page.locator(".gm-nav a").evaluate_all("(links) => links.map((a) => a.dataset.testid.slice(4))")
    assert shown == expected
    assert ("admin.users" in shown) == (role == "admin")
    assert "dashboard.dashboard" in shown
    expect(page.get_by_test_id("account-link")).to_contain_text(username)
    numbers = page.locator("[data-testid^=stat-]").all_inner_texts()
    assert len(numbers) == 5 and all(n.replace(",", "").isdigit() for n in numbers)
    base = [g[0] for g in SAMPLE.GRIDS if g[2] != "professional" and g[0].startswith(AREA_OF[username])]
    assert [c for c in _grid_codes_drawn(page) if c in base] == sorted(base)
    browser_page.snapshot(role)
    page.get_by_test_id("logout").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_test_id("login-link")).to_be_visible()


# -- scoping ------------------------------------------------------------------------------------

FETCH = "async (url) => { const r = await fetch(url); return {status: r.status, body: await r.text()}; }"


def test_a_community_account_sees_only_its_community(browser_page: BrowserPage, live_server: RolesServer) -> None:
    sign_in(browser_page, "cmd_ty")
    page = browser_page.page
    area = AREA_OF["cmd_ty"]
    assert _grid_codes_drawn(page) == sorted(g[0] for g in SAMPLE.GRIDS if g[2] != "professional"
                                             and g[0].startswith(area))
    dashboard = page.content()
    for row in AUTH.INCIDENTS:  # the map's incident layer
        assert (row[0] in dashboard) == (AUTH.incident_scope(row).startswith(area) and row[2] in AUTH.OPEN_STATUSES)
    drawn = page.evaluate("""() => { const map = window[document.querySelector('.folium-map').id], ids = [];
      map.eachLayer((l) => { if (l.options && l.options.markerId) ids.push(l.options.markerId); });
      return ids.sort(); }""")
    assert drawn == sorted(r[0] for r in AUTH.INCIDENTS
                           if AUTH.incident_scope(r).startswith(area) and r[2] in AUTH.OPEN_STATUSES)
    page.evaluate("""(id) => { const map = window[document.querySelector('.folium-map').id];
      map.eachLayer((l) => { if (l.options && l.options.markerId === id) l.openPopup(); }); }""", "I-TY-2")
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text(AUTH.HOSTILE_CATEGORY)  # the hostile category, as text
    expect(popup).to_contain_text("I-TY-2")
    assert popup.locator("img").count() == 0
    api = page.evaluate(FETCH, "/api/v1/areas?level=grid")
    import json

    codes = sorted(f["properties"]["code"] for f in json.loads(api["body"])["features"])
    assert codes == sorted(g[0] for g in SAMPLE.GRIDS if g[0].startswith(area))
    # Incidents: another community's case and a case that does not exist answer alike.
    elsewhere = page.evaluate(FETCH, "/api/v1/incidents/I-XY-1")
    missing = page.evaluate(FETCH, "/api/v1/incidents/I-NOPE-1")
    own = page.evaluate(FETCH, "/api/v1/incidents/I-TY-1")
    assert own["status"] == 200
    assert elsewhere["status"] == missing["status"] == 404
    assert json.loads(elsewhere["body"])["error"]["code"] == json.loads(missing["body"])["error"]["code"]
    # The browser logs the two expected 404s; nothing else may be there.
    assert [e for e in browser_page.console_errors if "404" not in e] == [] and len(browser_page.console_errors) == 2
    browser_page.console_errors.clear()
    if "incidents.list_page" in live_server.app.view_functions:
        browser_page.goto("/incidents")
        listed = page.locator('[data-testid="incident-row"]').evaluate_all("(rows) => rows.map((r) => r.dataset.id)")
        assert "I-TY-1" in listed and "I-XY-1" not in listed and "I-TS-1" not in listed
    browser_page.snapshot("incidents")


def test_clicking_a_grid_on_the_dashboard_opens_its_escaped_popup(
    browser_page: BrowserPage, live_server: RolesServer
) -> None:
    sign_in(browser_page, "cmd_ty")
    page = browser_page.page
    centre = page.evaluate("""(code) => {
      const map = window[document.querySelector('.folium-map').id];
      let found = null;
      map.eachLayer((l) => { if (l.feature && l.feature.properties.code === code && l._path
        && l._path.classList.contains('gm-grid')) { found = l; } });
      const b = found.getBounds();  // a quarter in from the south-west corner: incidents sit at the centre
      const p = map.latLngToContainerPoint([b.getSouth() + (b.getNorth() - b.getSouth()) / 4,
                                            b.getWest() + (b.getEast() - b.getWest()) / 4]);
      const box = map.getContainer().getBoundingClientRect();
      return {x: box.left + p.x, y: box.top + p.y}; }""", "410611001001001")
    page.mouse.click(centre["x"], centre["y"])
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text("410611001001001")
    expect(popup).to_contain_text(SAMPLE.HOSTILE)  # the sample's hostile grid name, as text
    assert popup.locator("img").count() == 0
    browser_page.assert_clean()


# -- keyboard and phones --------------------------------------------------------------------------


def test_keyboard_reaches_the_skip_link_first_and_the_login_form_in_order(browser_page: BrowserPage) -> None:
    page = browser_page.page
    browser_page.goto("/login")
    page.keyboard.press("Tab")
    skip = page.locator(".gm-skip")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["y"] >= 0  # shown when focused
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("用户名")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("密码")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("login-submit")).to_be_focused()
    page.get_by_label("用户名").fill("")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("error-username")).to_have_text("此项必填。")
    assert page.get_by_label("用户名").get_attribute("aria-invalid") == "true"
    assert [e for e in browser_page.console_errors if "400" not in e] == []  # the form page came back as 400
    browser_page.console_errors.clear()


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide on a {PHONE['width']}px screen"


def test_worker_dashboard_fits_a_phone(browser_page: BrowserPage) -> None:
    page = browser_page.page
    page.set_viewport_size(PHONE)
    try:
        sign_in(browser_page, "worker_ts")
        _no_sideways_scroll(page)
        map_box = page.locator(".gm-dash-map").bounding_box()
        assert map_box["width"] >= PHONE["width"] - 1 and map_box["height"] >= 280
        expect(page.get_by_test_id("stat-grids")).to_have_text("1")
        for target in page.locator(".gm-nav a, [data-testid=logout]").all():
            assert target.bounding_box()["height"] >= 44  # touch targets
        browser_page.snapshot("phone")
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


def test_resident_page_search_on_a_phone(browser_page: BrowserPage) -> None:
    """The lookup colleague's page, checked here for the mobile layout and an address search."""
    page = browser_page.page
    page.set_viewport_size(PHONE)
    try:
        browser_page.goto("/resident")
        _no_sideways_scroll(page)
        page.get_by_test_id("address-input").fill("淇河路１２号")  # full-width digits
        page.get_by_test_id("address-submit").click()
        page.get_by_test_id("grid-name").filter(has_text="杏园社区第一网格").wait_for()
        assert page.get_by_test_id("matched").inner_text().endswith("淇河路12号")
        _no_sideways_scroll(page)
        browser_page.snapshot("resident-phone")
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})


# -- live updates ---------------------------------------------------------------------------------


ACT = """async ([id, withToken]) => {
  const headers = {"Content-Type": "application/json"};
  if (withToken) { headers["X-CSRF-Token"] = document.querySelector("meta[name=csrf-token]").content; }
  const r = await fetch(`/api/v1/incidents/${id}/actions`,
                        {method: "POST", headers, body: JSON.stringify({action: "open_case", version: 1})});
  return r.status; }"""


@contextmanager
def second_tab(browser_page: BrowserPage, name: str) -> Iterator[BrowserPage]:
    """Another tab of the same browser session (cookies kept), under the same request guard."""
    page = browser_page.page.context.new_page()
    tab = BrowserPage(page=page, base_url=browser_page.base_url, test_name=name)
    page.route("**/*", tab._route)
    page.on("pageerror", lambda exc: tab.page_errors.append(str(exc)))
    page.on("console", tab._console)
    try:
        yield tab
    finally:
        page.close()
    tab.assert_clean()


def test_a_reported_incident_appears_on_the_command_map_live(
    browser_page: BrowserPage, live_server: RolesServer
) -> None:
    sign_in(browser_page, "cmd_ty")
    page = browser_page.page
    expect(page.get_by_test_id("live-status")).to_have_text("已连接,等待新事件。")
    assert page.locator("path.gm-incident-live").count() == 0
    x0, y0, x1, y1 = GRID_BOX["410611001001002"]
    lon, lat = (x0 + x1) / 2, (y0 + y1) / 2
    with second_tab(browser_page, "test_live_report_form") as tab:
        tab.goto("/incidents/new")
        form = tab.page
        form.wait_for_function("() => window.gridmapReportMap !== undefined")
        point = form.evaluate("([lat, lon]) => window.gridmapReportMap.latLngToContainerPoint([lat, lon])", [lat, lon])
        form.locator("#ic-map").click(position={"x": point["x"], "y": point["y"]})
        form.locator("#ic-pin.ic-pinned").wait_for()
        form.select_option('[data-testid="category"]', "sanitation")
        form.fill('[data-testid="description"]', "路边垃圾 <b>堆积</b>")
        form.click('[data-testid="submit"]')
        form.locator('[data-testid="report-id"]').wait_for()
        tab.snapshot("reported")
    stored = live_server.store.read(schema.INCIDENTS, where={"grid_code": "410611001001002", "status": "reported"})
    assert len(stored) == 1
    incident_id = str(stored["incident_id"].iloc[0])
    marker = page.locator("path.gm-incident-live")
    expect(marker).to_have_count(1)
    expect(page.get_by_test_id("live-list")).to_contain_text(incident_id)
    expect(page.get_by_test_id("live-list")).to_contain_text("环境卫生")
    drawn = page.evaluate("""() => { const map = window[document.querySelector('.folium-map').id];
      let at = null; map.eachLayer((l) => { if (l.options && l.options.className
        && l.options.className.includes('gm-incident-live')) { at = l.getLatLng(); } }); return at; }""")
    point = stored.geometry.iloc[0]  # where the pin landed (a map click is exact to a pixel, not to 1e-4°)
    assert abs(drawn["lat"] - point.y) < 1e-6 and abs(drawn["lng"] - point.x) < 1e-6
    assert x0 < point.x < x1 and y0 < point.y < y1
    # A cookie-authenticated JSON action needs the page's CSRF token; the update streams in too.
    status = page.evaluate(ACT, [incident_id, False])
    assert status == 403 and len(browser_page.console_errors) == 1 and "403" in browser_page.console_errors[0]
    browser_page.console_errors.clear()
    assert page.evaluate(ACT, [incident_id, True]) == 200
    expect(page.get_by_test_id("live-list").locator("li").first).to_have_text(
        f"事件更新:环境卫生(已立案) · {incident_id}")
    browser_page.snapshot("live")
