"""The worker's /field page in headless Chromium on a phone-sized viewport with emulated geolocation.

One portal (GeoPackage) holds the tracked world of tests/tracking/world.py, its inspection points
(tests/field/conftest.py) and accounts for worker w-a (grid A) and leader ``lead`` (community
410611001001). The test walks the worker's day in the browser:

* a check-in at point p-a1 is accepted, one 500 m away is refused with the distance in metres;
* a home visit and a log entry are saved; the leader comments on the log and marks it reviewed;
* the phone's clock is in a zone whose date differs from the server's patrol day (Asia/Shanghai):
  the log is still written for the server's day (it once used the phone's date and was refused);
* with the context offline, two check-ins with photos are queued (the page counts 2 waiting, the
  server has none of them); back online they upload by themselves and are stored exactly once,
  and a reload uploads nothing again.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.sync_api import expect

from gridmap import schema
from gridmap.auth.accounts import add_account
from gridmap.config import Settings
from gridmap.services.field import FieldService
from gridmap.store.base import Store
from gridmap.store.factory import open_store
from tests.browser.conftest import LiveServer
from tests.field.conftest import points_csv
from tests.tracking import world

PASSWORD = "field-browser-password"
PHONE = {"width": 390, "height": 844}
M_PER_DEG_LAT = 110_950.0


def photo(name: str, colour: tuple[int, int, int]) -> dict[str, Any]:
    """A 2000 x 1500 JPEG (the page resizes it to 1600 px before queueing)."""
    out = io.BytesIO()
    Image.new("RGB", (2000, 1500), colour).save(out, format="JPEG")
    return {"name": name, "mimeType": "image/jpeg", "buffer": out.getvalue()}


@dataclass
class FieldWorld:
    """``populate_store`` for serve_portal: the world, its points and two accounts."""

    folder: Path

    def populate_store(self, store: Store) -> None:
        world.populate_store(store)
        FieldService(store, store.settings).import_points(points_csv(self.folder / "points.csv"))
        add_account(store, "w-a", role="worker", area_code=world.A, password=PASSWORD)
        add_account(store, "lead", role="command", area_code="410611001001", password=PASSWORD)


@pytest.fixture(scope="module")
def field_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from tests.browser.conftest import serve_portal

    folder = tmp_path_factory.mktemp("field-browser")
    settings = Settings(store_url=f"gpkg://{folder / 'portal.gpkg'}", secret_key="field-browser",
                        field_photo_dir=str(folder / "photos"))
    with serve_portal(settings, FieldWorld(folder)) as live:  # type: ignore[arg-type]
        yield live


def server_count(live: LiveServer, layer: str) -> int:
    store = open_store(live.settings.store_url, live.settings)
    try:
        return store.count(layer)
    finally:
        store.close()


def sign_in(page: Any, base: str, username: str, next_path: str) -> None:
    page.goto(f"{base}/login?next={next_path}")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(f"**{next_path}")


def phone_zone_on_another_day(server_zone: str) -> tuple[str, str]:
    """A time zone whose date differs from the server's right now, and the server's date (YYYY-MM-DD).

    UTC-12 is a day behind until 20:00 in UTC+8, UTC+14 a day ahead from 18:00: one of them always is.
    """
    here = datetime.now(ZoneInfo(server_zone))
    zone = "Etc/GMT+12" if here.hour < 20 else "Pacific/Kiritimati"
    assert datetime.now(ZoneInfo(zone)).date() != here.date()
    return zone, here.date().isoformat()


def check_in(page: Any, *, name: str, colour: tuple[int, int, int]) -> None:
    page.get_by_test_id("checkin-point").select_option("p-a1")
    page.get_by_test_id("checkin-photo").set_input_files(photo(name, colour))
    page.get_by_test_id("checkin-submit").click()


def test_worker_day_with_offline_checkins(chromium_context: Any, page_opener: Any, field_server: LiveServer) -> None:
    base = field_server.url
    lon, lat = world.inside(world.A)
    context = chromium_context
    context.grant_permissions(["geolocation"], origin=base)
    context.set_geolocation({"longitude": lon, "latitude": lat + 5 / M_PER_DEG_LAT, "accuracy": 8})
    # Failed uploads (offline, refused) log "Failed to load resource" for the API: expected here.
    with page_opener(base, "test_field_worker_day", offline_origins=(f"{base}/api/v1/field/",)) as bp:
        page = bp.page
        page.set_viewport_size(PHONE)
        phone_zone, server_day = phone_zone_on_another_day(field_server.settings.tracking_timezone)
        context.new_cdp_session(page).send("Emulation.setTimezoneOverride", {"timezoneId": phone_zone})
        try:
            sign_in(page, base, "w-a", "/field")
            phone_day = page.evaluate("(() => { const d = new Date(); return d.getFullYear() + '-' + "
                                      "String(d.getMonth() + 1).padStart(2, '0') + '-' + "
                                      "String(d.getDate()).padStart(2, '0'); })()")
            assert phone_day != server_day  # the override took: the phone is on another date
            queue = page.get_by_test_id("queue-count")
            expect(page.get_by_test_id("task-points")).to_contain_text("桃园东门消防栓")
            expect(page.get_by_test_id("position")).to_contain_text("35.74")

            check_in(page, name="ok.jpg", colour=(10, 120, 10))
            expect(page.get_by_test_id("field-message")).to_have_text("已上传")
            expect(queue).to_have_attribute("data-waiting", "0")
            assert server_count(field_server, schema.CHECKINS) == 1

            context.set_geolocation({"longitude": lon, "latitude": lat - 500 / M_PER_DEG_LAT, "accuracy": 8})
            check_in(page, name="far.jpg", colour=(120, 10, 10))
            expect(page.get_by_test_id("field-message")).to_contain_text("you are 500 m from inspection point")
            expect(queue).to_have_attribute("data-refused", "1")
            assert server_count(field_server, schema.CHECKINS) == 1

            page.get_by_test_id("visit-building").fill("b0")
            page.get_by_test_id("visit-purpose").fill("独居老人探访")
            page.get_by_test_id("visit-outcome").fill("身体状况良好")
            page.get_by_test_id("visit-submit").click()
            expect(page.get_by_test_id("field-message")).to_have_text("已上传")
            assert server_count(field_server, schema.HOME_VISITS) == 1

            page.get_by_test_id("diary-text").fill("上午巡查消防栓,走访 b0 独居老人。<b>不是标签</b>")
            page.get_by_test_id("diary-tags").fill("巡查,走访")
            page.get_by_test_id("diary-submit").click()
            expect(page.get_by_test_id("task-diary")).to_have_text("今日已写")
            assert server_count(field_server, schema.DIARIES) == 1

            context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 5})
            context.set_offline(True)
            page.evaluate("window.dispatchEvent(new Event('offline'))")
            check_in(page, name="q1.jpg", colour=(10, 10, 200))
            expect(queue).to_have_attribute("data-waiting", "1")
            check_in(page, name="q2.jpg", colour=(200, 200, 10))
            expect(queue).to_have_attribute("data-waiting", "2")
            expect(queue).to_contain_text("待上传 2 条")
            expect(page.get_by_test_id("network-state")).to_contain_text("离线")
            assert server_count(field_server, schema.CHECKINS) == 1
            bp.snapshot("offline-queue")

            context.set_offline(False)
            expect(queue).to_have_attribute("data-waiting", "0", timeout=30_000)
            assert server_count(field_server, schema.CHECKINS) == 3
            page.reload()
            expect(queue).to_have_attribute("data-waiting", "0")
            page.wait_for_timeout(500)
            assert server_count(field_server, schema.CHECKINS) == 3
        finally:
            context.set_offline(False)
            context.clear_permissions()
        bp.console_errors.clear()  # the expected failed-resource lines of the offline and refused uploads

    store = open_store(field_server.settings.store_url, field_server.settings)
    try:
        checkins = store.read(schema.CHECKINS)
        assert checkins["checkin_id"].is_unique and (checkins["distance_m"] < 50).all()
        widths = {p["width"] for photos in checkins["photos"] for p in photos}
        assert widths == {1600}  # resized in the browser: longest side field_photo_max_px
        assert store.read(schema.DIARIES)["day"].tolist() == [server_day]  # the server's day, not the phone's
    finally:
        store.close()

    with page_opener(base, "test_field_leader_comments") as bp:
        page = bp.page
        page.set_viewport_size(PHONE)
        sign_in(page, base, "lead", "/field/diaries")
        card = page.locator("article[data-testid^=diary-w-a-]")
        expect(card.get_by_test_id("diary-body")).to_contain_text("<b>不是标签</b>")  # shown as text
        card.get_by_test_id("comment-text").fill("走访记录详细,继续保持")
        card.get_by_test_id("comment-submit").click()
        expect(card.get_by_test_id("diary-comments")).to_contain_text("lead: 走访记录详细,继续保持")
        card.get_by_test_id("review-submit").click()
        expect(card.get_by_test_id("diary-status")).to_contain_text("已审阅 (lead)")
