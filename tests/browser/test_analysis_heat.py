"""The analysis heatmap page in headless Chromium: aggregated heat drawn offline, the weekly animation steps.

Uses the portal's Playwright harness (tests/browser/conftest.py: nothing may leave 127.0.0.1, JS and
console errors fail the test, screenshots in test-artifacts/screenshots/). The store is the hand-made
district of tests/analysis/store_sample.py plus 26,000 extra incidents, so that the heat layers are
summed into H3 cells on the server (more than 20,000 points per layer). Owned by analysis.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from playwright.sync_api import expect

from gridmap import schema
from gridmap.auth.passwords import hash_password
from gridmap.config import Settings
from gridmap.store.base import Store
from tests.analysis import sample
from tests.analysis import store_sample as ss
from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.browser
PASSWORD = "analysis-browser-password"
EXTRA_INCIDENTS = 26_000


def populate(store: Store) -> None:
    """The hand-made district, an analyst for the district, and many clustered incidents over 2024."""
    ss.populate(store)
    rng = np.random.default_rng(5)
    centres = rng.uniform([150, 150], [1050, 450], size=(6, 2))
    xy = centres[rng.integers(0, len(centres), EXTRA_INCIDENTS)] + rng.normal(0, 40, (EXTRA_INCIDENTS, 2))
    xy = np.clip(xy, 1, [1199, 599])  # all inside the district: the page counts them all
    points = sample.lonlat(shapely.points(xy[:, 0] + sample.X0, xy[:, 1] + sample.Y0))
    times = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 365, EXTRA_INCIDENTS), unit="D")
    extra = sample.incidents_frame(points, category=rng.choice(["消防", "环境卫生"], EXTRA_INCIDENTS),
                                   status=["closed"] * EXTRA_INCIDENTS, reported_at=times)
    extra["incident_id"] = [f"BX{i:06d}" for i in range(EXTRA_INCIDENTS)]
    now = pd.Timestamp.now(tz="UTC")
    with store.transaction() as tx:
        tx.insert(schema.INCIDENTS, extra)
        tx.insert(schema.ACCOUNTS, pd.DataFrame([{
            "username": "ana", "role": "analyst", "area_code": ss.DISTRICT, "display_name": "分析员",
            "password_hash": hash_password(PASSWORD), "active": True, "created_at": now}]))


@pytest.fixture(scope="module")
def analysis_server(tmp_path_factory: pytest.TempPathFactory, portal_server: Any) -> Iterator[LiveServer]:
    path = Path(tmp_path_factory.mktemp("analysis-browser")) / "portal.gpkg"
    settings = Settings(store_url=f"gpkg://{path}", secret_key="analysis-browser")
    with portal_server(settings, SimpleNamespace(populate_store=populate)) as live:
        yield live


@pytest.fixture(scope="module")
def portal_server() -> Any:  # the harness's fixture is function-scoped; the server here lives for the module
    from tests.browser.conftest import serve_portal

    return serve_portal


def _painted_pixels(page: Any, selector: str) -> int:
    """Non-transparent pixels of the canvases matching ``selector`` (proves the heat was drawn)."""
    return int(page.evaluate("""(selector) => {
        let n = 0;
        for (const canvas of document.querySelectorAll(selector)) {
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { n++; } }
        }
        return n;
    }""", selector))


def test_heatmap_page_draws_aggregated_heat_and_animates_weeks(page_opener: Any, analysis_server: LiveServer) -> None:
    with page_opener(analysis_server.url, "analysis-heat") as browser_page:
        page = browser_page.page
        browser_page.goto("/login?next=/analysis/heat")
        page.get_by_label("用户名").fill("ana")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        page.wait_for_url("**/analysis/heat")
        expect(page.get_by_test_id("an-heat-aggregated")).to_be_visible()
        expect(page.get_by_test_id("an-heat-count")).to_contain_text(f"{ss.COUNTED_INCIDENTS + EXTRA_INCIDENTS:,}")
        page.wait_for_selector("canvas.leaflet-heatmap-layer")
        page.wait_for_function("""() => [...document.querySelectorAll('canvas.leaflet-heatmap-layer')]
            .some(c => c.width > 0)""")
        assert _painted_pixels(page, "canvas.leaflet-heatmap-layer") > 1000
        browser_page.snapshot("layers")
        browser_page.goto("/analysis/heat?view=weekly")
        control = page.locator(".leaflet-control-timecontrol").first
        expect(control).to_be_visible()
        date = page.locator(".timecontrol-date").first
        first = date.inner_text()
        page.locator(".timecontrol-forward").first.click()
        expect(date).not_to_have_text(first)
        page.wait_for_function("() => document.querySelector('canvas.heatmap-canvas') !== null")
        assert _painted_pixels(page, "canvas.heatmap-canvas") > 100
        browser_page.snapshot("weekly")
        browser_page.assert_clean()


def test_hotspot_and_stats_pages_draw_cells_and_sort_tables(page_opener: Any, analysis_server: LiveServer) -> None:
    with page_opener(analysis_server.url, "analysis-hotspots") as browser_page:
        page = browser_page.page
        browser_page.goto("/login?next=/analysis/hotspots")
        page.get_by_label("用户名").fill("ana")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_test_id("login-submit").click()
        page.wait_for_url("**/analysis/hotspots")
        cells = page.locator("path.gm-analysis-cell")
        expect(cells).to_have_count(len(ss.GRID_CELLS))
        rows = page.get_by_test_id("an-row")
        expect(rows).to_have_count(len(ss.GRID_CELLS))
        header = page.locator("table.an-table th", has_text="事件数")
        header.click()  # rows now sorted by incidents, most first
        expect(header).to_have_attribute("aria-sort", "descending")
        counts = [int(t.replace(",", "")) for t in rows.locator("td:nth-child(3)").all_inner_texts()]
        assert counts == sorted(counts, reverse=True) and len(set(counts)) > 1
        header.click()
        expect(header).to_have_attribute("aria-sort", "ascending")
        assert [int(t.replace(",", "")) for t in rows.locator("td:nth-child(3)").all_inner_texts()] == sorted(counts)
        browser_page.snapshot("hotspots")
        browser_page.goto(f"/analysis/stats?level=grid&measure=incidents&area={ss.C1}")
        expect(page.locator("path.gm-analysis-cell")).to_have_count(4)
        expect(page.get_by_test_id("an-total-households")).to_have_text(f"{sum(ss.HOUSEHOLDS[:4]):,}")
        browser_page.snapshot("stats")
        browser_page.goto("/analysis/coverage?distance=700")
        expect(page.locator("path.gm-analysis-cell")).to_have_count(len(ss.GRID_CELLS))
        expect(page.get_by_test_id("an-table-grids_without_worker").locator("tbody tr")).to_have_count(5)
        browser_page.snapshot("coverage")
