"""``gridmap serve --processes N``: N portal processes on one listening socket, and their supervisor.

Why processes: a Python process runs Python code on one core at a time (the GIL), so one waitress
process, however many threads it has, keeps one core busy and leaves the others to the database.
N processes (each with its own waitress threads and store connection pool) use N cores. Why not
gunicorn: waitress also serves the Windows desktops many district offices run on, and gunicorn
would still not carry the live event hub, the signed-out sessions and the rate limits across its
workers (gridmap.portal.peers does). Forking needs a Unix system; elsewhere N is 1.

The supervisor (the process that runs :func:`serve_processes`):

* binds the socket once, so every child listens on the same port (also for port 0), then forks the
  children; each inherits the listening socket and accepts from it (the kernel gives each new
  connection to one of them);
* relays messages between the children: it numbers live events and sends each to all children
  (the publisher too), passes revocations, cache drops and rate-limit tokens to the others, and
  keeps the revocations to hand to a child it starts again;
* starts a child again when one dies (a crash, the OOM killer) and gives up when children die
  faster than they start (``RESTART_LIMIT`` within ``RESTART_WINDOW_S``), so a broken store URL is
  an error and not a loop;
* on SIGTERM, SIGINT or Ctrl+C stops the children (SIGTERM, SIGKILL after ``STOP_TIMEOUT_S``);
  a child whose supervisor died (its channel closed) stops by itself, so none is left serving alone.

Child 0 is the leader: only it runs the background duties (the escalation sweep; publishing
positions a separate ``track-listen`` stored), so they run once per server, not once per process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import selectors
import signal
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, TextIO

from gridmap.config import Settings
from gridmap.errors import GridmapError, ValidationError
from gridmap.portal.peers import Peers

log = logging.getLogger("gridmap.portal")

#: Most processes one server may run (each holds a store pool and ``workers`` threads).
MAX_PROCESSES = 32
#: A child that dies this many times within RESTART_WINDOW_S seconds stops the whole server.
RESTART_LIMIT = 3
RESTART_WINDOW_S = 30.0
#: Seconds the children get to finish their requests after SIGTERM before they are killed.
STOP_TIMEOUT_S = 10.0
#: Bytes of messages a child may have waiting before further ones are dropped for it (it is stuck).
MAX_PENDING_BYTES = 8 << 20
#: How long a starting child waits for the supervisor's revocations before it accepts connections.
SEED_TIMEOUT_S = 10.0
#: Listen backlog of the shared socket (waitress's default).
BACKLOG = 1024


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket for ``host:port`` (port 0 picks a free one), or a ValidationError."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        raise ValidationError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; another program may be using the port:"
            " choose another with --port (0 picks a free one)", code="cannot_listen") from None
    return sock


@dataclass
class _Child:
    """One serving process as the supervisor sees it."""

    index: int
    pid: int
    channel: socket.socket
    started: float
    inbox: bytearray = field(default_factory=bytearray)
    outbox: bytearray = field(default_factory=bytearray)


class Supervisor:
    """Starts, relays for, restarts and stops the children of one server (see the module docstring)."""

    def __init__(self, settings: Settings, sock: socket.socket, *, processes: int, workers: int) -> None:
        self.settings = settings
        self.sock = sock
        self.processes = processes
        self.workers = workers
        self.children: dict[int, _Child] = {}  # by pid
        self._selector = selectors.DefaultSelector()
        self._event_ids = 0
        self._revoked: dict[str, float] = {}
        self._deaths: deque[float] = deque(maxlen=RESTART_LIMIT)
        self._stopping = False

    # -- children ------------------------------------------------------------------------------

    def start_child(self, index: int) -> _Child:
        """Fork child ``index``; it learns the revocations before it accepts a connection."""
        mine, theirs = socket.socketpair()
        seed = [{"kind": "revoke", "body": {"sid": sid, "until": until}} for sid, until in self._revoked.items()]
        seed.append({"kind": "seeded", "body": {}})
        pending = "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in seed).encode()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the supervisor's code
            code = 1
            try:
                mine.close()
                for other in self.children.values():
                    other.channel.close()
                self._selector.close()
                code = _run_child(self.settings, self.sock, theirs, index=index, workers=self.workers)
            except BaseException:  # whatever happens, the child must not run the supervisor's loop
                log.exception("portal process %d failed", index)
            finally:
                os._exit(code)
        theirs.close()
        mine.setblocking(False)
        child = _Child(index=index, pid=pid, channel=mine, started=time.monotonic(), outbox=bytearray(pending))
        self.children[pid] = child
        self._selector.register(mine, selectors.EVENT_READ | selectors.EVENT_WRITE, child)
        return child

    def _reap(self) -> None:
        """Collect children that ended; start each again unless the server is stopping or failing."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is None:
                continue
            self._drop_channel(child)
            if self._stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            log.error("portal process %d (pid %d) ended with %s; starting it again", child.index, pid,
                      f"signal {-code}" if code < 0 else f"exit code {code}")
            now = time.monotonic()
            self._deaths.append(now)
            if len(self._deaths) == RESTART_LIMIT and now - self._deaths[0] < RESTART_WINDOW_S:
                raise GridmapError(f"portal processes ended {RESTART_LIMIT} times within {RESTART_WINDOW_S:.0f} s;"
                                   " stopping the server (see the messages above)")
            self.start_child(child.index)

    def _drop_channel(self, child: _Child) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(child.channel)
        child.channel.close()

    # -- relay ---------------------------------------------------------------------------------

    def _receive(self, child: _Child) -> None:
        try:
            data = child.channel.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the child is ending; _reap starts it again
            self._drop_channel(child)
            return
        child.inbox += data
        while (end := child.inbox.find(b"\n")) >= 0:
            line = bytes(child.inbox[:end])
            del child.inbox[: end + 1]
            self._relay(child, line)

    def _relay(self, sender: _Child, line: bytes) -> None:
        try:
            message = json.loads(line)
            kind, body = str(message["kind"]), message["body"]
        except (ValueError, KeyError, TypeError):
            log.error("portal process %d sent a message that is not one: %r", sender.index, line[:200])
            return
        if kind == "event":
            self._event_ids += 1
            numbered = {"kind": "event", "body": {"id": self._event_ids, "event": body}}
            self._send(self.children.values(), numbered)
            return
        if kind == "revoke":
            now = time.time()
            self._revoked = {s: u for s, u in self._revoked.items() if u > now}
            self._revoked[str(body["sid"])] = float(body["until"])
        self._send([c for c in self.children.values() if c is not sender], message)

    def _send(self, children: Any, message: dict[str, Any]) -> None:
        line = (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        for child in children:
            if len(child.outbox) + len(line) > MAX_PENDING_BYTES:
                log.error("portal process %d is not reading its messages; one %s dropped", child.index,
                          message["kind"])
                continue
            child.outbox += line
            self._flush(child)

    def _flush(self, child: _Child) -> None:
        while child.outbox:
            try:
                sent = child.channel.send(child.outbox)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                child.outbox.clear()
                return
            del child.outbox[:sent]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if child.outbox else 0)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.modify(child.channel, events, child)

    # -- running -------------------------------------------------------------------------------

    def run(self, *, ready: threading.Event | None = None) -> None:
        """Start the children and relay until interrupted (KeyboardInterrupt, or SIGTERM made one)."""
        try:
            for index in range(self.processes):
                self.start_child(index)
            if ready is not None:
                ready.set()
            while True:
                for key, mask in self._selector.select(timeout=0.5):
                    child = key.data
                    if mask & selectors.EVENT_READ:
                        self._receive(child)
                    if mask & selectors.EVENT_WRITE and child.channel.fileno() >= 0:
                        self._flush(child)
                self._reap()
        finally:
            self.stop()

    def stop(self) -> None:
        """SIGTERM every child, wait up to STOP_TIMEOUT_S, SIGKILL what is left."""
        self._stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while self.children and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self._drop_channel(self.children.pop(pid))
        self._selector.close()
        self.sock.close()


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM (and in a child SIGINT) as KeyboardInterrupt, so the one Ctrl+C path stops cleanly."""
    raise KeyboardInterrupt


def _run_child(settings: Settings, sock: socket.socket, channel: socket.socket, *, index: int, workers: int) -> int:
    """The body of one serving process; returns its exit code (the caller exits with it)."""
    from gridmap.portal.app import close_app
    from gridmap.portal.server import make_server, stop_server

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    peers = Peers(channel, leader=index == 0, on_lost=lambda: os.kill(os.getpid(), signal.SIGTERM))
    seeded = threading.Event()
    peers.on("seeded", lambda body: seeded.set())
    own = settings if index == 0 else settings.replace(escalation_interval_s=0)  # background duties: leader only
    try:
        server, app = make_server(own, sockets=[sock], workers=workers, peers=peers)
    except Exception:  # the supervisor sees the exit code and the message on stderr
        log.exception("portal process %d could not start", index)
        return 3
    try:
        if not seeded.wait(SEED_TIMEOUT_S):
            log.error("portal process %d: no word from the supervisor; serving without its revocations", index)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        stop_server(server)
        close_app(app)
    return 0


def serve_processes(settings: Settings, *, host: str, port: int, workers: int, processes: int,
                    out: TextIO) -> None:
    """Serve the portal from ``processes`` processes until interrupted (see the module docstring)."""
    from gridmap.portal.live import streams_for_threads
    from gridmap.portal.server import url_for_host

    if not 2 <= processes <= MAX_PROCESSES:
        raise ValidationError(f"processes={processes}: several processes means 2..{MAX_PROCESSES}")
    if not hasattr(os, "fork"):
        raise ValidationError("--processes needs a Unix system (os.fork); on this one serve with --processes 1")
    if not settings.secret_key:  # one key for every child, or a session would not cross processes
        log.warning("settings.secret_key is empty: using a random key for this server only; sessions will not"
                    " survive a restart (set GRIDMAP_SECRET_KEY)")
        settings = settings.replace(secret_key=secrets.token_hex(32))
    sock = listening_socket(host, port)
    streams = streams_for_threads(workers, configured=settings.live_max_subscribers)
    print(f"gridmap portal: {url_for_host(host, sock.getsockname()[1])} (waitress, {processes} processes x"
          f" {workers} threads, up to {streams} live streams each)", file=out, flush=True)

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        Supervisor(settings, sock, processes=processes, workers=workers).run()
    except KeyboardInterrupt:
        log.info("portal stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)
