"""Run the portal: waitress in production (threads = workers), Flask's debug server with ``dev``.

Why waitress: a pure-Python production WSGI server that runs the same on Linux and on the Windows
desktops many district offices use, with no C build. Threads share one app and one store; the
GeoPackage store opens a connection per call, so that is safe. ``--processes N`` runs N such
servers on one socket (gridmap.portal.prefork) to use more than one core.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import sys
from typing import Any, TextIO

from flask import Flask
from waitress import wasyncore
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server
from waitress.trigger import trigger as WaitressTrigger

from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.portal.app import close_app, create_app
from gridmap.portal.live import streams_for_threads
from gridmap.portal.peers import Peers
from gridmap.store import Store

log = logging.getLogger("gridmap.portal")

#: Upper bound on waitress threads: more only queue on the store and the 2 cores of a small server.
MAX_WORKERS = 64
#: Default waitress threads: 6 live event streams (command-centre screens) plus 2 threads for pages.
DEFAULT_WORKERS = 8
#: Bytes waitress reads from a socket at once (its default is 8 KiB). Each read is one turn of its
#: select loop, which asks every open connection whether it is readable or writable: a 300 KB
#: check-in photo took 37 turns, now 5.
RECV_BYTES = 64 * 1024


def url_for_host(host: str, port: int) -> str:
    """The URL a person should open for a server bound to ``host:port`` (0.0.0.0 -> 127.0.0.1)."""
    shown = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(host, host)  # noqa: S104 - display only
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (the only hosts the debug server may bind)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_server(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = DEFAULT_WORKERS,
    store: Store | None = None,
    sockets: list[socket.socket] | None = None,
    peers: Peers | None = None,
) -> tuple[BaseWSGIServer | MultiSocketServer, Flask]:
    """A bound (not yet running) waitress server for a new portal app; port 0 picks a free port.

    ``sockets`` (already listening; host and port are then ignored) and ``peers`` are how a process
    of ``gridmap serve --processes N`` serves (gridmap.portal.prefork).

    Live event streams are limited to ``workers - 2`` unless ``settings.live_max_subscribers`` says
    otherwise (each open stream holds a thread); a limit that leaves no thread for pages is logged.
    """
    if not 1 <= workers <= MAX_WORKERS:
        raise ValidationError(f"workers={workers}: the portal needs 1..{MAX_WORKERS} waitress threads")
    streams = streams_for_threads(workers, configured=settings.live_max_subscribers)
    if streams >= workers:
        log.warning("live_max_subscribers=%d with %d waitress threads: open event streams can take every thread"
                    " and pages will wait; raise --workers", streams, workers)
    app = create_app(settings.replace(live_max_subscribers=streams), store=store, peers=peers)
    where: dict[str, Any] = {"sockets": sockets} if sockets else {"host": host, "port": port}
    try:
        # lookahead 1: waitress keeps reading each connection, so an event stream sees its client leave
        server = create_server(app, threads=workers, ident="gridmap", channel_request_lookahead=1,
                               recv_bytes=RECV_BYTES, **where)
    except OSError as exc:
        close_app(app)
        raise ValidationError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; another program may be using the port:"
            " choose another with --port (0 picks a free one)",
            code="address_in_use" if exc.errno == errno.EADDRINUSE else "cannot_listen",
        ) from None
    return server, app


def bound_port(server: BaseWSGIServer | MultiSocketServer) -> int:
    """The TCP port the server listens on (the real one when asked for port 0)."""
    if isinstance(server, BaseWSGIServer):
        return int(server.effective_port)
    return int(server.effective_listen[0][1])


def stop_server(server: BaseWSGIServer | MultiSocketServer) -> None:
    """Stop a server whose ``run()`` loop is running in another thread; ``run()`` then returns.

    The sockets are closed *inside the loop's thread*, through waitress's own trigger (a self-pipe
    the loop watches): closing them from the calling thread while the loop sits in ``select()``
    on them makes ``select`` raise EBADF in the server thread. The worker threads stop first, so
    no request is left half-served by a closed socket.
    """
    server.task_dispatcher.shutdown()
    loop_map = server._map if isinstance(server, BaseWSGIServer) else server.map
    wakers = [d for d in loop_map.values() if isinstance(d, WaitressTrigger)]
    if not wakers:  # nothing can wake the loop: close directly (the loop is not running)
        wasyncore.close_all(loop_map)
        return
    wakers[0].pull_trigger(lambda: wasyncore.close_all(loop_map))


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = DEFAULT_WORKERS,
    dev: bool = False,
    out: TextIO | None = None,
    processes: int = 1,
) -> None:
    """Serve the portal until interrupted (Ctrl+C); prints the URL to open first.

    ``processes`` > 1 runs that many waitress processes of ``workers`` threads each on one socket
    (gridmap.portal.prefork): Python runs on one core per process, so this is how a server uses
    more than one core.

    ``dev=True`` runs Flask's debug server (templates reload, debug logging). Its interactive
    debugger would run code for anyone who reaches it, so it binds loopback addresses only.
    """
    stream = out or sys.stdout
    if dev:
        if processes > 1:
            raise ValidationError("--dev serves from one process; drop --processes")
        if not is_loopback(host):
            raise ValidationError(
                f"--dev with host {host!r}: the debug server must only listen on 127.0.0.1/localhost"
                " (it can run code for whoever reaches it); drop --dev to serve on the network"
            )
        app = create_app(settings)
        print(f"gridmap portal (dev): {url_for_host(host, port)}", file=stream, flush=True)
        try:
            app.run(host=host, port=port, debug=True, use_reloader=False, threaded=True)
        finally:
            close_app(app)
        return
    if processes > 1:
        from gridmap.portal.prefork import serve_processes

        serve_processes(settings, host=host, port=port, workers=workers, processes=processes, out=stream)
        return
    server, app = make_server(settings, host=host, port=port, workers=workers)
    streams = streams_for_threads(workers, configured=settings.live_max_subscribers)
    print(f"gridmap portal: {url_for_host(host, bound_port(server))} (waitress, {workers} threads,"
          f" up to {streams} live streams)", file=stream, flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        log.info("portal stopped by keyboard interrupt")
    finally:
        stop_server(server)
        close_app(app)
