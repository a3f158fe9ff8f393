"""Live updates by server-sent events: ``GET /api/v1/events`` and ``publish(event)``.

Other modules publish plain mappings, so core code needs no import from here::

    publish({"type": "incident.created", "area_code": "410611001001003",
             "data": {"incident_id": "...", "category": "...", "status": "reported", "lon": 114.1, "lat": 35.7}})

* ``type``: a short dotted name (``incident.created``, ``incident.updated``, ``position.updated``).
* ``area_code``: the most precise code of the thing (a grid code for an incident or a worker's
  position). **Scoping**: a subscriber receives an event only when its principal covers that code
  (``Principal.covers``: the same prefix rule as pages and API); an event without a code goes to
  whole-installation admins only. The public cannot subscribe (401).
* ``data``: JSON-serialisable; it is sent as is, so put in it only what every covering account may see.
  Events with ``lon``/``lat`` in ``data`` are drawn on the dashboard map by ``static/js/live.js``.

Inside a request ``publish`` finds the app's hub; a background thread (escalation timer, tracking
receiver) takes ``publisher(app)`` once and calls it. No globals: the hub is ``app.extensions``.

Why this works under waitress: the response is a generator, which waitress sends chunk by chunk as
it is produced (chunked transfer encoding). Each open stream holds one waitress thread, so the hub
admits at most ``settings.live_max_subscribers`` streams (429 with Retry-After beyond that) and ends
every stream after ``MAX_STREAM_S`` seconds (the default limit is the server's threads minus
``RESERVED_THREADS``, see :func:`streams_for_threads`); the browser's EventSource reconnects by itself with
``Last-Event-ID`` and gets what it missed from a bounded backlog. Each subscriber has a bounded queue:
a subscriber too slow to keep up loses its oldest events and is told so by a ``gap`` event (reload).
A heartbeat comment every ``settings.live_heartbeat_s`` keeps proxies from closing an idle stream; under
waitress a stream also asks every second whether its client went away (``waitress.client_disconnected``,
with ``channel_request_lookahead`` set by ``gridmap.portal.server``), so a closed page frees its slot at
once. With ``gridmap serve --processes N`` events reach the streams of every process
(numbered once by the supervisor, see :mod:`gridmap.portal.peers`).
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
from flask import Blueprint, Flask, Response, current_app, g, request

from gridmap.auth.principal import Principal
from gridmap.codes import level_of_code
from gridmap.errors import RateLimitedError, ValidationError
from gridmap.model import Role
from gridmap.portal.auth import current_principal, login_required
from gridmap.portal.peers import Peers

if TYPE_CHECKING:  # openapi imports this module for live_part
    from gridmap.portal.apidoc import ApiPart

log = logging.getLogger("gridmap.portal")

LIVE_KEY = "gridmap.live"
#: Events a subscriber may have waiting before the oldest are dropped.
QUEUE_SIZE = 256
#: Recent events kept for reconnecting clients (Last-Event-ID).
BACKLOG_SIZE = 512
#: Waitress threads kept free of event streams, so pages and API calls are answered while screens watch.
RESERVED_THREADS = 2
#: Streams allowed when no thread count is known (Flask's dev server, test apps): the default 8 threads - 2.
DEFAULT_STREAMS = 6
#: How often a waiting stream asks whether its client went away, seconds.
CLIENT_POLL_S = 1.0
#: A stream ends after this long (seconds) and the browser reconnects: no thread is held forever.
MAX_STREAM_S = 300.0
#: Milliseconds the browser waits before reconnecting (the SSE ``retry`` field).
RETRY_MS = 2000
MAX_TYPE_LENGTH = 64

bp = Blueprint("live", __name__, url_prefix="/api/v1")


@dataclass(frozen=True)
class LiveEvent:
    """One published event with the id the hub gave it."""

    id: int
    type: str
    area_code: str | None
    data: Mapping[str, Any]
    payload: str  # ``data`` as JSON, made once at publish time

    def frame(self) -> str:
        """The event in the text/event-stream format."""
        return f"id: {self.id}\nevent: {self.type}\ndata: {self.payload}\n\n"


def covers_event(principal: Principal, event: LiveEvent) -> bool:
    """May ``principal`` receive ``event``? (prefix rule; no code = installation admins only)"""
    if principal.is_public:
        return False
    if event.area_code is None:
        return principal.role is Role.ADMIN and principal.area_code == ""
    return principal.covers(event.area_code)


@dataclass
class Subscription:
    principal: Principal
    queue: queue.Queue[LiveEvent | None] = field(default_factory=lambda: queue.Queue(QUEUE_SIZE))
    _dropped: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def offer(self, event: LiveEvent | None) -> None:
        """Queue without blocking the publisher; when full, the oldest event makes room."""
        with self._lock:  # one publisher at a time per subscriber: drop-oldest stays exact
            while True:
                try:
                    self.queue.put_nowait(event)
                    return
                except queue.Full:
                    try:
                        self.queue.get_nowait()
                        self._dropped += 1
                    except queue.Empty:
                        pass

    def take_dropped(self) -> int:
        """Events lost since the last call (and reset the count)."""
        with self._lock:
            dropped, self._dropped = self._dropped, 0
            return dropped


def _checked(event: Mapping[str, Any]) -> tuple[str, str | None, Mapping[str, Any], str]:
    kind = event.get("type")
    if not (isinstance(kind, str) and 0 < len(kind) <= MAX_TYPE_LENGTH and kind.replace(".", "_").isidentifier()):
        raise ValidationError(f"live event type {kind!r}: a dotted name such as incident.created (max 64 characters)")
    area = event.get("area_code")
    if area is not None:
        level_of_code(str(area))  # 6/9/12/15 digits, else ValidationError
        area = str(area)
    data = event.get("data") or {}
    if not isinstance(data, Mapping):
        raise ValidationError(f"live event {kind}: data must be a mapping")
    try:
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"live event {kind}: data is not JSON-serialisable ({exc})") from None
    return kind, area, data, payload


class EventHub:
    """Fan-out of published events to scoped subscribers; thread-safe, bounded everywhere."""

    def __init__(self, *, max_subscribers: int, backlog_size: int = BACKLOG_SIZE,
                 relay: Callable[[Mapping[str, Any]], None] | None = None) -> None:
        self.max_subscribers = max_subscribers
        #: Set when the server runs several processes: events go to the supervisor, which numbers
        #: them and hands them back to every process's :meth:`deliver` (gridmap.portal.peers).
        self.relay = relay
        self._observers: list[Callable[[LiveEvent], object]] = []
        self._subscribers: list[Subscription] = []
        self._backlog: deque[LiveEvent] = deque(maxlen=backlog_size)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # subscribe/unsubscribe happened

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, event: Mapping[str, Any]) -> LiveEvent:
        """Validate ``{"type", "area_code", "data"}`` and deliver it to every covering subscriber.

        With a ``relay`` the event is handed on instead and delivered when it comes back numbered;
        the returned event then has id 0 (not numbered yet).
        """
        kind, area, data, payload = _checked(event)
        if self.relay is not None:
            self.relay({"type": kind, "area_code": area, "data": data})
            return LiveEvent(id=0, type=kind, area_code=area, data=data, payload=payload)
        with self._lock:
            return self._deliver(next(self._ids), kind, area, data, payload)

    def deliver(self, event_id: int, event: Mapping[str, Any]) -> LiveEvent:
        """Deliver an event the supervisor numbered (the same id in every process of the server)."""
        kind, area, data, payload = _checked(event)
        with self._lock:
            live = self._deliver(event_id, kind, area, data, payload)
            observers = list(self._observers)
        for observe in observers:
            observe(live)
        return live

    def observe(self, callback: Callable[[LiveEvent], object]) -> None:
        """Call ``callback(event)`` for every event the supervisor delivers (several processes only)."""
        with self._lock:
            self._observers.append(callback)

    def _deliver(self, event_id: int, kind: str, area: str | None, data: Mapping[str, Any], payload: str
                 ) -> LiveEvent:
        """Backlog and queue one event; called holding the lock (subscribers offer without blocking)."""
        live = LiveEvent(id=event_id, type=kind, area_code=area, data=data, payload=payload)
        self._backlog.append(live)
        for sub in self._subscribers:
            if covers_event(sub.principal, live):
                sub.offer(live)
        return live

    def subscribe(self, principal: Principal, *, last_event_id: int | None = None) -> Subscription:
        """A new subscription (429 when ``max_subscribers`` streams are open), primed with missed events."""
        sub = Subscription(principal)
        with self._lock:
            if len(self._subscribers) >= self.max_subscribers:
                raise RateLimitedError(
                    f"{self.max_subscribers} live streams are open already; try again shortly",
                    code="too_many_streams",
                    details={"retry_after_s": 5},
                )
            self._subscribers.append(sub)
            self._changed.notify_all()
            missed = [e for e in self._backlog if last_event_id is not None and e.id > last_event_id]
        for event in missed:
            if covers_event(principal, event):
                sub.offer(event)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)
                self._changed.notify_all()

    def wait_for_subscribers(self, count: int, *, timeout_s: float) -> bool:
        """Block until exactly ``count`` streams are open (True) or ``timeout_s`` passed (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._subscribers) == count, timeout=timeout_s)

    def close(self) -> None:
        """End every open stream now (server shutdown, tests)."""
        with self._lock:
            subs = list(self._subscribers)
        for sub in subs:
            sub.offer(None)

    def stream(
        self, sub: Subscription, *, heartbeat_s: float, max_duration_s: float = MAX_STREAM_S,
        clock: Callable[[], float] = time.monotonic, client_gone: Callable[[], bool] | None = None,
    ) -> Iterator[str]:
        """The text/event-stream of ``sub``; unsubscribes when it ends or the client goes away.

        ``client_gone`` (waitress's ``waitress.client_disconnected``) is asked every ``CLIENT_POLL_S``
        while waiting, so a closed page frees its stream slot and thread within about a second instead
        of at the next heartbeat (a command centre flicking between pages would otherwise fill the slots).
        """
        try:
            yield f"retry: {RETRY_MS}\n: connected\n\n"
            deadline = clock() + max_duration_s
            while (left := deadline - clock()) > 0:
                try:
                    event = _next_event(sub, timeout_s=min(heartbeat_s, left), client_gone=client_gone)
                except queue.Empty:
                    yield ": heartbeat\n\n"
                    continue
                if event is None:
                    return
                dropped = sub.take_dropped()
                if dropped:
                    yield f"event: gap\ndata: {json.dumps({'dropped': dropped})}\n\n"
                yield event.frame()
        finally:
            self.unsubscribe(sub)


def _next_event(sub: Subscription, *, timeout_s: float, client_gone: Callable[[], bool] | None) -> LiveEvent | None:
    """The next queued event (None: the hub closed the stream, or the client went away); Empty on timeout."""
    if client_gone is None:
        return sub.queue.get(timeout=timeout_s)
    end = time.monotonic() + timeout_s
    while True:
        if client_gone():
            return None
        left = end - time.monotonic()
        if left <= 0:
            raise queue.Empty
        try:
            return sub.queue.get(timeout=min(CLIENT_POLL_S, left))
        except queue.Empty:
            continue


def hub(app: Flask | None = None) -> EventHub:
    found = (app or current_app).extensions[LIVE_KEY]
    assert isinstance(found, EventHub)
    return found


def publish(event: Mapping[str, Any]) -> LiveEvent:
    """Publish on the current app's hub (inside a request or app context)."""
    return hub().publish(event)


def publish_quietly(event: Mapping[str, Any]) -> LiveEvent | None:
    """Publish after a committed change: a bad event is logged, never turned into an error response."""
    try:
        return publish(event)
    except ValidationError as exc:
        log.error("live event not published: %s", exc.message)
        return None


def _iso(value: Any) -> str | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def incident_event(kind: str, row: Mapping[str, Any], *, category_names: Mapping[str, str] | None = None
                   ) -> dict[str, Any]:
    """The live event of an incident row: scoped by its most precise code (grid, community, street).

    Only what every account covering that area may see goes in: no reporter, no token, no description.
    """
    area = next((str(row[c]) for c in ("grid_code", "community_code", "street_code")
                 if row.get(c) is not None and str(row[c]) not in ("", "nan", "<NA>")), None)
    from gridmap.portal.i18n.incidents import incident_text

    geom = row.get("geometry")
    point = geom if geom is not None and getattr(geom, "geom_type", "") == "Point" else None
    status = row.get("status")
    return {"type": kind, "area_code": area, "data": {
        "incident_id": str(row.get("incident_id")), "category": row.get("category"),
        "category_names": dict(category_names or {}), "status": status,
        "status_names": {lang: incident_text(f"status.{status}", lang) for lang in ("zh", "en")} if status else {},
        "level": row.get("level"),
        "lon": None if point is None else round(float(point.x), 7),
        "lat": None if point is None else round(float(point.y), 7),
        "reported_at": _iso(row.get("reported_at")), "updated_at": _iso(row.get("updated_at")),
    }}


def publisher(app: Flask) -> Callable[[Mapping[str, Any]], LiveEvent]:
    """The hub's ``publish`` for code running outside a request (threads): take it once, call it later."""
    return hub(app).publish


def streams_for_threads(threads: int | None, *, configured: int = 0) -> int:
    """How many event streams may be open at once: ``configured`` when > 0, else threads - RESERVED_THREADS.

    Each open stream holds one server thread for as long as the screen is open, so the automatic
    limit leaves ``RESERVED_THREADS`` for everything else (``--workers 8``: 6 command-centre screens).
    ``threads=None`` (a server without a thread pool) gives ``DEFAULT_STREAMS``.
    """
    if configured > 0:
        return configured
    if threads is None:
        return DEFAULT_STREAMS
    return max(1, threads - RESERVED_THREADS)


def init_live(app: Flask, *, max_subscribers: int, peers: Peers | None = None) -> EventHub:
    """The app's hub; ``max_subscribers`` 0 means automatic (see :func:`streams_for_threads`).

    With connected ``peers`` (several server processes) events travel through the supervisor.
    """
    relay = None
    if peers is not None and peers.connected:
        relay = functools.partial(peers.send, "event")
    found = EventHub(max_subscribers=streams_for_threads(None, configured=max_subscribers), relay=relay)
    if relay is not None:
        assert peers is not None
        peers.on("event", lambda body: found.deliver(int(body["id"]), body["event"]))
    app.extensions[LIVE_KEY] = found
    return found


def _last_event_id() -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise ValidationError(f"Last-Event-ID {raw[:20]!r} must be a whole number")
    return int(raw)


@bp.get("/events")
@login_required
def events() -> Response:
    """The caller's event stream (text/event-stream), scoped to its area."""
    from gridmap.portal.state import portal_state

    principal = current_principal()
    found = hub()
    try:
        sub = found.subscribe(principal, last_event_id=_last_event_id())
    except RateLimitedError:
        g.gridmap_retry_after = 5
        raise
    heartbeat_s = max(0.05, float(portal_state().settings.live_heartbeat_s))
    gone = request.environ.get("waitress.client_disconnected")  # needs channel_request_lookahead > 0
    response = Response(found.stream(sub, heartbeat_s=heartbeat_s, client_gone=gone if callable(gone) else None),
                        mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass events on at once
    return response


def live_part() -> ApiPart:
    """The OpenAPI description of /api/v1/events."""
    from gridmap.portal.apidoc import ApiPart

    schema = {"$ref": "#/components/schemas/Error"}
    error = {"description": "Error", "content": {"application/json": {"schema": schema}}}
    return ApiPart(paths={"/api/v1/events": {"get": {
        "summary": "Server-sent events in the caller's area (incident.created, incident.updated, position.updated)",
        "operationId": "events",
        "description": "Signed-in session or API token. Each event: id, event (type), data (JSON). Only events "
                       "whose area code lies in the caller's area are sent. Send Last-Event-ID to resume.",
        "parameters": [{"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "An event stream", "content": {"text/event-stream": {
            "schema": {"type": "string"}}}}, "401": error, "429": error}}}})
