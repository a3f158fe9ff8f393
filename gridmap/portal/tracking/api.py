"""Worker positions in the portal: the OsmAnd endpoint ``/osmand`` and the tracking JSON API.

* ``GET|POST /osmand``: the Traccar/OsmAnd protocol (gridmap.tracking.pings), as ``track-listen`` serves
  it at ``/``. 200 with an empty body once committed; errors are plain text (a phone shows nothing).
  Phones carry no credentials (the protocol has none): the device id must belong to an active worker
  (404 otherwise), CSRF does not apply, and the anonymous write limit is replaced by the ``tracking``
  rule (off unless configured), so a district's phones behind one NAT address are not throttled.
* ``GET /api/v1/workers/positions[?area=]``: newest position of every worker in the caller's area with
  grid code and state (GeoJSON); ``GET /api/v1/workers/<id>/track[?day=]``: one worker's track of a day.
* ``GET /api/v1/workers[?area=]`` and ``/api/v1/workers/<id>``: the registry (staff roles).
* ``GET /api/v1/tracking/stats``: this process's ingest counters (unknown devices...) and today's totals.
* ``GET /api/v1/patrol?period=day|month&date=&area=[&format=csv&table=worker|grid]``: patrol analytics.

The portal keeps one :class:`~gridmap.services.tracking.TrackingService` per app in
``app.extensions["gridmap.tracking"]``; its live events go to the app's event hub, and a
:class:`~gridmap.tracking.watch.LatestWatcher` publishes the fixes a separate ``track-listen`` stored.
Under ``gridmap serve --processes N`` each process publishes the fixes it took (the supervisor passes
the events to every process) and only the leader polls for ``track-listen``'s, skipping what any
process published already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pandas as pd
from flask import Blueprint, Flask, Response, current_app, jsonify, request

from gridmap.errors import ValidationError
from gridmap.portal.auth import current_principal
from gridmap.portal.csrf import csrf_exempt
from gridmap.portal.errors import register_error_format
from gridmap.portal.peers import PEERS_KEY, Peers
from gridmap.portal.ratelimit import rate_limited
from gridmap.portal.state import EXTENSION_KEY, ON_CLOSE_KEY, PortalState
from gridmap.services.tracking import (
    MAX_BODY_BYTES,
    DeviceRegistry,
    LatestWatcher,
    PatrolReport,
    TrackingService,
    check_area_filter,
    local_day,
    patrol_report,
    report_csv,
    tracking_zone,
)
from gridmap.services.workers import worker_record, workers_in_scope

if TYPE_CHECKING:
    from gridmap.portal.apidoc import ApiPart

TRACKING_KEY = "gridmap.tracking"
#: Rate-limit rule of /osmand (see gridmap.portal.ratelimit); no such rule is configured by default.
RATE_RULE = "tracking"
#: Registry fields the API returns (the registry is staff-only; nothing about residents).
WORKER_FIELDS = ("worker_id", "name", "phone", "photo", "role", "grid_code", "extra_grid_codes", "partner_worker_id",
                 "device_id", "duties", "active")

bp = Blueprint("tracking", __name__)


@dataclass
class PortalTracking:
    """The tracking parts of one app."""

    service: TrackingService
    watcher: LatestWatcher

    def close(self) -> None:
        self.watcher.close()
        self.service.close()


def _plain_error(status: int, code: str, message: str, details: Any) -> Response:
    """Errors of /osmand as text: the protocol's clients read the status only."""
    response = Response(f"{code}: {message}", status=status, mimetype="text/plain")
    if status == 503:
        response.headers["Retry-After"] = "1"
    return response


@bp.record_once
def _install(setup: Any) -> None:
    app: Flask = setup.app
    state = app.extensions[EXTENSION_KEY]
    assert isinstance(state, PortalState)
    from gridmap.portal.live import LIVE_KEY, hub

    publish = hub(app).publish if LIVE_KEY in app.extensions else (lambda event: None)
    subscribers = (lambda: hub(app).subscriber_count > 0) if LIVE_KEY in app.extensions else (lambda: False)
    peers = app.extensions.get(PEERS_KEY)
    several = isinstance(peers, Peers) and peers.connected
    leader = several and isinstance(peers, Peers) and peers.leader
    if several:  # positions stored by track-listen are published once, by the leader, for every process
        subscribers = (lambda: True) if leader else (lambda: False)
    registry = DeviceRegistry(state.store)
    watcher = LatestWatcher(state.store, lookup=registry.lookup, publish=publish, active=subscribers)
    service = TrackingService(state.store, state.settings, publish=watcher.publish_local, registry=registry)
    parts = PortalTracking(service, watcher)
    app.extensions[TRACKING_KEY] = parts
    app.extensions.setdefault(ON_CLOSE_KEY, []).append(parts.close)
    if leader:  # what other processes published is not polled again
        hub(app).observe(lambda event: watcher.note_published({"type": event.type, "data": event.data}))
        watcher.start()
    register_error_format(app, "/osmand", _plain_error)


def portal_tracking(app: Flask | None = None) -> PortalTracking:
    found = (app or current_app).extensions[TRACKING_KEY]
    assert isinstance(found, PortalTracking)
    return found


@bp.before_request
def _watch() -> None:
    """Start the watcher with the first tracking request (a command map opens its stream after it)."""
    portal_tracking().watcher.start()


@bp.route("/osmand", methods=["GET", "POST"])
@csrf_exempt
@rate_limited(RATE_RULE)
def osmand() -> Response:
    """One fix in the OsmAnd / Traccar Client protocol; 200 (empty) once stored."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise ValidationError(f"one fix per request: the body is larger than {MAX_BODY_BYTES} bytes")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        body = urlencode(list(request.form.items(multi=True))).encode()  # parsed already (api_key, CSRF)
    else:
        body = request.get_data(cache=False)
    portal_tracking().service.receive(query=request.query_string.decode("latin-1"), body=body,
                                      content_type=request.content_type)
    return Response(b"", status=200, mimetype="text/plain")


@bp.get("/api/v1/tracking/stats")
def stats() -> Response:
    """Ingest counters of this process (unknown devices, refusals, batches) and today's totals."""
    from gridmap.auth.principal import require_role
    from gridmap.services.tracking import POSITION_ROLES

    require_role(current_principal(), *POSITION_ROLES)
    return jsonify({"ok": True, "stats": portal_tracking().service.stats()})


@bp.get("/api/v1/workers/positions")
def positions() -> Response:
    """Newest position per worker in the caller's area (GeoJSON, lon/lat), with grid code and state."""
    body = portal_tracking().service.latest_features(current_principal(), area=request.args.get("area"))
    response = jsonify(body)
    response.mimetype = "application/geo+json"
    return response


@bp.get("/api/v1/workers/<worker_id>/track")
def track(worker_id: str) -> Response:
    """One worker's fixes of one local day (``?day=YYYY-MM-DD``, default today) as GeoJSON."""
    body = portal_tracking().service.track(current_principal(), worker_id, day=request.args.get("day"))
    response = jsonify(body)
    response.mimetype = "application/geo+json"
    return response


def worker_json(row: dict[str, Any]) -> dict[str, Any]:
    """A registry row as JSON (missing values as null)."""
    out: dict[str, Any] = {}
    for key in WORKER_FIELDS:
        value = row.get(key)
        out[key] = value if isinstance(value, list | dict) or not pd.isna(value) else None
    return out


@bp.get("/api/v1/workers")
def workers() -> Response:
    """The registry in the caller's area (``?area=`` narrows it to a street, community or grid)."""
    store = current_app.extensions[EXTENSION_KEY].store
    frame = workers_in_scope(store, current_principal(), area=check_area_filter(request.args.get("area")))
    rows = [worker_json({str(k): v for k, v in r.items()}) for r in frame.to_dict("records")]
    return jsonify({"ok": True, "count": len(rows), "workers": rows})


@bp.get("/api/v1/workers/<worker_id>")
def worker(worker_id: str) -> Response:
    """One worker of the caller's area, with their grids and A/B partner's name."""
    store = current_app.extensions[EXTENSION_KEY].store
    record = worker_record(store, current_principal(), worker_id)
    return jsonify({"ok": True, "worker": {**worker_json(record), "own_grids": record["own_grids"],
                                           "partner_name": record["partner_name"]}})


def patrol_from_request(principal: Any) -> PatrolReport:
    """The patrol report the query asks for: ``period`` (day|month, default day), ``date`` (default today)."""
    state = current_app.extensions[EXTENSION_KEY]
    period = request.args.get("period") or "day"
    when = request.args.get("date") or local_day(datetime.now(UTC), tracking_zone(state.settings))
    area = check_area_filter(request.args.get("area"))
    return patrol_report(state.store, state.settings, period=period, when=when, principal=principal, area=area)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (NaN and NA become null)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in r.items()} for r in clean.to_dict("records")]


@bp.get("/api/v1/patrol")
def patrol() -> Response:
    """Patrol analytics per worker and per grid; ``format=csv`` with ``table=worker|grid`` for a CSV file."""
    report = patrol_from_request(current_principal())
    if request.args.get("format") == "csv":
        which = "grid" if request.args.get("table") == "grid" else "worker"
        response = Response("\ufeff" + report_csv(report, which=which), mimetype="text/csv")
        name = f"patrol-{which}-{report.label}.csv"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return jsonify({"ok": True, "period": report.period, "label": report.label, "days": list(report.days),
                    "distance_m": report.distance_m, "patrol_min_minutes": report.patrol_min_minutes,
                    "by_worker": _records(report.by_worker), "by_grid": _records(report.by_grid)})


def tracking_part() -> ApiPart:
    """The OpenAPI description of the tracking endpoints."""
    from gridmap.portal.apidoc import ApiPart

    schema_ref = {"$ref": "#/components/schemas/Error"}
    error = {"description": "Error", "content": {"application/json": {"schema": schema_ref}}}
    errors = {"401": error, "403": error, "404": error, "503": error}
    area = {"name": "area", "in": "query", "required": False, "schema": {"type": "string", "pattern": "^[0-9]+$"},
            "description": "Street, community or grid code: only workers whose main grid lies in it"}
    wid = {"name": "worker_id", "in": "path", "required": True, "schema": {"type": "string"}}
    geo = {"description": "GeoJSON", "content": {"application/geo+json": {"schema": {"type": "object"}}}}
    ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    return ApiPart(paths={
        "/api/v1/workers/positions": {"get": {
            "summary": "Newest position of every worker in the caller's area, with grid code and state "
                       "(inside / outside own grid / stale)", "operationId": "workerPositions",
            "parameters": [area], "responses": {"200": geo, **errors}}},
        "/api/v1/workers/{worker_id}/track": {"get": {
            "summary": "One worker's track of one local day", "operationId": "workerTrack",
            "parameters": [wid, {"name": "day", "in": "query", "required": False,
                                 "schema": {"type": "string", "format": "date"}}],
            "responses": {"200": geo, **errors}}},
        "/api/v1/workers": {"get": {"summary": "Workers registry in the caller's area", "operationId": "workers",
                                    "parameters": [area], "responses": {"200": ok, **errors}}},
        "/api/v1/workers/{worker_id}": {"get": {"summary": "One worker of the registry", "operationId": "worker",
                                                "parameters": [wid], "responses": {"200": ok, **errors}}},
        "/api/v1/tracking/stats": {"get": {"summary": "Position ingest counters of this process",
                                           "operationId": "trackingStats", "responses": {"200": ok, **errors}}},
        "/api/v1/patrol": {"get": {
            "summary": "Patrol analytics per worker and grid: time in own grid (R-15), patrol days (R-16), "
                       "street/building/point coverage (G-31)", "operationId": "patrol",
            "parameters": [area, *({"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                                   for n in ("period", "date", "format", "table"))],
            "responses": {"200": ok, "400": error, **errors}}},
    })
