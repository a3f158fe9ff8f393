"""Open311 GeoReport v2 at ``/open311/v2/`` (JSON and XML), plus FixMyStreet's servicerequestupdates.

Routes (``.json`` or ``.xml``): ``discovery``, ``services``, ``services/{code}``, ``POST requests``,
``GET requests`` (service_request_id, service_code, start_date, end_date, status; default window
90 days, at most 1000), ``requests/{id}``, ``tokens/{token}``, ``servicerequestupdates``;
``media/<file>`` serves uploaded photos when uploads are on.

Who may read: anyone, for requests of public categories in a redacted form (GeoReport v2 makes
GET public; ``Settings.open311_public_requests``, on by default, see
``gridmap.incidents.open311_public``); staff with an ``api_key`` or a session see full records of
their area; the reporter sees their own with ``?token=``.

Who may post: an ``api_key`` (form field, query parameter or ``Authorization: Bearer``) of a
worker or command-centre token, or anyone when ``Settings.allow_anonymous_reports`` is on. Errors
come from ``gridmap.portal.errors`` (the one mapping) in the GeoReport shape
``[{"code": <HTTP status>, "description": ...}]``, in the format of the path.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, request, send_from_directory
from flask.blueprints import BlueprintSetupState

from gridmap.auth.principal import Principal, require_role
from gridmap.errors import NotFoundError, ValidationError
from gridmap.model import Role
from gridmap.portal.auth import auth_state, current_principal
from gridmap.portal.errors import register_error_format
from gridmap.portal.i18n.translator import current_language
from gridmap.portal.live import incident_event, publish_quietly, publisher
from gridmap.portal.state import ON_CLOSE_KEY, portal_state
from gridmap.services.incidents import (
    MAX_RESULTS,
    MEDIA_MAX_BYTES,
    EscalationReport,
    EscalationTimer,
    IncidentFilter,
    IncidentService,
    ids_from_text,
    media_kind,
    open311,
)
from gridmap.services.lookup import LookupService
from gridmap.services.public_requests import public_request, public_requests

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
SERVICE_KEY = "gridmap.incidents"
TIMER_KEY = "gridmap.incidents.timer"
LOOKUP_KEY = "gridmap.lookup"  # shared with gridmap.portal.lookup.api
FMT = "<any(json, xml):fmt>"
#: Largest POST body without a photo, bytes (a 4000-character description is < 16 KiB in UTF-8).
MAX_FORM_BYTES = 64 * 1024
#: Default GET window (GeoReport v2: "90 days or the first 1000 requests, whichever is smaller").
DEFAULT_WINDOW = timedelta(days=90)
#: Roles that read incidents (planners see them when drawing grids; admins always pass).
STAFF_ROLES = (Role.WORKER, Role.COMMAND, Role.ANALYST, Role.PLANNER)
_MEDIA_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")


def open311_error(status: int, code: str, message: str, details: Any) -> Response:
    """The GeoReport v2 error list, JSON or XML after the path's extension."""
    fmt = "xml" if request.path.endswith(".xml") else "json"
    body, mimetype = open311.errors_body([{"code": status, "description": message}], fmt)
    return Response(body, status=status, mimetype=mimetype)


def _install(setup: BlueprintSetupState) -> None:
    app = setup.app
    state = app.extensions["gridmap"]
    lookup = app.extensions.setdefault(LOOKUP_KEY, LookupService(state.store, state.settings))
    service = app.extensions.setdefault(SERVICE_KEY, IncidentService(state.store, state.settings, lookup=lookup))
    register_error_format(cast(Flask, app), "/open311/", open311_error)
    if state.settings.escalation_interval_s > 0:
        publish = publisher(cast(Flask, app))

        def announce(report: EscalationReport) -> None:
            """Tell the command centre's live map about every case the sweep moved."""
            for incident_id in [*report.escalated, *report.carded]:
                row = service.get(incident_id)
                publish(incident_event("incident.updated", row,
                                       category_names=category_names(service, row.get("category"))))

        timer = EscalationTimer(service.escalate_overdue, interval_s=state.settings.escalation_interval_s,
                                on_sweep=announce).start()
        app.extensions[TIMER_KEY] = timer
        app.extensions.setdefault(ON_CLOSE_KEY, []).append(timer.stop)


bp.record_once(_install)


def incident_service() -> IncidentService:
    service = current_app.extensions[SERVICE_KEY]
    assert isinstance(service, IncidentService)
    return service


def request_principal(fields: dict[str, Any] | None = None) -> Principal:
    """Who is calling: the portal's principal (Bearer header, ``api_key`` query/form field, or the
    signed-in session; 401 for a bad key), or the token in an ``api_key`` field of a JSON/XML body."""
    principal = current_principal()
    key = (fields or {}).get("api_key")
    if principal.is_public and key:
        return auth_state().token_principal(str(key))
    return principal


def require_staff(principal: Principal) -> None:
    """Incidents are not public: staff who work with them (401 for the public, 403 for other roles)."""
    require_role(principal, *STAFF_ROLES)


def respond(fmt: str, root: str, payload: Any, *, status: int = 200) -> Response:
    """``payload`` (a list or a dict) as JSON, or as XML under ``root``."""
    if fmt == "xml":
        return Response(open311.xml_document(root, payload), status=status, mimetype="text/xml")
    return Response(open311.json_body(payload), status=status, mimetype="application/json")


@bp.get(f"/discovery.{FMT}")
def discovery(fmt: str) -> Response:
    base = portal_state().settings.public_base_url or request.host_url
    return respond(fmt, "discovery", open311.discovery_dict(base, changeset="2025-01-01T00:00:00+08:00"))


@bp.get(f"/services.{FMT}")
def services(fmt: str) -> Response:
    lang = current_language()
    return respond(fmt, "services", [open311.service_dict(c, lang) for c in incident_service().policy.catalogue])


@bp.get(f"/services/<code>.{FMT}")
def service_definition(code: str, fmt: str) -> Response:
    category = incident_service().policy.catalogue.get(code)
    return respond(fmt, "service_definition", open311.service_definition(category))


def _post_fields() -> dict[str, Any]:
    """The POST fields, whatever the body: form (urlencoded or multipart), JSON or XML."""
    length = request.content_length or 0
    limit = MAX_FORM_BYTES + (MEDIA_MAX_BYTES if request.mimetype == "multipart/form-data" else 0)
    if length > limit:
        raise ValidationError(f"the request body has {length:,} bytes; at most {limit:,} are accepted",
                              code="too_large")
    if request.mimetype == "application/json":
        return open311.fields_from_json(request.get_data())
    if request.mimetype in ("text/xml", "application/xml"):
        return open311.fields_from_xml(request.get_data())
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data", ""):
        raise ValidationError(f"unsupported body type {request.mimetype!r}: send a form, JSON or XML",
                              code="malformed_body")
    return {k: request.form.get(k) for k in request.form}


def _save_upload(fields: dict[str, Any]) -> None:
    """Store an uploaded ``media`` photo and point ``media_url`` at it (only when uploads are on)."""
    upload = request.files.get("media")
    if upload is None or not upload.filename:
        return
    data = upload.read(MEDIA_MAX_BYTES + 1)
    kind = media_kind(data)
    media_dir = incident_service().policy.media_dir
    if not media_dir:
        raise ValidationError("photo uploads are not enabled here; send media_url (a link to the photo) instead")
    name = f"{hashlib.sha256(data).hexdigest()[:32]}.{kind}"
    folder = Path(media_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    base = portal_state().settings.public_base_url.rstrip("/")
    fields["media_url"] = f"{base}/open311/v2/media/{name}"


def category_names(service: IncidentService, code: Any) -> dict[str, str]:
    """The category's name per language, for live events (each viewer picks its own)."""
    found = service.policy.catalogue.find(code)
    return {} if found is None else {lang: found.name(lang) for lang in ("zh", "en")}


@bp.post(f"/requests.{FMT}")
def create_request(fmt: str) -> Response:
    fields = _post_fields()
    principal = request_principal(fields)
    service = incident_service()
    service.may_report(principal)
    _save_upload(fields)
    outcome = service.report(principal, fields, source="open311")
    publish_quietly(incident_event("incident.created", outcome.incident,
                                   category_names=category_names(service, outcome.incident.get("category"))))
    body = [{
        "service_request_id": outcome.incident["incident_id"],
        "service_notice": "已受理，请凭 token 查询进度" if current_language() == "zh" else
        "Received; use the token to follow it",
        "account_id": None,
        "token": outcome.token,
        "duplicates": [d.to_dict() for d in outcome.duplicates],
    }]
    return respond(fmt, "service_requests", body)


def _window(args: Any, *, now: datetime) -> tuple[datetime, datetime]:
    end = open311.datetime_from_text(args["end_date"], name="end_date") if args.get("end_date") else now
    start = (open311.datetime_from_text(args["start_date"], name="start_date") if args.get("start_date")
             else end - DEFAULT_WINDOW)
    if end <= start:
        raise ValidationError("end_date must be later than start_date", details={"parameter": "end_date"})
    return start, end


def request_filter(args: Any, service: IncidentService, *, area_code: str = "") -> IncidentFilter:
    """The GeoReport v2 GET filters (service_request_id overrides all others), inside ``area_code``."""
    area = area_code or None
    if args.get("service_request_id"):
        return IncidentFilter(ids=ids_from_text(args["service_request_id"]), area_code=area, limit=MAX_RESULTS)
    start, end = _window(args, now=service.now())
    codes = [c.strip() for c in str(args.get("service_code", "")).split(",") if c.strip()]
    statuses = open311.open311_statuses(args["status"]) if args.get("status") else None
    return IncidentFilter(
        start=start, end=end, categories=service.stored_categories(codes) if codes else None,
        statuses=tuple(s.value for s in statuses) if statuses is not None else None, area_code=area,
        limit=MAX_RESULTS,
    )


def public_view_applies(principal: Principal) -> bool:
    """Anonymous callers get the public, redacted view when it is on (GeoReport v2: GET is public)."""
    return principal.is_public and portal_state().settings.open311_public_requests


@bp.get(f"/requests.{FMT}")
def list_requests(fmt: str) -> Response:
    """Staff: full records scoped to their area. Anyone else: public categories, redacted."""
    principal = request_principal()
    service = incident_service()
    lang = current_language()
    if public_view_applies(principal):
        found = public_requests(service, request_filter(request.args, service), lang)
        return respond(fmt, "service_requests", found)
    require_staff(principal)
    rows = service.matching(request_filter(request.args, service, area_code=principal.area_code))
    catalogue = service.policy.catalogue
    return respond(fmt, "service_requests", open311.request_dicts(rows, catalogue, lang))


@bp.get(f"/requests/<incident_id>.{FMT}")
def get_request(incident_id: str, fmt: str) -> Response:
    """Staff in the area, or the reporter with ``?token=`` (R-29: residents follow their own report);
    anyone else gets the public, redacted view of a public category (404 for the others)."""
    principal = request_principal()
    service = incident_service()
    token = request.args.get("token")
    if not token and public_view_applies(principal):
        return respond(fmt, "service_requests", [public_request(service, incident_id, current_language())])
    row = service.visible(principal, incident_id, token=token)
    return respond(fmt, "service_requests", [open311.request_dict(row, service.policy.catalogue,
                                                                  current_language())])


@bp.get(f"/tokens/<token>.{FMT}")
def token_lookup(token: str, fmt: str) -> Response:
    found = incident_service().find_by_token(token)
    return respond(fmt, "service_requests", [{"service_request_id": found["incident_id"], "token": token}])


@bp.get(f"/servicerequestupdates.{FMT}")
def updates(fmt: str) -> Response:
    """Staff only; updates of incidents in the caller's area, newest first."""
    principal = request_principal()
    require_staff(principal)
    service = incident_service()
    start, end = _window(request.args, now=service.now())
    ids = ids_from_text(request.args["service_request_id"]) if request.args.get("service_request_id") else None
    events = service.updates(IncidentFilter(start=start, end=end, ids=ids, limit=MAX_RESULTS),
                             area_code=principal.area_code)
    return respond(fmt, "service_request_updates", [open311.update_dict(e) for e in events])


@bp.get("/media/<name>")
def media(name: str) -> Response:
    media_dir = incident_service().policy.media_dir
    if not media_dir or not _MEDIA_NAME.match(name):
        raise NotFoundError(f"no photo {name}")
    response = send_from_directory(Path(media_dir).resolve(), name, max_age=86400)
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response
