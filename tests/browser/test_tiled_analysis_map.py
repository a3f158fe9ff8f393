"""Analysis and incident maps of a city in headless Chromium: cells drawn from /tiles, styled by the embedded classes.

``tiled_map_min_grids`` is set low, so the hand-made district of tests/analysis/store_sample.py
(7 grids) and the portal sample are "a city": the pages embed no grid geometry and
Leaflet.VectorGrid draws the grids from the vector tiles. Uses the portal's Playwright harness
(nothing may leave 127.0.0.1; JS and console errors fail the test).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
import shapely
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from gridmap import schema
from gridmap.auth.passwords import hash_password
from gridmap.config import Settings
from gridmap.portal.analysis.maps import BIN_COLOURS
from gridmap.store.base import Store
from tests.analysis import sample
from tests.analysis import store_sample as ss
from tests.browser.conftest import MVT, SCREEN_POINT_JS, LiveServer

pytestmark = pytest.mark.browser
PASSWORD = "tiled-browser-password"


def populate(store: Store) -> None:
    ss.populate(store)
    with store.transaction() as tx:
        tx.insert(schema.ACCOUNTS, pd.DataFrame([{
            "username": "ana", "role": "analyst", "area_code": ss.DISTRICT, "display_name": "分析员",
            "password_hash": hash_password(PASSWORD), "active": True, "created_at": pd.Timestamp.now(tz="UTC")}]))


@pytest.fixture(scope="module")
def tiled_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from tests.browser.conftest import serve_portal

    path = Path(tmp_path_factory.mktemp("tiled-analysis-browser")) / "portal.gpkg"
    settings = Settings(store_url=f"gpkg://{path}", secret_key="tiled-analysis-browser", tiled_map_min_grids=1)
    with serve_portal(settings, SimpleNamespace(populate_store=populate)) as live:
        yield live


def _centre_lonlat(col: int, row: int) -> tuple[float, float]:
    point = sample.lonlat([shapely.Point(sample.X0 + col * 300 + 150, sample.Y0 + row * 300 + 150)])[0]
    return float(point.x), float(point.y)


def _wait_for_fill(page: Any, wanted: list[str]) -> None:
    """Wait until some result cell is painted in one of ``wanted``; a timeout fails with the fills drawn."""
    script = ("(wanted) => Array.from(document.querySelectorAll('path.gm-analysis-cell'))"
              ".some(p => wanted.includes(p.getAttribute('fill')))")  # fmt: skip
    try:
        page.wait_for_function(script, arg=wanted, timeout=15_000)
    except PlaywrightTimeoutError:
        fills = page.eval_on_selector_all("path.gm-analysis-cell", "ps => ps.map(p => p.getAttribute('fill'))")
        raise AssertionError(f"no cell painted {wanted} within 15 s; fills drawn: {sorted(set(fills))}") from None


def test_tiled_hotspot_map_draws_grids_from_tiles_coloured_by_class(page_opener: Any,
                                                                     tiled_server: LiveServer) -> None:  # fmt: skip
    with page_opener(tiled_server.url, "tiled-analysis-hotspots") as browser_page:
        page = browser_page.page
        browser_page.goto("/login?next=/analysis/hotspots")
        page.get_by_label("用户名").fill("ana")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        page.wait_for_url("**/analysis/hotspots")
        tiles: list[tuple[str, int, dict[str, str]]] = []  # (url, status, headers), read as they arrive
        page.on("response", lambda r: tiles.append((r.url, r.status, r.headers)) if "/tiles/" in r.url else None)
        html = browser_page.goto("/analysis/hotspots?cells=grids&permutations=99").text()
        assert '"FeatureCollection"' not in html and "/tiles/grids/{z}/{x}/{y}.mvt" in html
        # every grid drawn from the tiles (a grid cut by a tile edge is one path per tile: at least 7)
        # ...and painted: tiles arrive one by one, so seven paths may all come from the first tiles;
        # wait (up to the default timeout) until a hot fill is drawn, then check everything drawn
        page.wait_for_function("(n) => document.querySelectorAll('path.gm-analysis-cell').length >= n",
                               arg=len(ss.GRID_CELLS))  # fmt: skip
        _wait_for_fill(page, [BIN_COLOURS[b] for b in (3, 2, 1)])
        grid_tiles = [t for t in tiles if "/tiles/grids/" in t[0]]
        assert grid_tiles and all(status == 200 for _, status, _ in grid_tiles)
        assert any(h.get("content-type") == MVT and int(h.get("content-length", 0)) > 0 for _, _, h in grid_tiles)
        fills = page.eval_on_selector_all("path.gm-analysis-cell", "ps => ps.map(p => p.getAttribute('fill'))")
        hot = [b for b in (3, 2, 1) if BIN_COLOURS[b] in fills]
        assert hot, f"the planted hotspot is not painted hot: {sorted(set(fills))}"
        assert set(fills) <= set(BIN_COLOURS.values()) and len(set(fills)) >= 2
        assert page.get_by_test_id("an-row").count() == len(ss.GRID_CELLS)  # the table is still there
        # a click on the hot grid: its name and code from the tile, its class from the embedded classes
        point = page.evaluate(SCREEN_POINT_JS, list(_centre_lonlat(0, 0)))
        page.mouse.click(point["x"], point["y"])
        popup = page.locator(".leaflet-popup-content")
        expect(popup).to_contain_text(ss.HOT_GRID)
        expect(popup).to_contain_text("网格001")
        expect(popup).to_contain_text("热点")
        browser_page.snapshot("hotspots")
        # the coverage map of the same city: the 5 grids without an active worker in red, 2 served
        browser_page.goto("/analysis/coverage?distance=700")
        page.wait_for_function("() => document.querySelectorAll('path.gm-analysis-cell').length >= 7")
        _wait_for_fill(page, ["#d62f27"])
        _wait_for_fill(page, ["#7fcdbb"])
        fills = page.eval_on_selector_all("path.gm-analysis-cell", "ps => ps.map(p => p.getAttribute('fill'))")
        assert set(fills) == {"#d62f27", "#7fcdbb"}
        browser_page.assert_clean()


def test_tiled_incident_form_draws_the_grids_from_tiles(page_opener: Any, portal_server: Any,
                                                        live_server: LiveServer, tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:  # fmt: skip
    """The report form of a city: context grids from /tiles/grids, never the /api/v1/areas GeoJSON."""
    settings = live_server.settings.replace(store_url=f"gpkg://{tmp_path / 'city.gpkg'}", tiled_map_min_grids=0)
    with portal_server(settings, live_server.sample) as city, page_opener(city.url, request.node.name) as browser_page:
        page = browser_page.page
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        browser_page.goto("/incidents/new")
        page.wait_for_function("() => document.querySelectorAll('path.ic-grid-outline').length > 0")
        assert any("/tiles/grids/" in url for url in requests)
        assert not any("/api/v1/areas" in url for url in requests)
        browser_page.assert_clean()
