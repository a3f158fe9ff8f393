"""Open311 interoperability (issue 12): the ``georeport`` client from PyPI against a live portal.

``georeport`` (a third-party GeoReport v2 client built on ``requests``) lists services, lists
requests and reads one by id, in JSON and XML, without any api_key: GeoReport v2 makes GET
public. It has no call for POST, so reports are posted the way its README's spec describes, as a
form-encoded ``POST requests.json`` with ``requests`` (the library georeport itself uses).

Anonymous readers must get requests of public categories only, redacted: no description,
address, media or reporter fields, the location rounded to 3 decimals (~100 m).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from flask.testing import FlaskClient
from georeport import GeoReport

from gridmap.auth.accounts import create_token
from gridmap.config import Settings
from gridmap.incidents.categories import DEFAULT_CATEGORIES
from gridmap.incidents.open311_public import PUBLIC_KEYS
from gridmap.portal.app import close_app, create_app
from gridmap.portal.server import make_server, stop_server
from gridmap.store.base import Store
from tests.incidents import sample

LOOPBACK = "127.0.0.1"
#: A point inside grid A1 with more decimals than the public view shows.
EXACT = (114.25537, 35.75512)
REPORTER = {"email": "zhang.wei@example.cn", "first_name": "伟", "last_name": "张", "phone": "13800138000"}


@dataclass
class Portal:
    base: str
    store: Store

    @property
    def open311(self) -> str:
        return f"{self.base}/open311/v2"


@pytest.fixture
def portal(incident_store: Store, settings: Settings) -> Iterator[Portal]:
    configured = settings.replace(allow_anonymous_reports=True, secret_key="georeport")
    server, app = make_server(configured, host=LOOPBACK, port=0, workers=4, store=incident_store)
    thread = threading.Thread(target=server.run, name="open311-portal", daemon=True)
    thread.start()
    try:
        yield Portal(f"http://{LOOPBACK}:{server.effective_port}", incident_store)  # type: ignore[union-attr]
    finally:
        close_app(app)
        stop_server(server)
        thread.join(timeout=10)


def post(portal: Portal, service_code: str, **extra: str) -> dict:
    fields = {"service_code": service_code, "long": str(EXACT[0]), "lat": str(EXACT[1]),
              "description": f"{sample.HOSTILE} 楼道堆满杂物", "address_string": "九州路18号3单元",
              "media_url": "http://photos.example.cn/p/1.jpg", **REPORTER, **extra}  # fmt: skip
    resp = requests.post(f"{portal.open311}/requests.json", data=fields, timeout=10)
    assert resp.status_code == 200, resp.text
    body = resp.json()[0]
    assert body["service_request_id"] and body["token"]
    return body


def assert_redacted(item: dict) -> None:
    assert set(item) <= set(PUBLIC_KEYS), set(item) - set(PUBLIC_KEYS)
    text = repr(item)
    for secret in (sample.HOSTILE, "楼道堆满杂物", "九州路18号", "photos.example.cn", *REPORTER.values()):
        assert secret not in text, secret


def test_georeport_client_reads_services_and_public_requests_in_json(portal: Portal) -> None:
    client = GeoReport(portal.open311)
    services = client.get_service_list()
    assert [s["service_code"] for s in services] == [c.service_code for c in DEFAULT_CATEGORIES]
    assert client.get_service_definition("fire")["service_code"] == "fire"

    public = post(portal, "sanitation")
    hidden = post(portal, "dispute")  # 矛盾纠纷: names neighbours, never public
    one = client.get_service_request(public["service_request_id"])
    assert_redacted(one)
    assert (one["service_code"], one["status"], one["lat"], one["long"]) == ("sanitation", "open", 35.755, 114.255)
    assert one["extended_attributes"] == {"grid_name": "桃园社区第一网格", "community_name": "桃园社区"}
    assert one["requested_datetime"].endswith("+08:00") and one["updated_datetime"].endswith("+08:00")
    assert one["agency_responsible"] == "网格"

    listed = client.get_service_requests()
    assert [r["service_request_id"] for r in listed] == [public["service_request_id"]]
    for item in listed:
        assert_redacted(item)
    assert client.get_service_requests(service_code="dispute") == []
    with pytest.raises(requests.HTTPError) as missing:
        client.get_service_request(hidden["service_request_id"])
    assert missing.value.response.status_code == 404  # the same 404 as for an id that does not exist

    # staff keep today's full, area-scoped view (georeport sends no key on GET, so requests does)
    key = create_token(portal.store, role="command", area_code=sample.DISTRICT).api_key
    staff = requests.get(f"{portal.open311}/requests.json", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    full = {r["service_request_id"]: r for r in staff.json()}
    assert set(full) == {public["service_request_id"], hidden["service_request_id"]}
    assert full[public["service_request_id"]]["description"].startswith(sample.HOSTILE)
    assert (full[public["service_request_id"]]["lat"], full[public["service_request_id"]]["long"]) == (
        EXACT[1], EXACT[0])  # fmt: skip
    # the reporter still follows their own report in full with the token
    own = requests.get(f"{portal.open311}/requests/{hidden['service_request_id']}.json",
                       params={"token": hidden["token"]}, timeout=10).json()[0]  # fmt: skip
    assert own["service_code"] == "dispute" and own["description"].startswith(sample.HOSTILE)


def test_georeport_client_in_xml(portal: Portal) -> None:
    client = GeoReport(portal.open311, output_format="xml")
    services = client.get_service_list()
    assert len(services) == len(DEFAULT_CATEGORIES) and services[0]["service_code"] == "dispute"
    first = post(portal, "public_facilities")
    second = post(portal, "sanitation")
    post(portal, "special_groups")
    one = client.get_service_request(first["service_request_id"])  # xmltodict: every value is text
    assert (one["service_code"], one["lat"], one["long"]) == ("public_facilities", "35.755", "114.255")
    assert one["extended_attributes"]["grid_name"] == "桃园社区第一网格"
    assert_redacted(one)
    listed = client.get_service_requests()
    assert sorted(r["service_request_id"] for r in listed) == sorted(
        [first["service_request_id"], second["service_request_id"]])  # fmt: skip
    for item in listed:
        assert_redacted(item)


def test_bad_filters_are_open311_errors(portal: Portal) -> None:
    too_many = ",".join(f"I{i}" for i in range(1001))
    resp = requests.get(f"{portal.open311}/requests.json", params={"service_request_id": too_many}, timeout=10)
    assert resp.status_code == 400
    assert resp.json()[0]["code"] == 400 and "at most 1000" in resp.json()[0]["description"]
    resp = requests.get(f"{portal.open311}/requests.xml", params={"start_date": "yesterday"}, timeout=10)
    assert resp.status_code == 400 and b"<code>400</code>" in resp.content and b"start_date" in resp.content
    unknown = requests.get(f"{portal.open311}/requests.json", params={"service_code": "nope"}, timeout=10)
    assert unknown.status_code == 400 and "nope" in unknown.json()[0]["description"]


def test_the_public_view_can_be_switched_off(incident_store: Store, settings: Settings) -> None:
    app = create_app(settings.replace(allow_anonymous_reports=True, secret_key="t", open311_public_requests=False),
                     store=incident_store)  # fmt: skip
    try:
        client: FlaskClient = app.test_client()
        posted = client.post("/open311/v2/requests.json", data={"service_code": "sanitation", "long": EXACT[0],
                                                                "lat": EXACT[1]}).get_json()[0]  # fmt: skip
        assert client.get("/open311/v2/requests.json").status_code == 401
        assert client.get(f"/open311/v2/requests/{posted['service_request_id']}.json").status_code == 401
        assert client.get(f"/open311/v2/requests/{posted['service_request_id']}.json",
                          query_string={"token": posted["token"]}).status_code == 200  # fmt: skip
    finally:
        close_app(app)
