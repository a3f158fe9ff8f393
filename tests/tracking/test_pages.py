"""Command pages through Flask's test client: roles, scope, escaping, registry table, worker card."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridmap.auth.accounts import add_account
from gridmap.config import Settings
from gridmap.portal.app import close_app, create_app
from gridmap.portal.i18n.tracking import CATALOGUES
from gridmap.store.base import Store

PASSWORD = "correct-horse-battery"


@pytest.fixture
def app(world_store: Store, settings: Settings) -> Iterator[Flask]:
    add_account(world_store, "centre", role="command", area_code="410611001001", password=PASSWORD)
    add_account(world_store, "planner", role="planner", area_code="410611001", password=PASSWORD)
    add_account(world_store, "worker", role="worker", area_code="410611001001001", password=PASSWORD)
    app = create_app(settings.replace(secret_key="pages-tests"), store=world_store)
    yield app
    close_app(app)


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data)
    assert token is not None
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": token.group(1).decode()})
    assert response.status_code in (302, 303), response.data[:300]
    return client


def test_command_page_for_the_centre_with_its_areas_and_config(app) -> None:
    client = signed_in(app, "centre")
    page = client.get("/command")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    config = json.loads(re.search(r'<script id="cm-config" type="application/json">(.*?)</script>', html,
                                  re.S).group(1))
    assert config["positions"] == "/api/v1/workers/positions" and config["stale_after_s"] == 600.0
    assert config["events"] == "/api/v1/events" and config["messages"]["state.stale"] == "位置过期"
    assert 'value="410611001001"' in html and 'value="410611001002"' not in html  # own area only
    assert "<img src=x" not in html  # grid B's hostile name is escaped wherever it appears


def test_roles_are_enforced_on_pages(app) -> None:
    assert app.test_client().get("/command").status_code in (302, 401)
    assert signed_in(app, "worker").get("/command").status_code == 403
    assert signed_in(app, "planner").get("/command").status_code == 403
    assert signed_in(app, "planner").get("/workers").status_code == 200


def test_registry_table_and_card(app) -> None:
    client = signed_in(app, "centre")
    html = client.get("/workers").get_data(as_text=True)
    assert re.findall(r'data-testid="worker-row" data-id="([^"]+)"', html) == ["w-a", "w-b"]
    assert "网格长" in html and "专职网格员" in html
    card = client.get("/workers/w-a").get_data(as_text=True)
    assert 'data-testid="card-partner">李四<' in card
    assert client.get("/workers/w-c").status_code == 404  # another community: as if missing
    assert client.get("/workers/w-a?lang=en").get_data(as_text=True).count("Full-time grid worker") == 1


def test_text_catalogues_have_the_same_keys_and_placeholders() -> None:
    zh, en = CATALOGUES["zh"], CATALOGUES["en"]
    assert set(zh) == set(en)
    for key in zh:
        assert set(re.findall(r"{(\w+)}", zh[key])) == set(re.findall(r"{(\w+)}", en[key])), key


def _walk_yesterday(app: Flask) -> str:
    """w-a: 40 one-minute fixes in grid A from 12:00 local time yesterday (through /osmand); returns the day."""
    from datetime import datetime, timedelta
    from urllib.parse import urlencode
    from zoneinfo import ZoneInfo

    from tests.tracking import world

    zone = ZoneInfo("Asia/Shanghai")
    day = (datetime.now(zone) - timedelta(days=1)).date()
    start = datetime(day.year, day.month, day.day, 12, 0, tzinfo=zone)
    client = app.test_client()
    for i in range(40):
        lon, lat = world.inside(world.A, 0.1 + 0.8 * i / 39, 0.5)
        at = (start + timedelta(minutes=i)).isoformat()
        assert client.get("/osmand?" + urlencode({"id": "dev-a", "lon": lon, "lat": lat, "timestamp": at})
                          ).status_code == 200
    return day.isoformat()


def test_patrol_page_api_and_csv(app, world_store) -> None:
    day = _walk_yesterday(app)
    client = signed_in(app, "centre")
    page = client.get(f"/patrol?date={day}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-testid="chart-own"' in html and 'data-role="target"' in html
    assert re.findall(r'data-testid="patrol-row" data-id="([^"]+)"', html) == ["w-a", "w-b"]
    body = client.get(f"/api/v1/patrol?date={day}").get_json()
    row = next(r for r in body["by_worker"] if r["worker_id"] == "w-a")
    assert row["own_h"] == round(39 / 60, 2) and row["r15_met"] is True and row["patrolled"] is True
    assert next(r for r in body["by_worker"] if r["worker_id"] == "w-b")["own_share"] is None  # null, not NaN
    csv = client.get(f"/api/v1/patrol?date={day}&format=csv&table=grid")
    assert csv.mimetype == "text/csv" and csv.data.startswith("\ufeff".encode())
    assert csv.get_data(as_text=True).splitlines()[0].lstrip("\ufeff").startswith("day,grid_code,grid_name")
    month = client.get(f"/patrol?period=month&date={day[:7]}").get_data(as_text=True)
    assert "统计天数" in month and re.search(r'data-id="w-a">.*?<td class="cm-num">1</td>', month, re.S)
    assert client.get("/api/v1/patrol?period=week").status_code == 400
    assert signed_in(app, "planner").get("/patrol").status_code == 403


def test_todays_alerts_are_listed_in_scope(app, world_store) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    import geopandas as gpd
    import shapely

    from gridmap import schema
    from tests.tracking import world

    now = datetime.now(UTC)
    rows = gpd.GeoDataFrame({
        "worker_id": ["w-a", "w-c"], "device_id": ["dev-a", "dev-c"], "grid_code": [world.A, world.C],
        "event": ["alert", "alert"], "at": [now, now], "day": [now.astimezone(ZoneInfo("Asia/Shanghai")).date()
                                                                .isoformat()] * 2,
        "own_grid": [True, True], "minutes_outside": [42.0, 55.0]},
        geometry=[shapely.Point(world.inside(world.B)), shapely.Point(world.inside(world.B))], crs=4326)
    with world_store.transaction() as tx:
        tx.insert(schema.GEOFENCE_EVENTS, rows)
    html = signed_in(app, "centre").get("/command").get_data(as_text=True)
    assert "张三 已离开本网格 42 分钟" in html
    assert "王五" not in html  # w-c serves another community


def test_worker_card_photo_is_a_browser_url_never_a_server_path(app, world_store) -> None:
    from gridmap import schema

    with world_store.transaction() as tx:
        tx.update(schema.WORKERS, {"worker_id": "w-a"}, {"photo": "zhang san.jpg"})
        tx.update(schema.WORKERS, {"worker_id": "w-b"}, {"photo": "/etc/passwd"})
    client = signed_in(app, "centre")
    card = client.get("/workers/w-a").get_data(as_text=True)
    found = re.search(r'<img class="cm-photo" src="([^"]+)"[^>]*data-testid="card-photo"', card)
    assert found is not None and found.group(1) == "/photos/zhang%20san.jpg"
    other = client.get("/workers/w-b").get_data(as_text=True)
    assert "/etc/passwd" not in other and "worker-placeholder.svg" in other
