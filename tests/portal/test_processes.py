"""``gridmap serve --processes 2``: two real waitress processes on one port and their supervisor.

What it proves, each time with a request made to one process and the effect checked in the other:
a live event published in one process reaches a stream held by the other, numbered once for the
whole server (a reconnect to the other process with Last-Event-ID resumes exactly); a session
signed out in one process is refused by the other; rate-limit tokens taken in one process count in
the other; a killed process is started again and knows the sign-outs made before it started; the
server stops cleanly on SIGTERM. Which process answers is decided by stopping the other one
(SIGSTOP): a stopped process accepts no connection, so the running one takes it.
"""

from __future__ import annotations

import http.client
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import psutil
import pytest
from auth_sample import PASSWORD, read_until, seed_accounts
from portal_sample import populate_store

from gridmap.auth.accounts import create_token
from gridmap.config import Settings
from gridmap.store.factory import open_store

POINT_TY = (114.045, 35.76)  # inside grid 410611001001002 (桃园社区)
LOGINS_PER_MIN = 3


@dataclass
class Served:
    proc: subprocess.Popen[str]
    port: int
    key: str  # a command-centre API key for 桃园社区

    def children(self) -> list[psutil.Process]:
        return sorted(psutil.Process(self.proc.pid).children(), key=lambda p: p.create_time())


def call(port: int, method: str, path: str, *, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, dict[str, str], str]:
    """One request on a new connection (so the process that accepts it is the one running)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
    finally:
        conn.close()


@contextmanager
def only(served: Served, child: psutil.Process) -> Iterator[None]:
    """Let ``child`` alone accept connections: every other serving process is stopped meanwhile."""
    others = [c for c in served.children() if c.pid != child.pid]
    for other in others:
        other.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for other in others:
            other.send_signal(signal.SIGCONT)


def _wait_for_children(served: Served, count: int, *, not_pids: frozenset[int] = frozenset()) -> list[psutil.Process]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = served.children()
        if len(children) == count and not {c.pid for c in children} & not_pids:
            for child in children:  # each answers on its own
                with only(served, child):
                    status, _, _ = call(served.port, "GET", "/api/v1/health")
                    if status != 200:
                        break
            else:
                return children
        time.sleep(0.2)
    raise AssertionError(f"{count} serving processes did not come up: {served.children()}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    url = f"gpkg://{tmp_path / 'multi.gpkg'}"
    store = open_store(url, Settings(store_url=url, secret_key="multi"))
    populate_store(store)
    seed_accounts(store)
    key = create_token(store, role="command", area_code="410611001001", actor="test").api_key
    store.close()
    env = {"PATH": "/usr/bin:/bin", "GRIDMAP_SECRET_KEY": "multi", "GRIDMAP_LIVE_HEARTBEAT_S": "0.2",
           "GRIDMAP_RATE_LIMIT_LOGIN_PER_MIN": str(LOGINS_PER_MIN)}
    proc = subprocess.Popen(  # our own child; stopped below
        [sys.executable, "-m", "gridmap.cli.main", "serve", "--store", url, "--port", "0", "--workers", "4",
         "--processes", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        selector = selectors.DefaultSelector()
        assert proc.stdout is not None
        selector.register(proc.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=60), "gridmap serve printed nothing within 60 s"
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/ \(waitress, 2 processes x 4 threads", line)
        assert match, line
        served = Served(proc, int(match.group(1)), key)
        _wait_for_children(served, 2)
        yield served
    finally:
        children = psutil.Process(proc.pid).children() if proc.poll() is None else []
        if proc.poll() is None:
            proc.terminate()  # the supervisor stops its processes
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for left in psutil.wait_procs(children, timeout=20)[1]:
            left.kill()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _open_stream(served: Served, last_event_id: int | None = None) -> tuple[socket.socket, bytearray]:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=20)
    resume = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
    sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {served.key}\r\n{resume}\r\n"
                 .encode())
    buffer = bytearray()
    read_until(sock, b": connected", buffer)
    assert buffer.startswith(b"HTTP/1.1 200"), bytes(buffer)
    return sock, buffer


def _report(served: Served) -> str:
    status, _, body = call(served.port, "POST", "/open311/v2/requests.json", headers={
        "Authorization": f"Bearer {served.key}", "Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode({"service_code": "sanitation", "long": POINT_TY[0], "lat": POINT_TY[1],
                        "description": "垃圾"}).encode())
    assert status == 200, body
    found = re.search(r'"service_request_id":\s*"([^"]+)"', body)
    assert found, body
    return found.group(1)


def _events(buffer: bytearray) -> list[tuple[int, str]]:
    """(id, incident id) of every incident event in the stream so far."""
    text = bytes(buffer).decode()
    return [(int(m.group(1)), m.group(2)) for m in
            re.finditer(r'id: (\d+)\nevent: incident\.created\ndata: \{[^\n]*"incident_id":"([^"]+)"', text)]


def test_an_event_published_in_one_process_reaches_a_stream_in_the_other_numbered_once(served: Served) -> None:
    first, second = served.children()
    with only(served, first):
        sock, buffer = _open_stream(served)  # held by the first process
    try:
        with only(served, second):
            reported = _report(served)  # taken by the second
        read_until(sock, reported.encode(), buffer)
        read_until(sock, b"\n\n", buffer)
        with only(served, first):
            again = _report(served)  # the stream's own process: the same path through the supervisor
        read_until(sock, again.encode(), buffer)
        read_until(sock, b"\n\n", buffer)
        assert _events(buffer) == [(1, reported), (2, again)]
    finally:
        sock.close()
    with only(served, second):  # a reconnect to the other process resumes after event 1 exactly
        other, resumed = _open_stream(served, last_event_id=1)
    try:
        read_until(other, again.encode(), resumed)
        read_until(other, b"\n\n", resumed)
        assert _events(resumed) == [(2, again)]
    finally:
        other.close()


def _session_of_root(served: Served) -> tuple[str, str]:
    """Sign in as root; returns (cookie header, CSRF token of the signed-in session)."""
    status, headers, page = call(served.port, "GET", "/login")
    assert status == 200
    cookie = headers["set-cookie"].split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    status, headers, _ = call(served.port, "POST", "/login", headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode({"username": "root", "password": PASSWORD, "csrf_token": token.group(1)}).encode())
    assert status == 302, status
    cookie = headers["set-cookie"].split(";")[0]
    status, _, page = call(served.port, "GET", "/account", headers={"Cookie": cookie})
    assert status == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return cookie, token.group(1)


def _signed_in(served: Served, cookie: str) -> bool:
    status, _, _ = call(served.port, "GET", "/account", headers={"Cookie": cookie})
    assert status in (200, 302), status
    return status == 200


def test_a_session_signed_out_in_one_process_is_refused_by_the_other_and_by_a_restarted_one(served: Served) -> None:
    first, second = served.children()
    with only(served, first):
        cookie, token = _session_of_root(served)
    with only(served, second):
        assert _signed_in(served, cookie)  # the session is good in both processes
    with only(served, first):
        status, _, _ = call(served.port, "POST", "/logout", headers={
            "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
            body=urlencode({"csrf_token": token}).encode())
        assert status == 302
        assert not _signed_in(served, cookie)
    with only(served, second):
        assert not _signed_in(served, cookie)  # a copy of the signed-out cookie is refused there too
    second.kill()
    (restarted,) = [c for c in _wait_for_children(served, 2, not_pids=frozenset({second.pid})) if c.pid != first.pid]
    with only(served, restarted):
        assert not _signed_in(served, cookie)  # started after the sign-out, told by the supervisor


def _failed_login(served: Served) -> int:
    status, headers, page = call(served.port, "GET", "/login")
    assert status == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    status, _, _ = call(served.port, "POST", "/login", headers={
        "Cookie": headers["set-cookie"].split(";")[0], "Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode({"username": "root", "password": "wrong", "csrf_token": token.group(1)}).encode())
    return status


def test_login_attempts_count_across_processes(served: Served) -> None:
    first, second = served.children()
    with only(served, first):
        assert [_failed_login(served) for _ in range(LOGINS_PER_MIN)].count(429) == 0
    time.sleep(0.3)  # the supervisor passes the tokens on (well under a millisecond; margin for CI)
    with only(served, second):
        assert _failed_login(served) == 429  # the other process had not seen this client itself


def test_sigterm_stops_the_supervisor_and_every_process(served: Served) -> None:
    children = served.children()
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=30) == 0
    gone, alive = psutil.wait_procs(children, timeout=5)
    assert alive == [] and len(gone) == 2


def test_processes_stop_when_their_supervisor_is_killed(served: Served) -> None:
    children = served.children()
    served.proc.kill()  # SIGKILL: no chance to stop them itself
    served.proc.wait(timeout=10)
    gone, alive = psutil.wait_procs(children, timeout=20)
    assert alive == [] and len(gone) == 2
