"""The field API through the portal on both stores: check-ins, visits, logs, coverage, photos, scope."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridmap import schema
from gridmap.auth.accounts import add_account
from gridmap.config import Settings
from gridmap.portal.app import close_app, create_app
from gridmap.store.base import Store
from tests.field.conftest import A, B, jpeg
from tests.tracking import world

CSRF = "field-tests-csrf"
M_PER_DEG_LAT = 110_950.0
ACCOUNTS = [("w-a", "worker", A), ("w-b", "worker", B), ("lead", "command", "410611001001"),
            ("lead2", "command", "410611001002")]


@pytest.fixture
def app(field_store: Store, field_settings: Settings) -> Iterator[Flask]:
    for name, role, area in ACCOUNTS:
        add_account(field_store, name, role=role, area_code=area, password="a-long-password-1")
    app = create_app(field_settings.replace(secret_key="field-tests"), store=field_store)
    yield app
    close_app(app)


def client_as(app: Flask, username: str | None) -> FlaskClient:
    client = app.test_client()
    if username:
        with client.session_transaction() as s:
            s.update({"uid": username, "sid": uuid.uuid4().hex, "auth_at": time.time(), "csrf": CSRF})
    return client


def post_entry(client: FlaskClient, url: str, data: dict[str, Any], photos: list[tuple[str, bytes]]) -> Any:
    import io

    form: dict[str, Any] = {"data": json.dumps(data)}
    form["photo"] = [(io.BytesIO(b), name) for name, b in photos]
    return client.post(url, data=form, content_type="multipart/form-data", headers={"X-CSRF-Token": CSRF})


def checkin_data(metres_north: float = 0.0, point: str = "p-a1", code: str = A) -> dict[str, Any]:
    lon, lat = world.inside(code)
    return {"id": str(uuid.uuid4()), "point_id": point, "lon": lon, "lat": lat + metres_north / M_PER_DEG_LAT,
            "accuracy": 6.5}


def test_checkin_is_stored_once_and_its_photo_served_only_in_scope(app: Flask, field_store: Store) -> None:
    worker = client_as(app, "w-a")
    data = checkin_data(10)
    first = post_entry(worker, "/api/v1/field/checkins", data, [("p.jpg", jpeg())])
    assert first.status_code == 201, first.json
    entry = first.json["entry"]
    assert entry["distance_m"] == pytest.approx(10, abs=0.3) and entry["accuracy_m"] == 6.5
    again = post_entry(worker, "/api/v1/field/checkins", data, [("p.jpg", jpeg())])
    assert again.status_code == 200 and again.json["replayed"] is True and again.json["entry"] == entry
    assert field_store.count(schema.CHECKINS) == 1
    url = entry["photos"][0]["url"]
    assert worker.get(url).status_code == 200 and worker.get(url).mimetype == "image/jpeg"
    assert client_as(app, "lead").get(url).status_code == 200
    assert client_as(app, "lead2").get(url).status_code == 404  # another community
    assert client_as(app, "w-b").get(url).status_code == 404
    assert client_as(app, None).get(url).status_code == 401


def test_checkin_too_far_is_a_json_400_naming_the_metres(app: Flask, field_store: Store) -> None:
    response = post_entry(client_as(app, "w-a"), "/api/v1/field/checkins", checkin_data(-500),
                          [("p.jpg", jpeg())])
    assert response.status_code == 400 and response.json["ok"] is False
    error = response.json["error"]
    assert error["code"] == "too_far" and "you are 500 m from inspection point" in error["message"]
    assert field_store.count(schema.CHECKINS) == 0


def test_bad_and_oversize_photos_are_clear_400s(app: Flask, field_store: Store, field_settings: Settings) -> None:
    worker = client_as(app, "w-a")
    bad = post_entry(worker, "/api/v1/field/checkins", checkin_data(), [("x.jpg", b"<html>not a photo</html>")])
    assert bad.status_code == 400 and bad.json["error"]["code"] == "photo_invalid"
    assert "'x.jpg' is not a readable image" in bad.json["error"]["message"]
    big = b"\xff\xd8\xff" + bytes(field_settings.field_photo_max_bytes)
    large = post_entry(worker, "/api/v1/field/checkins", checkin_data(), [("big.jpg", big)])
    assert large.status_code == 400 and large.json["error"]["code"] == "photo_too_large"
    none = post_entry(worker, "/api/v1/field/checkins", checkin_data(), [])
    assert none.status_code == 400 and none.json["error"]["code"] == "photo_required"


def test_every_route_needs_an_account_and_csrf(app: Flask) -> None:
    public = client_as(app, None)
    for path in ("/api/v1/field/today", "/api/v1/field/points", "/api/v1/field/checkins", "/api/v1/field/visits",
                 "/api/v1/field/diaries", "/api/v1/field/coverage", "/api/v1/field/diaries/w-a/2026-05-01"):
        assert public.get(path).status_code == 401, path
    assert public.post("/api/v1/field/checkins", json={}).status_code == 401
    worker = client_as(app, "w-a")
    no_token = worker.post("/api/v1/field/checkins", json=checkin_data())
    assert no_token.status_code == 403 and no_token.json["error"]["code"] == "csrf_failed"
    assert worker.get("/api/v1/field/coverage").status_code == 403  # workers do not read the area's coverage


def test_visit_with_incident_then_log_reviewed_and_commented(app: Flask, field_store: Store) -> None:
    worker = client_as(app, "w-a")
    visit = {"id": str(uuid.uuid4()), "building_id": "b0", "household": "1-101", "purpose": "独居老人探访",
             "outcome": "楼道堆物", "follow_up": "下周复查", "follow_up_on": "2026-01-01",
             "incident": {"category": "fire", "description": "楼道堆放杂物,堵塞消防通道"}}
    response = post_entry(worker, "/api/v1/field/visits", visit, [])
    assert response.status_code == 201, response.json
    stored = response.json["entry"]
    assert stored["grid_code"] == A and stored["incident_id"]
    incident = field_store.read(schema.INCIDENTS, where={"incident_id": stored["incident_id"]})
    assert incident["grid_code"].iloc[0] == A and incident["reporter"].iloc[0] == "w-a"
    replay = post_entry(worker, "/api/v1/field/visits", visit, [])
    assert replay.status_code == 200 and field_store.count(schema.INCIDENTS) == 1
    assert worker.get("/api/v1/field/today").json["visits_planned"][0]["building_id"] == "b0"
    other_grid = post_entry(client_as(app, "w-b"), "/api/v1/field/visits", {**visit, "id": str(uuid.uuid4())}, [])
    assert other_grid.status_code == 404  # b0 lies in grid A

    today = worker.get("/api/v1/field/today").json["day"]
    log = {"text": "走访 1-101,发现楼道堆物已上报。", "tags": ["走访", "消防"], "visit_ids": [visit["id"]],
           "incident_ids": [stored["incident_id"]]}
    headers = {"X-CSRF-Token": CSRF}
    put = worker.put(f"/api/v1/field/diaries/w-a/{today}", json=log, headers=headers)
    assert put.status_code == 200 and put.json["diary"]["version"] == 1
    other_worker = worker.put(f"/api/v1/field/diaries/w-b/{today}", json=log, headers=headers)
    assert other_worker.status_code == 403 and other_worker.json["error"]["code"] == "not_your_diary"
    other_day = worker.put("/api/v1/field/diaries/w-a/2020-01-01", json=log, headers=headers)
    assert other_day.status_code == 400 and f"today is {today}, not 2020-01-01" in other_day.json["error"]["message"]
    assert client_as(app, "w-b").get(f"/api/v1/field/diaries/w-a/{today}").status_code == 403
    assert client_as(app, "lead2").get(f"/api/v1/field/diaries/w-a/{today}").status_code == 404
    worker_comment = worker.post(f"/api/v1/field/diaries/w-a/{today}/comments", json={"text": "x"}, headers=headers)
    assert worker_comment.status_code == 403
    leader = client_as(app, "lead")
    commented = leader.post(f"/api/v1/field/diaries/w-a/{today}/comments", json={"text": "处置及时"},
                            headers=headers)
    assert commented.status_code == 201 and commented.json["diary"]["comments"][0]["text"] == "处置及时"
    reviewed = leader.post(f"/api/v1/field/diaries/w-a/{today}/review", headers=headers)
    assert reviewed.json["diary"]["reviewed_by"] == "lead"
    locked = worker.put(f"/api/v1/field/diaries/w-a/{today}", json=log, headers=headers)
    assert locked.status_code == 409 and locked.json["error"]["code"] == "diary_reviewed"
    actions = set(field_store.read(schema.AUDIT_LOG)["action"])
    assert {"field.visit", "field.diary.write", "field.diary.comment", "field.diary.review"} <= actions

    coverage = leader.get(f"/api/v1/field/coverage?month={today[:7]}").json
    by_grid = {r["grid_code"]: r for r in coverage["visits"]}
    assert by_grid[A]["buildings"] == 6 and by_grid[A]["visited"] == 1
    assert by_grid[A]["visit_share"] == pytest.approx(1 / 6, abs=1e-4)
    scores = {r["worker_id"]: r for r in coverage["assessment"]}
    assert scores["w-a"]["diary_days"] == 1 and scores["w-a"]["visits"] == 1 and scores["w-a"]["points"] == 2


def test_pages_manifest_service_worker_and_patrol_coverage(app: Flask) -> None:
    worker = client_as(app, "w-a")
    page = worker.get("/field")
    assert page.status_code == 200 and b'rel="manifest"' in page.data and b"field/field.js" in page.data
    assert client_as(app, "lead").get("/field").status_code == 403
    manifest = worker.get("/field/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json" and manifest.json["start_url"] == "/field"
    icons = [i["src"] for i in manifest.json["icons"]]
    assert all(worker.get(src).status_code == 200 for src in icons)
    assert worker.get("/field/sw.js").mimetype == "text/javascript"
    visit = {"id": str(uuid.uuid4()), "building_id": "b1", "purpose": "走访", "outcome": "正常"}
    assert post_entry(worker, "/api/v1/field/visits", visit, []).status_code == 201
    month = worker.get("/api/v1/field/today").json["day"][:7]
    patrol = client_as(app, "lead").get(f"/patrol?period=month&date={month}")
    assert patrol.status_code == 200
    html = patrol.data.decode()
    assert 'data-testid="visit-coverage-row" data-id="410611001001001"' in html and "17%" in html
    assert 'data-testid="field-assessment-row" data-id="w-a"' in html
    assert world.HOSTILE not in html  # grid B's hostile name is escaped
    diaries = client_as(app, "lead").get("/field/diaries")
    assert diaries.status_code == 200 and b"diaries-none" in diaries.data
    assert worker.get("/field/diaries").status_code == 403
