"""Command-centre pages: the live map of grid workers, the workers registry and the patrol analytics.

* ``/command`` (G-8): the caller's area on a map (outlines, grids, open incidents: the dashboard's map
  builder) plus every worker's newest position coloured by state (in own grid, outside it, stale),
  filtered by street or community, moved live by server-sent events (``static/js/command.js``);
  click a worker for the card and today's track.
* ``/workers`` and ``/workers/<id>``: the registry (name, role, phone, grids, A/B partner, device).
* ``/patrol``: time in own grid (R-15), patrol-a-day (R-16), street/building/point coverage (G-31),
  per worker and per grid, per day or month, as a table, inline SVG charts and CSV.

Roles: command centre and analysts (and admins) for positions; planners may also read the registry.
Everything is scoped to the caller's area (``Principal.covers`` on the worker's main grid).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from flask import Blueprint, current_app, render_template, request, url_for

from gridmap import schema
from gridmap.model import AreaLevel, Role
from gridmap.portal.auth import current_principal, roles_required, rows_in_scope
from gridmap.portal.home.dashboard import dashboard_map
from gridmap.portal.i18n.tracking import command_text, command_texts
from gridmap.portal.i18n.translator import current_language
from gridmap.portal.lookup.photos import photo_dir
from gridmap.portal.maps.assets import fragments_from_map
from gridmap.portal.state import csp_nonce, portal_state
from gridmap.portal.tracking.api import patrol_from_request, worker_json
from gridmap.portal.tracking.charts import Series, share_bars_svg
from gridmap.services.field import FieldService
from gridmap.services.field_reports import field_assessment, rules_from_settings, visit_coverage_report
from gridmap.services.photos import public_photo_url
from gridmap.services.tracking import (
    OWN_SHARE_TARGET,
    PATROL_ROLES,
    POSITION_ROLES,
    GeofenceEvent,
    PatrolReport,
    check_area_filter,
    local_day,
    tracking_zone,
)
from gridmap.services.workers import REGISTRY_ROLES, worker_record, workers_in_scope

bp = Blueprint("command", __name__)
#: Texts command.js needs (keys by prefix).
JS_TEXT_PREFIXES = ("state.", "command.", "card.", "role.")


@bp.app_context_processor
def _texts() -> dict[str, Any]:
    lang = current_language()
    return {"ct": lambda key, **params: command_text(key, lang, **params)}


def area_choices(principal: Any) -> list[dict[str, str]]:
    """Streets and communities of the caller's area, for the filter (code, name, level)."""
    areas = portal_state().store.read(schema.AREAS, columns=["code", "name", "level"])
    areas = rows_in_scope(areas, principal)
    wanted = areas["level"].isin([AreaLevel.STREET.value, AreaLevel.COMMUNITY.value])
    rows = areas.loc[wanted].sort_values("code")
    return [{"code": str(r.code), "name": str(r.name), "level": str(r.level)} for r in rows.itertuples()]


@bp.get("/command")
@roles_required(*POSITION_ROLES)
def live_page() -> str:
    """The live worker map (G-8)."""
    state = portal_state()
    principal = current_principal()
    lang = current_language()
    area = check_area_filter(request.args.get("area"))
    m = dashboard_map(state.store, principal, lang)
    fragments = fragments_from_map(m, static_url=url_for("static", filename="").rstrip("/"), nonce=csp_nonce())
    events = url_for("live.events") if "live.events" in current_app.view_functions else None
    config = {
        "map": m.get_name(),
        "positions": url_for("tracking.positions"),
        "track": url_for("tracking.track", worker_id="__ID__"),
        "worker": url_for("command.worker_page", worker_id="__ID__"),
        "events": events,
        "area": area or "",
        "stale_after_s": float(state.settings.stale_position_minutes) * 60.0,
        "messages": command_texts(lang, JS_TEXT_PREFIXES),
    }
    return render_template("tracking/command.html", map=fragments, config=config, areas=area_choices(principal),
                           area=area, alerts=todays_alerts(principal, area))


def todays_alerts(principal: Any, area: str | None) -> list[dict[str, Any]]:
    """Today's outside-grid alerts in the caller's area, newest first (the live ones are added by SSE)."""
    state = portal_state()
    today = local_day(datetime.now(UTC), tracking_zone(state.settings))
    rows = state.store.read(schema.GEOFENCE_EVENTS, where={"day": today, "event": GeofenceEvent.ALERT.value},
                            columns=["worker_id", "grid_code", "at", "minutes_outside"])
    rows = rows_in_scope(rows, principal, column="grid_code")
    if area:
        rows = rows.loc[rows["grid_code"].astype(str).str.startswith(area)]
    names = {}
    if len(rows):
        workers = state.store.read(schema.WORKERS, where={"worker_id": sorted(set(rows["worker_id"]))},
                                   columns=["worker_id", "name"])
        names = dict(zip(workers["worker_id"], workers["name"], strict=True))
    newest = rows.sort_values("at", ascending=False).head(50)
    return [{"worker_id": str(w), "name": names.get(w, str(w)), "minutes": round(float(m or 0)),
             "at": pd.Timestamp(t).to_pydatetime()}
            for w, m, t in zip(newest["worker_id"], newest["minutes_outside"], newest["at"], strict=True)]


@bp.get("/workers")
@roles_required(*REGISTRY_ROLES)
def workers_page() -> str:
    """The registry of the caller's area (``?area=`` narrows it)."""
    principal = current_principal()
    area = check_area_filter(request.args.get("area"))
    frame = workers_in_scope(portal_state().store, principal, area=area)
    rows = [worker_json({str(k): v for k, v in r.items()}) for r in frame.to_dict("records")]
    return render_template("tracking/workers.html", workers=rows, areas=area_choices(principal), area=area)


@bp.get("/workers/<worker_id>")
@roles_required(*REGISTRY_ROLES)
def worker_page(worker_id: str) -> str:
    """One worker's card: contact, grids, partner, device and (for position roles) the newest position."""
    principal = current_principal()
    store = portal_state().store
    record = worker_record(store, principal, worker_id)
    latest = None
    if principal.role is Role.ADMIN or principal.role in POSITION_ROLES:
        device = record.get("device_id")
        rows = store.read(schema.LATEST_POSITIONS, where={"device_id": device}) if device else pd.DataFrame()
        if len(rows):
            row = rows.iloc[0]
            latest = {"fix_time": row["fix_time"].to_pydatetime(), "grid_code": row["grid_code"],
                      "lon": float(row.geometry.x), "lat": float(row.geometry.y)}
    photo = public_photo_url(record.get("photo"), photo_dir=photo_dir())
    return render_template("tracking/worker.html", worker=record, latest=latest, photo=photo)


def _floats(values: Any) -> list[float | None]:
    return [None if pd.isna(v) else float(v) for v in values]


def patrol_charts(report: PatrolReport, lang: str) -> list[Any]:
    """The page's charts: share of time in own grid per worker (target line 50%), and coverage per worker."""
    table = report.by_worker
    labels = table["name"].astype(str).tolist()
    own = share_bars_svg(labels, [Series(command_text("patrol.own_share", lang), _floats(table["own_share"]),
                                         "#2e7d32")],
                         title=command_text("patrol.chart_share", lang), target=OWN_SHARE_TARGET, testid="chart-own")
    cover = share_bars_svg(labels, [
        Series(command_text("patrol.streets", lang), _floats(table["street_share"]), "#1d6fa5"),
        Series(command_text("patrol.buildings", lang), _floats(table["building_share"]), "#8e44ad")],
        title=command_text("patrol.chart_coverage", lang), testid="chart-coverage")
    return [{"svg": own, "caption": command_text("patrol.chart_share", lang)},
            {"svg": cover, "caption": command_text("patrol.chart_coverage", lang)}]


def field_tables(principal: Any, report: PatrolReport) -> dict[str, Any]:
    """Home-visit coverage per grid (D-11) and the field assessment per worker (A-5, G-31) of the report's
    month, for the same area filter."""
    state = portal_state()
    month = report.label if report.period == "month" else report.days[0][:7]
    area = request.args.get("area") or None
    service = FieldService(state.store, state.settings)

    def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
        plain = frame.astype(object).where(frame.notna(), None)
        return [{str(k): v for k, v in r.items()} for r in plain.to_dict("records")]

    return {"month": month, "rules": rules_from_settings(state.settings),
            "coverage": records(visit_coverage_report(service, principal, month=month, area=area)),
            "assessment": records(field_assessment(service, principal, month=month, area=area))}


@bp.get("/patrol")
@roles_required(*PATROL_ROLES)
def patrol_page() -> str:
    """Patrol analytics per worker and grid for a day or a month: table, charts, CSV links."""
    principal = current_principal()
    lang = current_language()
    report = patrol_from_request(principal)
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("period", "date", "area") and v}
    csv = {which: url_for("tracking.patrol", **{**args, "format": "csv", "table": which})
           for which in ("worker", "grid")}
    return render_template(
        "tracking/patrol.html", report=report, field=field_tables(principal, report),
        charts=patrol_charts(report, lang) if len(report.by_worker) else [],
        workers=report.by_worker.astype(object).where(report.by_worker.notna(), None).to_dict("records"),
        grids=report.by_grid.astype(object).where(report.by_grid.notna(), None).to_dict("records"),
        csv=csv, areas=area_choices(principal), area=request.args.get("area") or "",
        period=report.period, date=report.days[0] if report.period == "day" else report.label)
