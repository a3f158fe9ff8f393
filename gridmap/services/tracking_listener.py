"""``gridmap track-listen``: the OsmAnd / Traccar Client endpoint at ``/`` on its own port, as Traccar does.

A small WSGI application (no Flask: this is core code) served by waitress. Phones are configured with
``http://<server>:5055`` exactly as for a Traccar server. Answers, per the protocol:

* ``200`` with an empty body once the fix is committed (a body would be read as a device command);
* ``400`` with the reason (bad input), ``404`` for a device no active worker carries, ``503`` with
  ``Retry-After`` when the store is unavailable (the phone keeps the fix and sends it again).

``GET /stats`` returns this process's ingest counters as JSON (the portal shows its own at
``/api/v1/tracking/stats``). Each waiting request holds one waitress thread until its batch commits,
so the thread count bounds how many fixes can be in flight: with ~30 ms commits, 48 threads carry
more than 1,000 fixes/s.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from gridmap.config import Settings
from gridmap.errors import GridmapError, StoreUnavailableError
from gridmap.services.tracking import TrackingService
from gridmap.store.factory import open_store
from gridmap.tracking.pings import MAX_BODY_BYTES

log = logging.getLogger("gridmap.tracking")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
#: Traccar's port for the OsmAnd protocol.
DEFAULT_PORT = 5055
DEFAULT_THREADS = 48
_REASONS = {200: "200 OK", 400: "400 Bad Request", 404: "404 Not Found", 405: "405 Method Not Allowed",
            413: "413 Content Too Large", 503: "503 Service Unavailable"}


def _reply(start_response: StartResponse, status: int, body: bytes = b"", *, content_type: str = "text/plain",
           headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    head = [("Content-Type", f"{content_type}; charset=utf-8"), ("Content-Length", str(len(body))), *headers]
    start_response(_REASONS.get(status, f"{status} Error"), head)
    return [body]


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The request body, or None when it is larger than one fix can be."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return None
    stream = environ.get("wsgi.input")
    return stream.read(length) if stream is not None and length > 0 else b""


def listener_app(service: TrackingService) -> WsgiApp:
    """The WSGI app of the listener for one :class:`TrackingService`."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO") or "/"
        if path == "/stats" and method == "GET":
            body = json.dumps({"ok": True, "stats": service.ingest.stats()}).encode()
            return _reply(start_response, 200, body, content_type="application/json")
        if path != "/":
            return _reply(start_response, 404, b"positions go to / (OsmAnd protocol)")
        if method not in ("GET", "POST"):
            return _reply(start_response, 405, b"use GET or POST", headers=[("Allow", "GET, POST")])
        data = _read_body(environ)
        if data is None:
            return _reply(start_response, 413, f"one fix per request, at most {MAX_BODY_BYTES} bytes".encode())
        try:
            service.receive(query=environ.get("QUERY_STRING", ""), body=data,
                            content_type=environ.get("CONTENT_TYPE"))
        except StoreUnavailableError as exc:
            wait_s = str(max(1, round(service.ingest.retry_after_s)))
            return _reply(start_response, 503, exc.message.encode(), headers=[("Retry-After", wait_s)])
        except GridmapError as exc:
            return _reply(start_response, exc.http_status, exc.message.encode())
        return _reply(start_response, 200)

    return app


def make_listener(
    settings: Settings, *, host: str = "0.0.0.0", port: int = DEFAULT_PORT,  # noqa: S104 - phones connect from anywhere
    threads: int = DEFAULT_THREADS, store_url: str | None = None,
) -> tuple[BaseWSGIServer | MultiSocketServer, TrackingService]:
    """A bound (not yet running) waitress server and its service; port 0 picks a free port."""
    store = open_store(store_url or settings.store_url, settings)
    service = TrackingService(store, settings)
    server = create_server(listener_app(service), host=host, port=port, threads=threads, ident="gridmap-track",
                           connection_limit=max(100, threads * 8), channel_timeout=60)
    return server, service


def serve_listener(
    settings: Settings, *, host: str = "0.0.0.0", port: int = DEFAULT_PORT,  # noqa: S104
    threads: int = DEFAULT_THREADS, store_url: str | None = None, out: TextIO | None = None,
) -> None:
    """Serve until interrupted; prints where phones should send their positions first."""
    server, service = make_listener(settings, host=host, port=port, threads=threads, store_url=store_url)
    port_shown = server.effective_port if isinstance(server, BaseWSGIServer) else server.effective_listen[0][1]
    print(f"gridmap track-listen: OsmAnd/Traccar positions on port {port_shown} ({threads} threads)",
          file=out or sys.stdout, flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        log.info("track-listen stopped by keyboard interrupt")
    finally:
        server.close()
        service.close()
        service.store.close()
