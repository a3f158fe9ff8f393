"""Open311 GeoReport v2 through Flask's test client, on both stores: shapes, formats, auth, bad input."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from defusedxml import ElementTree as SafeET
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from gridmap import schema
from gridmap.auth.accounts import create_token
from gridmap.auth.principal import PUBLIC
from gridmap.config import Settings
from gridmap.incidents.categories import DEFAULT_CATEGORIES
from gridmap.portal.app import close_app, create_app
from gridmap.services.incidents import IncidentService
from gridmap.store.base import Store
from tests.incidents import sample

A1 = sample.INSIDE[sample.GRID_A1]


@pytest.fixture
def app(incident_store: Store, settings: Settings) -> Iterator[Flask]:
    app = create_app(settings.replace(allow_anonymous_reports=True, secret_key="t"), store=incident_store)
    yield app
    close_app(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def staff(incident_store: Store) -> dict[str, str]:
    """An Authorization header of a command-centre key for the whole district."""
    key = create_token(incident_store, role="command", area_code=sample.DISTRICT).api_key
    return {"Authorization": f"Bearer {key}"}


def report(client: FlaskClient, point: tuple[float, float] = A1, **extra: str) -> dict:
    resp = client.post("/open311/v2/requests.json", data={"service_code": "sanitation", "long": point[0],
                                                          "lat": point[1], **extra})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()[0]


def test_discovery_and_services_in_json_and_xml(client: FlaskClient) -> None:
    services = client.get("/open311/v2/services.json").get_json()
    assert [s["service_code"] for s in services] == [c.service_code for c in DEFAULT_CATEGORIES]
    fire = next(s for s in services if s["service_code"] == "fire")
    assert fire["service_name"] == "消防" and fire["type"] == "realtime" and fire["metadata"] is False
    assert client.get("/open311/v2/services.json?lang=en").get_json()[3]["service_name"] == "Sanitation"
    root = SafeET.fromstring(client.get("/open311/v2/services.xml").data)
    assert root.tag == "services" and len(root.findall("service")) == len(DEFAULT_CATEGORIES)
    assert root.find("service/metadata").text == "false"
    definition = SafeET.fromstring(client.get("/open311/v2/services/fire.xml").data)
    assert definition.tag == "service_definition" and definition.find("service_code").text == "fire"
    endpoints = client.get("/open311/v2/discovery.json").get_json()["endpoints"]
    assert endpoints[0]["url"].endswith("/open311/v2") and "text/xml" in endpoints[0]["formats"]
    missing = client.get("/open311/v2/services/nope.xml")
    assert missing.status_code == 400 and SafeET.fromstring(missing.data).find("error/code").text == "400"


def test_post_then_get_round_trip_with_hostile_text(client: FlaskClient, staff: dict[str, str]) -> None:
    posted = report(client, description=sample.HOSTILE, address_string="九州路<b>1</b>号")
    iid, token = posted["service_request_id"], posted["token"]
    public = client.get(f"/open311/v2/requests/{iid}.json").get_json()[0]  # GeoReport v2: GET is public...
    assert public["service_code"] == "sanitation" and "description" not in public  # ...but redacted
    assert client.get(f"/open311/v2/requests/{iid}.json?token={token}").status_code == 200  # the reporter
    got = client.get(f"/open311/v2/requests/{iid}.json", headers=staff).get_json()[0]
    assert (got["status"], got["service_code"], got["lat"], got["long"]) == ("open", "sanitation", A1[1], A1[0])
    assert got["description"] == sample.HOSTILE and got["extended_attributes"]["grid_code"] == sample.GRID_A1
    assert got["extended_attributes"]["status"] == "open" and got["requested_datetime"].endswith("+08:00")
    xml = client.get(f"/open311/v2/requests/{iid}.xml?token={token}")
    assert b"<script>" not in xml.data and b"&lt;script&gt;" in xml.data  # text, escaped in XML
    assert SafeET.fromstring(xml.data).find("request/description").text == sample.HOSTILE
    assert client.get(f"/open311/v2/tokens/{token}.json").get_json() == [{"service_request_id": iid,
                                                                          "token": token}]
    assert client.get("/open311/v2/tokens/wrong.json").status_code == 404


def test_json_and_xml_bodies_and_duplicates_in_the_answer(client: FlaskClient) -> None:
    first = report(client)
    body = {"service_code": "sanitation", "lat": A1[1], "long": A1[0] + 0.0003, "description": "又有垃圾"}
    resp = client.post("/open311/v2/requests.json", json=body)
    dup = resp.get_json()[0]["duplicates"]
    assert resp.status_code == 200 and [d["service_request_id"] for d in dup] == [first["service_request_id"]]
    assert 20 < dup[0]["distance_m"] < 35  # 0.0003° of longitude at 35.75°N is ~27 m
    xml_body = (f"<request><service_code>fire</service_code><lat>{A1[1]}</lat><long>{A1[0]}</long>"
                "<description>楼道堆物</description></request>").encode()
    resp = client.post("/open311/v2/requests.xml", data=xml_body, content_type="text/xml")
    root = SafeET.fromstring(resp.data)
    assert resp.status_code == 200 and root.find("request/service_request_id").text.startswith("SR")


def test_api_keys_scope_reports_to_their_area(client: FlaskClient, incident_store: Store, app: Flask) -> None:
    key = create_token(incident_store, role="worker", area_code=sample.GRID_A1).api_key
    ok = client.post("/open311/v2/requests.json", data={"service_code": "fire", "lat": A1[1], "long": A1[0]},
                     headers={"Authorization": f"Bearer {key}"})
    iid = ok.get_json()[0]["service_request_id"]
    assert incident_store.read(schema.INCIDENTS, where={"incident_id": iid})["reporter"].iloc[0].startswith("token:")
    b1 = sample.INSIDE[sample.GRID_B1]
    denied = client.post("/open311/v2/requests.json", data={"service_code": "fire", "lat": b1[1], "long": b1[0],
                                                            "api_key": key})
    assert denied.status_code == 403 and denied.get_json()[0]["code"] == 403
    bad = client.post("/open311/v2/requests.json", data={"service_code": "fire", "lat": A1[1], "long": A1[0],
                                                         "api_key": "gm_nope_nope"})
    assert bad.status_code == 401 and incident_store.count(schema.INCIDENTS) == 1
    closed = create_app(app.extensions["gridmap"].settings.replace(allow_anonymous_reports=False),
                        store=incident_store).test_client()
    anon = closed.post("/open311/v2/requests.xml", data={"service_code": "fire", "lat": A1[1], "long": A1[0]})
    assert anon.status_code == 401 and SafeET.fromstring(anon.data).tag == "errors"


BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
                  b"<request><service_code>&b;</service_code></request>")
GOOD = {"service_code": "sanitation", "lat": str(A1[1]), "long": str(A1[0])}
BAD_INPUTS = [
    ("missing service_code", {"lat": GOOD["lat"], "long": GOOD["long"]}, None),
    ("unknown service_code", {**GOOD, "service_code": "ufo"}, None),
    ("missing lat", {"service_code": "sanitation", "long": GOOD["long"]}, None),
    ("lat not a number", {**GOOD, "lat": "north"}, None),
    ("lat out of range", {**GOOD, "lat": "95"}, None),
    ("outside the service area", {**GOOD, "lat": str(sample.OUTSIDE[1]), "long": str(sample.OUTSIDE[0])}, None),
    ("oversized description", {**GOOD, "description": "长" * 4001}, None),
    ("script media_url", {**GOOD, "media_url": "javascript:alert(1)"}, None),
    ("oversized media_url", {**GOOD, "media_url": "https://x.cn/" + "a" * 3000}, None),
    ("NUL in text", {**GOOD, "description": "a\x00b"}, None),
    ("unknown crs", {**GOOD, "crs": "mars2000"}, None),
    ("malformed json", b'{"service_code": "sanitation", "lat": ', "application/json"),
    ("json not an object", b'["sanitation"]', "application/json"),
    ("malformed xml", b"<request><service_code>sanitation</request>", "text/xml"),
    ("xml entity expansion", BILLION_LAUGHS, "text/xml"),
    ("unsupported type", b"service_code=sanitation", "text/csv"),
    ("oversized body", b"x" * (70 * 1024), "application/json"),
]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_input_is_an_open311_error_list_and_stores_nothing(client: FlaskClient, incident_store: Store,
                                                              fmt: str) -> None:
    for label, body, content_type in BAD_INPUTS:
        if content_type is None:
            resp = client.post(f"/open311/v2/requests.{fmt}", data=body)
        else:
            resp = client.post(f"/open311/v2/requests.{fmt}", data=body, content_type=content_type)
        assert resp.status_code == 400, (label, resp.get_data(as_text=True))
        if fmt == "json":
            errors = resp.get_json()
            assert isinstance(errors, list) and errors[0]["code"] == 400 and errors[0]["description"], label
        else:
            root = SafeET.fromstring(resp.data)
            assert root.tag == "errors" and root.find("error/code").text == "400", label
    assert incident_store.count(schema.INCIDENTS) == 0 and incident_store.count(schema.INCIDENT_EVENTS) == 0


def test_get_requests_filters_and_default_window(incident_store: Store, client: FlaskClient,
                                                 settings: Settings, staff: dict[str, str]) -> None:
    now = datetime.now(UTC)
    made: dict[str, str] = {}
    for label, age_days, code in [("old", 120, "fire"), ("mid", 30, "fire"), ("new", 1, "sanitation")]:
        svc = IncidentService(incident_store, settings.replace(allow_anonymous_reports=True),
                              clock=lambda d=age_days: now - timedelta(days=d))
        made[label] = svc.report(PUBLIC, {"service_code": code, "lat": A1[1], "long": A1[0]}
                                 ).incident["incident_id"]

    def ids(query: str) -> list[str]:
        resp = client.get(f"/open311/v2/requests.json{query}", headers=staff)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return [r["service_request_id"] for r in resp.get_json()]

    assert ids("") == [made["new"], made["mid"]]  # newest first; 120 days is outside the default window
    start = (now - timedelta(days=200)).isoformat()
    assert ids(f"?start_date={start}") == [made["new"], made["mid"], made["old"]]
    assert ids(f"?start_date={start}&service_code=fire") == [made["mid"], made["old"]]
    assert ids("?status=closed") == [] and ids("?status=open") == [made["new"], made["mid"]]
    assert ids(f"?service_request_id={made['old']},{made['new']}&status=closed") == [made["new"], made["old"]]
    end = (now - timedelta(days=10)).isoformat().replace("+00:00", "Z")
    assert ids(f"?start_date={start}&end_date={end}") == [made["mid"], made["old"]]
    assert client.get("/open311/v2/requests.json?start_date=yesterday", headers=staff).status_code == 400
    assert client.get(f"/open311/v2/requests.json?start_date={end}&end_date={start}",
                      headers=staff).status_code == 400
    anonymous = client.get("/open311/v2/requests.json").get_json()  # public view: redacted, no description
    assert [r["service_request_id"] for r in anonymous] == [made["new"], made["mid"]]
    assert all("description" not in r and "address" not in r for r in anonymous)
    other = create_token(incident_store, role="worker", area_code=sample.COMM_B).api_key
    assert client.get(f"/open311/v2/requests.json?api_key={other}").get_json() == []  # scoped to its area


def test_updates_and_the_staff_action_api(client: FlaskClient, incident_store: Store) -> None:
    iid = report(client)["service_request_id"]
    worker = create_token(incident_store, role="worker", area_code=sample.COMM_A).api_key
    auth = {"Authorization": f"Bearer {worker}"}
    assert client.get(f"/api/v1/incidents/{iid}").status_code == 401  # the public sees Open311 only
    detail = client.get(f"/api/v1/incidents/{iid}", headers=auth).get_json()
    assert detail["actions"][:2] == ["open_case", "reject"] and detail["events"][0]["action"] == "report"
    done = client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "open_case", "version": 1},
                       headers=auth)
    assert done.status_code == 200 and done.get_json()["incident"]["extended_attributes"]["step"] == "case_opened"
    stale = client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "reject", "note": "重复",
                                                                  "version": 1}, headers=auth)
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "conflict"
    assert client.get("/open311/v2/servicerequestupdates.json").status_code == 401
    updates = client.get(f"/open311/v2/servicerequestupdates.json?service_request_id={iid}", headers=auth).get_json()
    assert [(u["update_id"], u["status"]) for u in updates] == [(f"{iid}-2", "investigating"), (f"{iid}-1", "open")]
    other = create_token(incident_store, role="worker", area_code=sample.GRID_B1).api_key
    outside = client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "comment", "note": "x"},
                          headers={"Authorization": f"Bearer {other}"})
    missing = client.post("/api/v1/incidents/SR0-NONE/actions", json={"action": "comment", "note": "x"},
                          headers={"Authorization": f"Bearer {other}"})
    assert outside.status_code == missing.status_code == 404  # no existence oracle across areas
    assert outside.get_json()["error"]["message"].replace(iid, "X") == missing.get_json()["error"][
        "message"].replace("SR0-NONE", "X")
    other_updates = client.get(f"/open311/v2/servicerequestupdates.json?service_request_id={iid}",
                               headers={"Authorization": f"Bearer {other}"})
    assert other_updates.get_json() == []


def test_reporter_token_verifies_and_evaluates(client: FlaskClient, incident_store: Store) -> None:
    posted = report(client)
    iid, token = posted["service_request_id"], posted["token"]
    cmd = {"Authorization": "Bearer " + create_token(incident_store, role="command",
                                                       area_code=sample.DISTRICT).api_key}
    for body in ({"action": "open_case"}, {"action": "assign", "assigned_to": "W1"}, {"action": "start"},
                 {"action": "handle", "note": "已清理"}):
        assert client.post(f"/api/v1/incidents/{iid}/actions", json=body, headers=cmd).status_code == 200
    assert client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "verify", "token": "wrong"}
                       ).status_code == 401
    seen = client.get(f"/api/v1/incidents/{iid}?token={token}").get_json()
    assert seen["actions"] == ["verify", "fail_verification"]
    assert client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "verify", "token": token}
                       ).status_code == 200
    assert client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "close"}, headers=cmd).status_code == 200
    final = client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "evaluate", "satisfaction": 5,
                                                                  "token": token})
    body = final.get_json()["incident"]
    assert (body["status"], body["extended_attributes"]["satisfaction"]) == ("closed", 5)
    assert json.dumps(body).find(token) == -1  # the token is never echoed by the API


def test_duplicates_endpoint_for_the_form(client: FlaskClient) -> None:
    first = report(client)["service_request_id"]
    resp = client.get(f"/api/v1/incidents/duplicates?service_code=sanitation&lat={A1[1]}&long={A1[0]}")
    body = resp.get_json()
    assert body["grid_code"] == sample.GRID_A1 and [d["service_request_id"] for d in body["duplicates"]] == [first]
    assert client.get("/api/v1/incidents/duplicates?service_code=sanitation&lat=1&long=1").status_code == 400


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def test_photo_uploads_checked_stored_and_served(incident_store: Store, settings: Settings, tmp_path: Path) -> None:
    media = tmp_path / "media"
    on = create_app(settings.replace(allow_anonymous_reports=True, secret_key="t",
                                     extra={"incidents": {"media_dir": str(media)}}), store=incident_store)
    client = on.test_client()
    form = {"service_code": "sanitation", "lat": str(A1[1]), "long": str(A1[0])}

    def post(data: bytes, name: str, app_client: FlaskClient = client) -> TestResponse:
        return app_client.post("/open311/v2/requests.json", data={**form, "media": (io.BytesIO(data), name)},
                               content_type="multipart/form-data")

    too_big = post(b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024), "big.jpg")
    not_image = post(b"<html><script>alert(1)</script></html>", "x.png")
    off = post(PNG, "a.png", create_app(settings.replace(allow_anonymous_reports=True, secret_key="t"),
                                        store=incident_store).test_client())
    assert [r.status_code for r in (too_big, not_image, off)] == [400, 400, 400]
    assert incident_store.count(schema.INCIDENTS) == 0 and not list(media.glob("*"))
    ok = post(PNG, "photo.png")
    assert ok.status_code == 200
    stored = incident_store.read(schema.INCIDENTS)["media_url"].iloc[0]
    name = stored.rsplit("/", 1)[1]
    assert stored.startswith("http") and name.endswith(".png") and (media / name).read_bytes() == PNG
    served = client.get(f"/open311/v2/media/{name}")
    assert served.status_code == 200 and served.data == PNG and served.mimetype == "image/png"
    assert client.get("/open311/v2/media/..%2Fsecret.png").status_code == 404
    close_app(on)


def test_every_staff_api_route_is_in_the_openapi_document(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    routes = {r.rule.replace("<", "{").replace(">", "}") for r in app.url_map.iter_rules()
              if r.endpoint.startswith("incidents_api.")}
    assert routes and routes <= set(doc["paths"])
