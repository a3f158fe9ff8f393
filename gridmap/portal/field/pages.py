"""Field pages: ``/field`` (the worker's mobile page, an installable PWA) and ``/field/diaries`` (leaders).

* ``/field``: today's tasks of the worker's own grid, a small map with their position, and the forms
  (check-in, home visit, log). Entries and photos are queued in IndexedDB and uploaded when online,
  exactly once (the phone's UUIDs); ``static/field/field.js``. Worker accounts only.
* ``/field/manifest.webmanifest`` and ``/field/sw.js``: the PWA's manifest and service worker, served
  under /field/ so the worker's scope is the page (icons, script and styles are local files).
* ``/field/diaries``: leaders (command role) read the logs of the workers of their area, mark them
  reviewed and comment (HTML forms, CSRF-checked, redirect back).
"""

from __future__ import annotations

from typing import Any

import shapely
from flask import Blueprint, Response, redirect, render_template, request, send_from_directory, url_for
from werkzeug.wrappers import Response as BaseResponse

from gridmap.model import Role
from gridmap.portal.auth import current_principal, roles_required
from gridmap.portal.field.api import record_json, services
from gridmap.portal.i18n.field import field_text, field_texts
from gridmap.portal.i18n.translator import current_language
from gridmap.portal.maps.assets import web_root
from gridmap.portal.state import portal_state
from gridmap.services.field import worker_of
from gridmap.services.generations import active_grids
from gridmap.services.tracking import tracking_zone

bp = Blueprint("field", __name__)


@bp.app_context_processor
def _texts() -> dict[str, Any]:
    lang = current_language()
    return {"ft": lambda key, **params: field_text(key, lang, **params)}


def _static_dir() -> str:
    return str(web_root() / "static" / "field")


@bp.get("/field")
@roles_required(Role.WORKER)
def field_page() -> str:
    """The worker's day (mobile first). The task list itself is loaded by the script from the API."""
    state = portal_state()
    me = worker_of(state.store, current_principal())
    grids = active_grids(state.store)
    mine = grids.loc[grids["code"].isin(me.grids)]
    outline = [shapely.geometry.mapping(g) for g in mine.geometry]
    config = {
        "worker_id": me.worker_id, "grid_code": me.grid_code, "grids": outline,
        "max_px": int(state.settings.field_photo_max_px),
        "time_zone": tracking_zone(state.settings).key,  # the day of a log is the server's patrol day
        "urls": {"today": url_for("field_api.today"), "points": url_for("field_api.points"),
                 "checkins": url_for("field_api.create_checkin"), "visits": url_for("field_api.create_visit"),
                 "diary": url_for("field_api.put_diary", worker_id=me.worker_id, day="__DAY__"),
                 "sw": url_for("field.service_worker"), "scope": url_for("field.field_page")},
        "texts": field_texts(current_language()),
    }
    return render_template("field/today.html", config=config, worker=me)


@bp.get("/field/manifest.webmanifest")
def manifest() -> Response:
    response = send_from_directory(_static_dir(), "manifest.webmanifest", mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/field/sw.js")
def service_worker() -> Response:
    """The service worker, from /field/ so that its scope covers the page (not the whole portal)."""
    response = send_from_directory(_static_dir(), "sw.js", mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/field/diaries")
@roles_required(Role.COMMAND)
def diaries_page() -> str:
    """Logs of the caller's area for a month (default this month), newest first, with their comments."""
    field, diary = services()
    principal = current_principal()
    month = request.args.get("month") or field.today()[:7]
    rows = diary.list(principal, month=month)
    full = [record_json({**diary.get(principal, r["worker_id"], r["day"])}) for r in rows[:200]]
    for entry in full:
        entry["comments"] = [record_json(c) for c in entry["comments"]]
    names = dict(zip(*[portal_state().store.read("workers", columns=["worker_id", "name"])[c]
                       for c in ("worker_id", "name")], strict=True))
    return render_template("field/diaries.html", diaries=full, month=month, names=names)


def _back() -> BaseResponse:
    return redirect(url_for("field.diaries_page", month=request.form.get("month") or None))


@bp.post("/field/diaries/<worker_id>/<day>/review")
@roles_required(Role.COMMAND)
def review(worker_id: str, day: str) -> BaseResponse:
    _, diary = services()
    diary.review(current_principal(), worker_id, day)
    return _back()


@bp.post("/field/diaries/<worker_id>/<day>/comment")
@roles_required(Role.COMMAND)
def comment(worker_id: str, day: str) -> BaseResponse:
    _, diary = services()
    diary.comment(current_principal(), worker_id, day, request.form.get("text"))
    return _back()
