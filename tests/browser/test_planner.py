"""The grid editor in a real browser: merge two grids, see the certificate, save a staged generation."""

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
from gridmap.codes import grid_code
from gridmap.config import Settings
from gridmap.portal.app import close_app, create_app
from gridmap.store.factory import open_store
from tests.planner import sample as sm

pytestmark = pytest.mark.browser
LOOPBACK = "127.0.0.1"
PASSWORD = "planner-browser-1"


@dataclass
class PlannerServer:
    url: str
    store: Any


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlannerServer]:
    """The portal with the planner sample: grids 1 and 2 lost half their households (180 each)."""
    path = tmp_path_factory.mktemp("planner-browser") / "planner.gpkg"
    settings = Settings(store_url=f"gpkg://{path}", secret_key="planner-browser")
    store = open_store(settings.store_url, settings)
    sm.seed_community(store)
    sm.activate_layout(store)
    sm.demolish(store, [(0, 2), (0, 3), (2, 2), (2, 3)])
    add_account(store, "planner1", role="planner", area_code=sm.STREET, password=PASSWORD)
    app = create_app(settings, store=store)
    server = make_server(LOOPBACK, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="planner-portal", daemon=True)
    thread.start()
    try:
        yield PlannerServer(url=f"http://{LOOPBACK}:{server.server_port}", store=store)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        close_app(app)
        store.close()


def test_merge_two_grids_on_the_map_shows_the_certificate_and_saves(browser_page: Any, live_server: PlannerServer
                                                                     ) -> None:  # fmt: skip
    page = browser_page.page
    browser_page.goto(f"/login?next=/planner/{sm.COMMUNITY}")
    page.get_by_label("用户名").fill("planner1")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"**/planner/{sm.COMMUNITY}")
    grids = page.locator("path.pl-grid")
    expect(grids).to_have_count(6)
    # the base as it is today: two grids under the band, shown dashed red and failing the band check
    expect(page.locator("path.pl-out-of-band")).to_have_count(2)
    expect(page.get_by_test_id("check-households_in_band")).to_have_attribute("data-ok", "false")
    expect(page.get_by_test_id("save")).to_be_disabled()

    first, second = grid_code(sm.COMMUNITY, 1), grid_code(sm.COMMUNITY, 2)
    page.locator(f"path.pl-grid-{first}").click()
    page.locator(f"path.pl-grid-{second}").click()
    expect(page.get_by_test_id("selected")).to_contain_text(f"{first}, {second}")
    page.get_by_test_id("merge").click()

    expect(grids).to_have_count(5)
    expect(page.locator(f"path.pl-grid-{second}")).to_have_count(0)
    expect(page.get_by_test_id("certificate-verdict")).to_have_text("证书通过:全覆盖、无缝隙、无重叠")
    for check in ("covers_parent", "coverage_valid", "no_overlaps", "households_in_band"):
        expect(page.get_by_test_id(f"check-{check}")).to_have_attribute("data-ok", "true")
    expect(page.locator("path.pl-out-of-band")).to_have_count(0)
    expect(page.get_by_test_id("edits")).to_contain_text(f"合并 {second} 到 {first}")
    browser_page.snapshot("merged")

    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("status")).to_contain_text("已保存为版本 2")
    expect(page.get_by_test_id("base")).to_have_attribute("data-generation", "2")
    staged = live_server.store.read(schema.GENERATIONS, where={"generation_id": 2}).iloc[0]
    assert staged["status"] == "staged" and staged["created_by"] == "planner1"
    codes = sorted(live_server.store.read(schema.GRIDS, where={"generation_id": 2})["code"])
    assert second not in codes and len(codes) == 5
    browser_page.assert_clean()
