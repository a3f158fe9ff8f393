"""Staff JSON API of the closed loop, under ``/api/v1/incidents`` (errors: the portal's JSON shape).

* ``GET /<id>``: the incident with its internal fields, its event timeline and the actions the caller
  may take now. Staff covering the incident's area, or the reporter holding the tracking ``token``
  (who sees the public fields only); staff elsewhere get the same 404 as for a missing incident.
* ``POST /<id>/actions`` with JSON ``{"action", "note", "assigned_to", "department", "satisfaction",
  "to_level", "duplicate_of", "version", "token"}``: one move (409 when illegal or stale).
* ``GET /duplicates?service_code=&lat=&long=[&crs=]``: open look-alikes near a point (the report form).

Authentication: the portal's (session, ``api_key`` or ``Authorization: Bearer``; see
:func:`open311_api.request_principal`); session calls that change something need the CSRF header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from flask import Blueprint, request

from gridmap.auth.principal import Principal
from gridmap.errors import ValidationError
from gridmap.model import Role
from gridmap.portal.i18n.translator import current_language
from gridmap.portal.incidents.open311 import (
    STAFF_ROLES,
    category_names,
    incident_service,
    request_principal,
    require_staff,
)
from gridmap.portal.live import incident_event, publish_quietly
from gridmap.services.incidents import (
    RULES,
    IncidentService,
    IncidentState,
    ReportInput,
    action_request_from_fields,
    actions_for,
    check_visible,
    is_reporter,
    open311,
    report_input_from_fields,
)

if TYPE_CHECKING:  # openapi imports this module for incidents_part
    from gridmap.portal.apidoc import ApiPart

bp = Blueprint("incidents_api", __name__, url_prefix="/api/v1/incidents")
#: Internal fields staff see besides the Open311 ones (never the tracking token).
STAFF_FIELDS = ("version", "reporter", "assigned_to", "department", "verification_failures", "penalty",
                "overdue_count", "weight", "source")


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return open311.iso(value)
    return value.item() if hasattr(value, "item") else value


def incident_json(row: dict[str, Any], service: IncidentService, *, staff: bool) -> dict[str, Any]:
    body = open311.request_dict(row, service.policy.catalogue, current_language())
    if staff:
        body["internal"] = {name: _plain(row.get(name)) for name in STAFF_FIELDS}
    return body


def events_json(events: pd.DataFrame) -> list[dict[str, Any]]:
    return [{"seq": int(e["seq"]), "at": open311.iso(e["at"]), "actor": e["actor"], "action": e["action"],
             "from_status": _plain(e["from_status"]), "to_status": e["to_status"], "note": _plain(e["note"]),
             "detail": _plain(e["detail"])} for e in events.to_dict("records")]


def allowed_actions(state: IncidentState, principal: Principal, token: str | None) -> list[str]:
    """Actions for buttons: the principal's own, plus the reporter's when the token matches."""
    names = [a.value for a in actions_for(state, principal)]
    if is_reporter(state, principal, token):
        names += [a.value for a, rule in RULES.items()
                  if rule.reporter_may and state.status in rule.sources and a.value not in names]
    return names


def check_can_view(state: IncidentState, principal: Principal, token: str | None) -> bool:
    """True for staff in the area (they see internal fields), False for the reporter holding the token;
    401 for the public, and for staff elsewhere the same 404 as for a missing incident."""
    check_visible(state, principal, token)
    if principal.is_public or (principal.role not in STAFF_ROLES and principal.role is not Role.ADMIN
                               and is_reporter(state, principal, token)):
        return False
    require_staff(principal)
    return True


@bp.get("/<incident_id>")
def detail(incident_id: str) -> dict[str, Any]:
    service = incident_service()
    principal = request_principal()
    token = request.args.get("token")
    row = service.get(incident_id)
    state = IncidentState.from_row(row)
    staff = check_can_view(state, principal, token)
    return {"ok": True, "incident": incident_json(row, service, staff=staff),
            "events": events_json(service.events(incident_id)),
            "actions": allowed_actions(state, principal, token)}


@bp.post("/<incident_id>/actions")
def act(incident_id: str) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError('the body must be a JSON object such as {"action": "open_case"}', code="malformed_body")
    principal = request_principal(body)
    service = incident_service()
    row = service.act(principal, incident_id, action_request_from_fields(body))
    names = category_names(service, row.get("category"))
    publish_quietly(incident_event("incident.updated", row, category_names=names))
    staff = not principal.is_public
    return {"ok": True, "incident": incident_json(row, service, staff=staff)}


@bp.get("/duplicates")
def duplicates() -> dict[str, Any]:
    """Open look-alikes of a report that is about to be made (the form asks while the pin moves)."""
    service = incident_service()
    data: ReportInput = report_input_from_fields(request.args, service.policy.catalogue)
    lon, lat, grid, community, _ = service.locate(data)
    found = service.duplicates(lon, lat, category=data.category, grid_code=grid)
    return {"ok": True, "lon": lon, "lat": lat, "grid_code": grid, "community_code": community,
            "duplicates": [d.to_dict() for d in found]}


def incidents_part() -> ApiPart:
    """The OpenAPI description of /api/v1/incidents (Open311 at /open311/v2 follows its own standard)."""
    from gridmap.portal.apidoc import ApiPart

    def error(text: str) -> dict[str, Any]:
        return {"description": text, "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/Error"}}}}

    ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    iid = {"name": "incident_id", "in": "path", "required": True, "schema": {"type": "string"}}
    token = {"name": "token", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "The reporter's tracking token (instead of staff credentials)."}
    action_body = {"type": "object", "required": ["action"], "properties": {
        "action": {"type": "string", "enum": [a.value for a in RULES if a.value != "card"]},
        "note": {"type": "string", "maxLength": 2000}, "assigned_to": {"type": "string"},
        "department": {"type": "string"}, "satisfaction": {"type": "integer", "minimum": 1, "maximum": 5},
        "to_level": {"type": "string"}, "duplicate_of": {"type": "string"},
        "version": {"type": "integer", "description": "Compare-and-set: 409 when the incident moved on."},
        "token": {"type": "string"}}}
    return ApiPart(paths={
        "/api/v1/incidents/{incident_id}": {"get": {
            "summary": "One incident with its event timeline and the actions the caller may take",
            "operationId": "incident", "parameters": [iid, token],
            "responses": {"200": ok, "401": error("Sign in, send an API key or the tracking token"),
                          "404": error("No such incident in the caller's area")}}},
        "/api/v1/incidents/{incident_id}/actions": {"post": {
            "summary": "One move of the closed loop (立案, 派遣, 处置, 核查, 结案, 评价, 上报, 督办, 点评)",
            "operationId": "incidentAction", "parameters": [iid],
            "requestBody": {"required": True, "content": {"application/json": {"schema": action_body}}},
            "responses": {"200": ok, "400": error("Incomplete request"), "401": error("Not signed in"),
                          "403": error("Role or area may not do this"), "404": error("No such incident"),
                          "409": error("Illegal in the current status, or a stale version")}}},
        "/api/v1/incidents/duplicates": {"get": {
            "summary": "Open incidents of the same category near a point in the same grid (the report form)",
            "operationId": "incidentDuplicates",
            "parameters": [{"name": n, "in": "query", "required": n != "crs", "schema": {"type": "string"}}
                           for n in ("service_code", "lat", "long", "crs")],
            "responses": {"200": ok, "400": error("Bad input or outside the service area")}}},
    })
