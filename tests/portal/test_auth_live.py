"""Live updates: the scoped event hub, /api/v1/events through Flask, and a real stream under waitress."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from auth_sample import login, read_until, seed_accounts
from flask import Flask
from flask.testing import FlaskClient

from gridmap.auth.accounts import create_token
from gridmap.auth.principal import PUBLIC, Principal
from gridmap.config import Settings
from gridmap.errors import RateLimitedError, ValidationError
from gridmap.model import Role
from gridmap.portal import live
from gridmap.portal.app import close_app, create_app
from gridmap.portal.live import QUEUE_SIZE, EventHub, covers_event, publisher
from gridmap.portal.server import make_server, stop_server
from gridmap.store.base import Store

GRID_TY = "410611001001002"  # a grid of 桃园社区 (410611001001)
GRID_XY = "410611001002001"  # a grid of 杏园社区 (410611001002)
TY = Principal("cmd_ty", Role.COMMAND, "410611001001")
XY = Principal("cmd_xy", Role.COMMAND, "410611001002")
STREET = Principal("plan_jz", Role.PLANNER, "410611001")
ROOT = Principal("root", Role.ADMIN, "")


def event(code: str | None, n: int = 0, kind: str = "incident.created") -> dict:
    return {"type": kind, "area_code": code, "data": {"incident_id": f"I-{n}", "lon": 114.01, "lat": 35.75,
                                                      "category": "环境卫生<b>"}}


def drain(sub: live.Subscription) -> list[live.LiveEvent]:
    out = []
    while not sub.queue.empty():
        item = sub.queue.get_nowait()
        assert item is not None
        out.append(item)
    return out


# -- the hub ------------------------------------------------------------------------------------


def test_each_subscriber_receives_exactly_the_events_its_area_covers() -> None:
    hub = EventHub(max_subscribers=10)
    subs = {p.name: hub.subscribe(p) for p in (TY, XY, STREET, ROOT)}
    published = [hub.publish(event(GRID_TY, 1)), hub.publish(event(GRID_XY, 2)), hub.publish(event(None, 3)),
                 hub.publish(event("410611002001001", 4))]
    received = {name: [e.data["incident_id"] for e in drain(sub)] for name, sub in subs.items()}
    assert received == {"cmd_ty": ["I-1"], "cmd_xy": ["I-2"], "plan_jz": ["I-1", "I-2"],
                        "root": ["I-1", "I-2", "I-3", "I-4"]}
    # The rule is Principal.covers, event by event.
    for principal in (TY, XY, STREET, ROOT):
        expected = [e.data["incident_id"] for e in published if covers_event(principal, e)]
        assert expected == received[principal.name]
    assert not any(covers_event(PUBLIC, e) for e in published)


def test_events_are_checked_when_published() -> None:
    hub = EventHub(max_subscribers=1)
    with pytest.raises(ValidationError, match="dotted name"):
        hub.publish({"type": "bad type!", "area_code": GRID_TY})
    with pytest.raises(ValidationError, match="digits"):
        hub.publish({"type": "incident.created", "area_code": "4106-11"})
    with pytest.raises(ValidationError, match="not JSON-serialisable"):
        hub.publish({"type": "incident.created", "area_code": GRID_TY, "data": {"at": object()}})
    with pytest.raises(ValidationError, match="must be a mapping"):
        hub.publish({"type": "incident.created", "area_code": GRID_TY, "data": [1]})


def test_frames_follow_the_event_stream_format() -> None:
    hub = EventHub(max_subscribers=1)
    sent = hub.publish(event(GRID_TY, 7))
    assert sent.frame() == (f"id: {sent.id}\nevent: incident.created\n"
                            'data: {"incident_id":"I-7","lon":114.01,"lat":35.75,"category":"环境卫生<b>"}\n\n')


def test_a_slow_subscriber_loses_the_oldest_events_and_is_told() -> None:
    hub = EventHub(max_subscribers=1)
    sub = hub.subscribe(TY)
    for n in range(QUEUE_SIZE + 5):
        hub.publish(event(GRID_TY, n))
    frames = hub.stream(sub, heartbeat_s=0.01)
    assert next(frames).startswith("retry: ")
    assert next(frames) == 'event: gap\ndata: {"dropped": 5}\n\n'
    assert "I-5" in next(frames)  # the oldest kept
    rest = [next(frames) for _ in range(QUEUE_SIZE - 1)]
    assert f"I-{QUEUE_SIZE + 4}" in rest[-1]
    assert next(frames) == ": heartbeat\n\n"  # nothing left: the heartbeat follows
    frames.close()
    assert hub.subscriber_count == 0


def test_streams_end_after_their_maximum_duration() -> None:
    hub = EventHub(max_subscribers=1)
    sub = hub.subscribe(TY)
    ticks = iter([0.0, 1.0, 2.0, 61.0])  # start, then three checks of the time left
    frames = list(hub.stream(sub, heartbeat_s=0.001, max_duration_s=60.0, clock=lambda: next(ticks)))
    assert frames[0].startswith("retry: ") and frames[1:] == [": heartbeat\n\n", ": heartbeat\n\n"]
    assert hub.subscriber_count == 0


def test_the_number_of_streams_is_bounded() -> None:
    hub = EventHub(max_subscribers=2)
    first = hub.subscribe(TY)
    hub.subscribe(XY)
    with pytest.raises(RateLimitedError, match="2 live streams"):
        hub.subscribe(ROOT)
    hub.unsubscribe(first)
    hub.subscribe(ROOT)
    assert hub.subscriber_count == 2


def test_reconnecting_with_last_event_id_replays_missed_covered_events() -> None:
    hub = EventHub(max_subscribers=1)
    ids = [hub.publish(event(code, n)).id for n, code in enumerate((GRID_TY, GRID_XY, GRID_TY, GRID_TY))]
    sub = hub.subscribe(TY, last_event_id=ids[0])
    assert [e.id for e in drain(sub)] == [ids[2], ids[3]]


def test_close_ends_every_stream() -> None:
    hub = EventHub(max_subscribers=2)
    frames = hub.stream(hub.subscribe(TY), heartbeat_s=60.0)
    next(frames)
    hub.close()
    assert list(frames) == []
    assert hub.subscriber_count == 0


# -- through Flask ------------------------------------------------------------------------------


@pytest.fixture
def accounts_store(sample_store: Store) -> Store:
    seed_accounts(sample_store)
    return sample_store


@pytest.fixture
def app(portal_settings: Settings, accounts_store: Store) -> Iterator[Flask]:
    app = create_app(portal_settings.replace(live_heartbeat_s=0.05, live_max_subscribers=1), store=accounts_store)
    yield app
    close_app(app)


def test_the_public_cannot_subscribe(client: FlaskClient) -> None:
    response = client.get("/api/v1/events")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthenticated"


def test_a_signed_in_stream_gets_its_events_as_they_are_published(app: Flask, client: FlaskClient) -> None:
    login(client, "cmd_ty")
    response = client.get("/api/v1/events", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache" and "Content-Length" not in response.headers
    chunks = iter(response.response)
    assert next(chunks).decode().startswith("retry: 2000")
    with app.app_context():
        live.publish(event(GRID_XY, 1))  # another community: never sent
        live.publish(event(GRID_TY, 2))
    frame = next(chunks).decode()
    assert "event: incident.created" in frame and '"incident_id":"I-2"' in frame
    assert next(chunks).decode() == ": heartbeat\n\n"
    # A second stream is over the limit of 1: 429 with Retry-After, and the first is unaffected.
    other = app.test_client()
    login(other, "cmd_xy")
    refused = other.get("/api/v1/events")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "5"
    assert refused.get_json()["error"]["code"] == "too_many_streams"
    response.close()
    assert live.hub(app).subscriber_count == 0


def test_last_event_id_header_resumes_the_stream(app: Flask, client: FlaskClient) -> None:
    login(client, "cmd_ty")
    with app.app_context():
        first = live.publish(event(GRID_TY, 1))
        live.publish(event(GRID_TY, 2))
    response = client.get("/api/v1/events", headers={"Last-Event-ID": str(first.id)}, buffered=False)
    chunks = iter(response.response)
    next(chunks)
    assert '"incident_id":"I-2"' in next(chunks).decode()
    response.close()
    assert client.get("/api/v1/events", headers={"Last-Event-ID": "x1"}).status_code == 400


# -- under waitress -----------------------------------------------------------------------------


def test_events_stream_through_waitress(portal_settings: Settings, accounts_store: Store) -> None:
    settings = portal_settings.replace(live_heartbeat_s=0.2)
    server, app = make_server(settings, port=0, workers=2, store=accounts_store)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        key = create_token(accounts_store, role="command", area_code="410611001001", actor="test").api_key
        sock = socket.create_connection(("127.0.0.1", server.effective_port), timeout=10)
        sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
        buffer = bytearray()
        head = read_until(sock, b": connected", buffer)
        assert head.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in head
        assert live.hub(app).wait_for_subscribers(1, timeout_s=5)
        publish = publisher(app)  # from this thread: no app context needed
        publish(event(GRID_XY, 1))
        publish(event(GRID_TY, 2))
        text = read_until(sock, b"event: incident.created", buffer).decode()
        read_until(sock, b"\n\n", buffer)
        assert '"incident_id":"I-2"' in bytes(buffer).decode() and "I-1" not in bytes(buffer).decode()
        assert text.count("event: incident.created") == 1
        buffer.clear()
        read_until(sock, b": heartbeat", buffer)  # idle stream keeps talking
        sock.close()
        # The server notices the closed client at its next heartbeat and frees the thread.
        assert live.hub(app).wait_for_subscribers(0, timeout_s=5)
    finally:
        stop_server(server)
        thread.join(timeout=10)
        close_app(app)


def test_a_closed_page_frees_its_stream_long_before_the_next_heartbeat(
    portal_settings: Settings, accounts_store: Store
) -> None:
    settings = portal_settings.replace(live_heartbeat_s=60.0, live_max_subscribers=1)
    server, app = make_server(settings, port=0, workers=3, store=accounts_store)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        key = create_token(accounts_store, role="command", area_code="410611001001", actor="test").api_key
        request = f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
        for _ in range(2):  # the only slot is taken, freed, and taken again
            sock = socket.create_connection(("127.0.0.1", server.effective_port), timeout=10)
            sock.sendall(request)
            assert read_until(sock, b": connected", bytearray()).startswith(b"HTTP/1.1 200")
            assert live.hub(app).wait_for_subscribers(1, timeout_s=5)
            sock.close()
            # 60 s until the next heartbeat: only the disconnect check can free the slot this soon
            assert live.hub(app).wait_for_subscribers(0, timeout_s=5)
    finally:
        stop_server(server)
        thread.join(timeout=10)
        close_app(app)


def test_a_stream_whose_client_left_ends_without_waiting_for_events() -> None:
    hub = EventHub(max_subscribers=1)
    answers = iter([False, False, True])
    frames = hub.stream(hub.subscribe(TY), heartbeat_s=60.0, client_gone=lambda: next(answers))
    assert next(frames).startswith("retry: ")
    assert list(frames) == [] and hub.subscriber_count == 0  # ended after the third check, ~2 s


# -- incidents publish ------------------------------------------------------------------------------


def test_reports_and_moves_reach_only_the_streams_covering_them(app: Flask, accounts_store: Store) -> None:
    hub = live.hub(app)
    hub.max_subscribers = 3
    ty, xy, street = hub.subscribe(TY), hub.subscribe(XY), hub.subscribe(STREET)
    key = create_token(accounts_store, role="command", area_code="410611001001", actor="test").api_key
    headers = {"Authorization": f"Bearer {key}"}
    client = app.test_client()
    point = (114.045, 35.76)  # inside grid 410611001001002 (桃园社区)
    response = client.post("/open311/v2/requests.json", headers=headers, data={
        "service_code": "sanitation", "long": point[0], "lat": point[1], "description": "<b>垃圾</b>"})
    assert response.status_code == 200, response.get_data(as_text=True)
    incident_id = response.get_json()[0]["service_request_id"]
    created = drain(ty)
    assert [(e.type, e.area_code, e.data["incident_id"]) for e in created] == [
        ("incident.created", GRID_TY, incident_id)]
    data = created[0].data
    assert (data["lon"], data["lat"], data["status"]) == (point[0], point[1], "reported")
    assert data["category_names"] == {"zh": "环境卫生", "en": "Sanitation"}
    assert "description" not in data and "token" not in data and "reporter" not in data
    assert drain(xy) == [] and [e.data["incident_id"] for e in drain(street)] == [incident_id]
    moved = client.post(f"/api/v1/incidents/{incident_id}/actions", headers=headers,
                        json={"action": "open_case", "version": 1})
    assert moved.status_code == 200, moved.get_data(as_text=True)
    updated = drain(ty)
    assert [(e.type, e.data["status"]) for e in updated] == [("incident.updated", "case_opened")]
    assert updated[0].data["status_names"] == {"zh": "已立案", "en": "Case opened"}
    assert drain(xy) == []
