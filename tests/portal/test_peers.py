"""The child's side of ``serve --processes N`` without processes: Peers on a socket pair, the hub's relay,
rate-limit tokens from other processes."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from gridmap.auth.principal import Principal
from gridmap.errors import ValidationError
from gridmap.model import Role
from gridmap.portal.live import EventHub
from gridmap.portal.peers import Peers
from gridmap.portal.ratelimit import RateLimiter, Rule

ROOT = Principal("root", Role.ADMIN, "")
EVENT = {"type": "incident.created", "area_code": "410611001001002", "data": {"incident_id": "I-1"}}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _line(sock: socket.socket) -> dict:
    data = b""
    while not data.endswith(b"\n"):
        data += sock.recv(4096)
    return json.loads(data)


def test_peers_send_json_lines_and_apply_what_arrives() -> None:
    mine, supervisor = socket.socketpair()
    supervisor.settimeout(5)
    peers = Peers(mine, leader=False)
    got: list[dict] = []
    arrived = threading.Event()
    peers.on("revoke", lambda body: (got.append(dict(body)), arrived.set()))
    peers.start()
    try:
        assert peers.connected and not peers.leader
        peers.send("revoke", {"sid": "s-1", "until": 5.0})
        assert _line(supervisor) == {"kind": "revoke", "body": {"sid": "s-1", "until": 5.0}}
        supervisor.sendall(b'not json\n{"kind": "unknown", "body": {}}\n{"kind": "revoke", "body": {"sid": "s-2"}}\n')
        assert arrived.wait(5)  # a bad line and an unknown kind are skipped, the reader goes on
        assert got == [{"sid": "s-2"}]
    finally:
        peers.close()
        supervisor.close()
    peers.send("revoke", {"sid": "s-3"})  # after close: nothing sent, nothing raised


def test_a_peer_alone_sends_nothing() -> None:
    peers = Peers(None)
    assert not peers.connected and peers.leader
    peers.send("event", EVENT)  # no channel: a no-op
    peers.start()


def test_a_relayed_hub_delivers_only_what_comes_back_numbered() -> None:
    relayed: list[dict] = []
    hub = EventHub(max_subscribers=2, relay=relayed.append)
    seen: list[int] = []
    hub.observe(lambda event: seen.append(event.id))
    sub = hub.subscribe(ROOT)
    sent = hub.publish(EVENT)
    assert sent.id == 0 and sub.queue.empty()  # not delivered here before the supervisor numbered it
    assert relayed == [EVENT]
    delivered = hub.deliver(41, relayed[0])
    assert delivered.id == 41 and sub.queue.get_nowait() is delivered and seen == [41]
    with pytest.raises(ValidationError, match="dotted name"):
        hub.deliver(42, {"type": "bad type!", "data": {}})  # checked again on arrival


def test_tokens_taken_elsewhere_are_taken_here_but_never_below_zero() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"login": Rule("login", rate_per_s=1 / 60, burst=3)}, clock=clock)
    limiter.charge("login", "10.0.0.1")
    limiter.charge("login", "10.0.0.1")
    assert limiter.hit("login", "10.0.0.1") is None  # 3 - 2 = 1 left
    assert limiter.hit("login", "10.0.0.1") == pytest.approx(60.0)
    for _ in range(5):
        limiter.charge("login", "10.0.0.1")  # floor at 0: one refill later a token is there again
    clock.now += 60.0
    assert limiter.hit("login", "10.0.0.1") is None
    limiter.charge("unknown-rule", "10.0.0.1")  # a rule this process does not have: ignored
