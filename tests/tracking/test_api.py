"""The portal's tracking endpoints: /osmand, positions GeoJSON with states, tracks, registry, stats, scope."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridmap import schema
from gridmap.auth.accounts import create_token
from gridmap.config import Settings
from gridmap.portal.app import close_app, create_app
from gridmap.store.base import Store
from tests.tracking import world


@pytest.fixture
def app(world_store: Store, settings: Settings) -> Iterator[Flask]:
    app = create_app(settings.replace(secret_key="tracking-tests"), store=world_store)
    yield app
    close_app(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def token(store: Store, role: str, area: str) -> dict[str, str]:
    issued = create_token(store, role=role, area_code=area, label="test")
    return {"Authorization": f"Bearer {issued.api_key}"}


def fix(client: FlaskClient, device: str, code: str, minutes_ago: float, **extra: object):
    lon, lat = world.inside(code)
    at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()
    return client.get("/osmand?" + urlencode({"id": device, "lon": lon, "lat": lat, "timestamp": at, **extra}))


def test_osmand_stores_and_answers_like_traccar(client, world_store) -> None:
    response = fix(client, "dev-a", world.A, 1)
    assert response.status_code == 200 and response.data == b""
    posted = client.post("/osmand", data={"id": "dev-b", "lat": world.inside(world.B)[1],
                                          "lon": world.inside(world.B)[0]})
    assert posted.status_code == 200  # no CSRF token: devices have none
    assert world_store.count(schema.POSITIONS) == 2
    bad = client.get("/osmand?id=dev-a&lat=100&lon=114.3")
    assert bad.status_code == 400 and bad.mimetype == "text/plain" and b"out of range" in bad.data
    unknown = fix(client, "ghost", world.A, 1)
    assert unknown.status_code == 404 and b"ghost" in unknown.data


def test_positions_have_state_and_follow_the_callers_area(client, world_store) -> None:
    fix(client, "dev-a", world.A, 1)  # in own grid
    fix(client, "dev-b", world.A, 2)  # w-b's grid is B: outside
    fix(client, "dev-c", world.D, 30)  # extra grid of w-c, but 30 minutes old: stale
    admin = token(world_store, "admin", "")
    body = client.get("/api/v1/workers/positions", headers=admin).get_json()
    states = {f["properties"]["worker_id"]: f["properties"]["state"] for f in body["features"]}
    assert states == {"w-a": "inside", "w-b": "outside", "w-c": "stale"}
    grid_of = {f["properties"]["worker_id"]: f["properties"]["grid_code"] for f in body["features"]}
    assert grid_of == {"w-a": world.A, "w-b": world.A, "w-c": world.D}
    one = next(f for f in body["features"] if f["properties"]["worker_id"] == "w-a")
    assert one["geometry"]["coordinates"] == pytest.approx(list(world.inside(world.A)))
    community = token(world_store, "command", "410611001001")
    scoped = client.get("/api/v1/workers/positions", headers=community).get_json()
    assert sorted(f["properties"]["worker_id"] for f in scoped["features"]) == ["w-a", "w-b"]
    narrowed = client.get("/api/v1/workers/positions?area=410611001002", headers=admin).get_json()
    assert [f["properties"]["worker_id"] for f in narrowed["features"]] == ["w-c"]


def test_positions_are_not_public_and_not_for_planners(client, world_store) -> None:
    fix(client, "dev-a", world.A, 1)
    assert client.get("/api/v1/workers/positions").status_code == 401
    planner = token(world_store, "planner", "410611001")
    assert client.get("/api/v1/workers/positions", headers=planner).status_code == 403
    assert client.get("/api/v1/tracking/stats").status_code == 401
    assert client.get("/api/v1/workers/w-a/track").status_code == 401


def test_track_and_the_same_404_for_elsewhere_and_missing(client, world_store) -> None:
    for minutes, code in [(10, world.A), (5, world.B), (1, world.A)]:
        fix(client, "dev-a", code, minutes)
    community = token(world_store, "command", "410611001001")
    body = client.get("/api/v1/workers/w-a/track", headers=community).get_json()
    assert body["geometry"]["type"] == "LineString" and len(body["geometry"]["coordinates"]) == 3
    assert body["properties"]["grid_codes"] == [world.A, world.B, world.A]
    elsewhere = client.get("/api/v1/workers/w-c/track", headers=community)
    missing = client.get("/api/v1/workers/nobody/track", headers=community)
    assert elsewhere.status_code == missing.status_code == 404
    assert elsewhere.get_json()["error"]["code"] == missing.get_json()["error"]["code"]
    assert client.get("/api/v1/workers/w-a/track?day=06-05-2024", headers=community).status_code == 400


def test_registry_and_stats(client, world_store) -> None:
    fix(client, "ghost", world.A, 1)
    fix(client, "dev-a", world.A, 1)
    command = token(world_store, "command", "410611001")
    listing = client.get("/api/v1/workers?area=410611001001", headers=command).get_json()
    assert [w["worker_id"] for w in listing["workers"]] == ["w-a", "w-b"]
    one = client.get("/api/v1/workers/w-c", headers=command).get_json()["worker"]
    assert one["own_grids"] == [world.C, world.D] and one["partner_name"] is None
    stats = client.get("/api/v1/tracking/stats", headers=command).get_json()["stats"]
    assert stats["unknown_device"] == 1 and stats["unknown_devices"] == {"ghost": 1}
    assert stats["stored"] == 1 and stats["positions_today"] >= 1
    assert client.get("/api/v1/workers?area=41x", headers=command).status_code == 400
