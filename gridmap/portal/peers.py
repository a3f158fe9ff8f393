"""What the processes of one ``gridmap serve --processes N`` tell each other (the child's side).

Why: a portal process keeps some state in memory that must hold for the whole server, not for one
process: the live event hub (a report taken by process 1 must reach the command screen streaming
from process 2), the signed-out sessions (a cookie signed out in one process must be refused by
all), the account cache (a disabled account stops at once everywhere) and the rate-limit buckets
(a client must not get N times its rate by opening N connections). Each process sends what
changed to the supervisor (:mod:`gridmap.portal.prefork`), which passes it on; the receiving
process applies it to its own copy. Live events make a round trip through the supervisor even for
the process that published them, because the supervisor numbers them: every process then holds
the same events under the same ids, so a browser that reconnects with ``Last-Event-ID`` to
another process gets exactly what it missed.

Messages are JSON lines ``{"kind": ..., "body": ...}`` on a Unix socket pair. Sending never raises
into a request: a lost supervisor is logged (the process then serves on alone). A portal serving
in one process has ``Peers(None)``: nothing is sent and the hub numbers its own events.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger("gridmap.portal")

#: ``app.extensions`` key of the app's :class:`Peers`.
PEERS_KEY = "gridmap.peers"
#: Longest message line accepted from the supervisor, bytes (an event's data is a few hundred).
MAX_LINE_BYTES = 1 << 20

Handler = Callable[[Mapping[str, Any]], object]


class Peers:
    """The channel of one serving process to the supervisor, and the handlers of what arrives.

    ``leader`` is true for the one process that also runs the server's background duties
    (escalation sweeps, publishing positions stored by other processes).
    """

    def __init__(self, channel: socket.socket | None, *, leader: bool = True,
                 on_lost: Callable[[], object] | None = None) -> None:
        self._channel = channel
        self.leader = leader
        self._on_lost = on_lost  # called when the supervisor closes the channel (it ended)
        self._handlers: dict[str, Handler] = {}
        self._send_lock = threading.Lock()
        self._reader: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        """True when this process is one of several (there is a supervisor to tell)."""
        return self._channel is not None

    def on(self, kind: str, handler: Handler) -> None:
        """Call ``handler(body)`` for every message of ``kind`` from the other processes."""
        self._handlers[kind] = handler

    def send(self, kind: str, body: Mapping[str, Any]) -> None:
        """Tell the other processes (best effort, never raises; nothing happens when serving alone)."""
        channel = self._channel
        if channel is None:
            return
        line = json.dumps({"kind": kind, "body": body}, ensure_ascii=False, separators=(",", ":")) + "\n"
        try:
            with self._send_lock:
                channel.sendall(line.encode("utf-8"))
        except OSError as exc:
            log.error("cannot reach the serve supervisor (%s): this process no longer shares %s", exc, kind)

    def start(self) -> None:
        """Read messages in a daemon thread until the channel closes."""
        if self._channel is None or self._reader is not None:
            return
        self._reader = threading.Thread(target=self._read, name="gridmap-peers", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._channel is not None
        with self._channel.makefile("rb") as stream:
            for raw in stream:
                if len(raw) > MAX_LINE_BYTES:
                    log.error("message from the serve supervisor too long (%d bytes): dropped", len(raw))
                    continue
                self.dispatch(raw)
        if self._channel is not None and self._on_lost is not None:  # not closed by us: the supervisor is gone
            log.error("the serve supervisor is gone; this process stops")
            self._on_lost()

    def dispatch(self, raw: bytes) -> None:
        """Apply one message line (a handler's error is logged: one bad message must not stop the rest)."""
        try:
            message = json.loads(raw)
            handler = self._handlers.get(str(message["kind"]))
            if handler is not None:
                handler(message["body"])
        except Exception:  # a reader thread must survive any message
            log.exception("message from the serve supervisor not applied: %r", raw[:200])

    def close(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            with contextlib.suppress(OSError):  # already shut by the other side
                channel.shutdown(socket.SHUT_RDWR)
            channel.close()
