"""The field JSON API (``/api/v1/field/...``): what the /field page and its offline queue call.

* ``GET  today``                           the worker's tasks of today (own grid only)
* ``GET  points``                          inspection points in scope (GeoJSON)
* ``POST checkins`` / ``POST visits``      multipart: ``data`` (JSON: ``id`` = the phone's UUID, ...) and
  ``photo`` files; 201 when stored, 200 with ``"replayed": true`` for an id already stored
* ``GET  checkins|visits?month=YYYY-MM``    own (worker) or the area's (leader)
* ``GET  diaries?worker_id=&month=``, ``GET|PUT diaries/<worker>/<day>``,
  ``POST diaries/<worker>/<day>/review``, ``POST diaries/<worker>/<day>/comments``
* ``GET  coverage?month=``                 visit and inspection coverage and the field assessment (leaders)
* ``GET  photos/<sha256>.jpg``              a photo of a record the caller may see

Every route authorises through the services (worker_of / require_leader): nothing here is public,
anonymous callers get 401. Session callers send the CSRF header on writes (gridmap.portal.csrf).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_file, url_for

from gridmap.errors import ValidationError
from gridmap.portal.auth import current_principal
from gridmap.portal.state import EXTENSION_KEY, PortalState
from gridmap.services.field import FieldService, Upload
from gridmap.services.field_diary import DiaryService
from gridmap.services.field_reports import (
    field_assessment,
    inspection_coverage_report,
    today_tasks,
    visit_coverage_report,
)

FIELD_KEY = "gridmap.field"
bp = Blueprint("field_api", __name__)


@bp.record_once
def _install(setup: Any) -> None:
    app: Flask = setup.app
    state = app.extensions[EXTENSION_KEY]
    assert isinstance(state, PortalState)
    app.extensions[FIELD_KEY] = (FieldService(state.store, state.settings), DiaryService(state.store, state.settings))


def services() -> tuple[FieldService, DiaryService]:
    """This app's field and diary services; visits report incidents through the portal's incident service."""
    field, diary = current_app.extensions[FIELD_KEY]
    assert isinstance(field, FieldService) and isinstance(diary, DiaryService)
    from gridmap.portal.incidents.open311 import SERVICE_KEY

    if field._incidents is None and SERVICE_KEY in current_app.extensions:
        field._incidents = current_app.extensions[SERVICE_KEY]
    return field, diary


def plain(value: Any) -> Any:
    """A store value as JSON: timestamps in ISO 8601, missing values as null."""
    if isinstance(value, list | dict):
        return value
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def record_json(row: dict[str, Any]) -> dict[str, Any]:
    """A check-in / visit / log row as JSON: lon/lat instead of geometry, photo URLs."""
    out = {k: plain(v) for k, v in row.items() if k not in ("geometry", "fid")}
    geom = row.get("geometry")
    if geom is not None and not isinstance(geom, float):
        out["lon"], out["lat"] = round(float(geom.x), 7), round(float(geom.y), 7)
    for photo in out.get("photos") or []:
        if isinstance(photo, dict) and photo.get("name"):
            photo["url"] = url_for("field_api.photo", name=photo["name"])
    return out


def frame_json(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [record_json({str(k): v for k, v in r.items()}) for r in frame.to_dict("records")]


def _entry() -> tuple[dict[str, Any], list[Upload]]:
    """The entry's fields (``data`` JSON part of a multipart form, or a JSON body) and its photo files."""
    if request.mimetype == "multipart/form-data":
        try:
            fields = json.loads(request.form.get("data") or "{}")
        except json.JSONDecodeError:
            raise ValidationError("the data part is not JSON") from None
        uploads = [(f.filename or "photo", f.read()) for f in request.files.getlist("photo")]
    else:
        fields, uploads = request.get_json(silent=True), []
    if not isinstance(fields, dict):
        raise ValidationError("send the entry as JSON (or a multipart form with a JSON data part)")
    return fields, uploads


def _stored(row: dict[str, Any], replayed: bool) -> tuple[Response, int]:
    return jsonify({"ok": True, "replayed": replayed, "entry": record_json(row)}), 200 if replayed else 201


@bp.get("/api/v1/field/today")
def today() -> Response:
    field, _ = services()
    return jsonify({"ok": True, **today_tasks(field, current_principal())})


@bp.get("/api/v1/field/points")
def points() -> Response:
    field, _ = services()
    frame = field.points_for(current_principal())
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(r["lon"]), float(r["lat"])]},
                 "properties": {k: v for k, v in r.items() if k not in ("lon", "lat")}} for r in frame_json(frame)]
    response = jsonify({"type": "FeatureCollection", "features": features})
    response.mimetype = "application/geo+json"
    return response


@bp.post("/api/v1/field/checkins")
def create_checkin() -> tuple[Response, int]:
    field, _ = services()
    fields, uploads = _entry()
    return _stored(*field.checkin(current_principal(), fields, uploads))


@bp.get("/api/v1/field/checkins")
def list_checkins() -> Response:
    field, _ = services()
    return jsonify({"ok": True, "checkins": frame_json(field.checkins_for(current_principal(),
                                                                         month=request.args.get("month")))})


@bp.post("/api/v1/field/visits")
def create_visit() -> tuple[Response, int]:
    field, _ = services()
    fields, uploads = _entry()
    return _stored(*field.visit(current_principal(), fields, uploads))


@bp.get("/api/v1/field/visits")
def list_visits() -> Response:
    field, _ = services()
    return jsonify({"ok": True, "visits": frame_json(field.visits_for(current_principal(),
                                                                     month=request.args.get("month")))})


@bp.get("/api/v1/field/diaries")
def list_diaries() -> Response:
    _, diary = services()
    rows = diary.list(current_principal(), worker_id=request.args.get("worker_id") or None,
                      month=request.args.get("month") or None)
    return jsonify({"ok": True, "diaries": [record_json(r) for r in rows]})


@bp.get("/api/v1/field/diaries/<worker_id>/<day>")
def get_diary(worker_id: str, day: str) -> Response:
    _, diary = services()
    row = diary.get(current_principal(), worker_id, day)
    row["comments"] = [record_json(c) for c in row["comments"]]
    return jsonify({"ok": True, "diary": record_json(row)})


@bp.put("/api/v1/field/diaries/<worker_id>/<day>")
def put_diary(worker_id: str, day: str) -> Response:
    _, diary = services()
    fields = request.get_json(silent=True)
    if not isinstance(fields, dict):
        raise ValidationError("send the log as JSON: {\"text\": ..., \"tags\": [...]}")
    row = diary.write(current_principal(), worker_id, day, fields)
    row["comments"] = [record_json(c) for c in row["comments"]]
    return jsonify({"ok": True, "diary": record_json(row)})


@bp.post("/api/v1/field/diaries/<worker_id>/<day>/review")
def review_diary(worker_id: str, day: str) -> Response:
    _, diary = services()
    row = diary.review(current_principal(), worker_id, day)
    row["comments"] = [record_json(c) for c in row["comments"]]
    return jsonify({"ok": True, "diary": record_json(row)})


@bp.post("/api/v1/field/diaries/<worker_id>/<day>/comments")
def comment_diary(worker_id: str, day: str) -> tuple[Response, int]:
    _, diary = services()
    body = request.get_json(silent=True) or {}
    row = diary.comment(current_principal(), worker_id, day, body.get("text") if isinstance(body, dict) else None)
    row["comments"] = [record_json(c) for c in row["comments"]]
    return jsonify({"ok": True, "diary": record_json(row)}), 201


@bp.get("/api/v1/field/coverage")
def coverage() -> Response:
    field, _ = services()
    principal = current_principal()
    month = request.args.get("month") or field.today()[:7]
    area = request.args.get("area") or None
    visits = visit_coverage_report(field, principal, month=month, area=area)
    return jsonify({"ok": True, "month": month,
                    "visits": [{k: plain(v) for k, v in r.items()} for r in visits.to_dict("records")],
                    "inspection": [{k: plain(v) for k, v in r.items()}
                                   for r in inspection_coverage_report(field, principal, month=month)
                                   .to_dict("records")],
                    "assessment": [{k: plain(v) for k, v in r.items()}
                                   for r in field_assessment(field, principal, month=month, area=area)
                                   .to_dict("records")]})


@bp.get("/api/v1/field/photos/<name>")
def photo(name: str) -> Response:
    field, _ = services()
    response = send_file(field.photo_path(current_principal(), name), mimetype="image/jpeg", max_age=3600)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
