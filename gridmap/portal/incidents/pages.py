"""Incident pages: the list with filters (事件列表), one incident with its map and timeline, the report
form with a map pin (and a CSV/GeoJSON import), and the assessment page with charts and CSV export.

Pages stay thin: the service reads and changes the store, templates render; every user string is
escaped by Jinja, the scripts insert data with ``textContent`` only (also in map popups). Incidents
are not public: the list, the detail and the assessment need a staff principal covering the area;
the reporter sees their own incident with the tracking token (``?token=``). The report form is open
to everyone when ``Settings.allow_anonymous_reports`` is on.

Map size: the list embeds at most ``LIST_LIMIT`` incident points and the detail page one point
and one grid, whatever the size of the city. The grids drawn for context are the caller's
(``/api/v1/areas?level=grid``: all for the public, the account's area when signed in); above
``Settings.tiled_map_min_grids`` of them (the switch of every portal map) they come from the
``/tiles/grids`` vector tiles instead, scoped by the same rule, so the browser never downloads a
city's grids as one GeoJSON.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from gridmap.auth.principal import Principal, require_area, require_role
from gridmap.errors import NotFoundError, ValidationError
from gridmap.model import Role
from gridmap.portal.auth import login_required
from gridmap.portal.i18n.incidents import incident_text, texts_for
from gridmap.portal.i18n.translator import current_language
from gridmap.portal.incidents.api import check_can_view, events_json
from gridmap.portal.incidents.charts import bar_chart, line_chart, pie_chart
from gridmap.portal.incidents.open311 import incident_service, request_principal, require_staff
from gridmap.portal.maps.basemaps import basemap_from_settings
from gridmap.portal.maps.tiled import city_tiles_root, tile_source
from gridmap.portal.state import portal_state
from gridmap.services.hierarchy_view import base_grid_count
from gridmap.services.incident_import import import_incidents
from gridmap.services.incidents import (
    LADDER,
    IncidentFilter,
    IncidentState,
    Status,
    assessment,
    assessment_frame,
    is_overdue,
    open311,
    status_from_text,
)

bp = Blueprint("incidents", __name__)
WINDOW_DAYS = (7, 30, 90, 365)
LIST_LIMIT = 500


@bp.app_context_processor
def _texts() -> dict[str, Any]:
    lang = current_language()
    return {"it": lambda key, **params: incident_text(key, lang, **params)}


def page_principal(fields: dict[str, Any] | None = None) -> Principal:
    """The caller of a page (see open311_api.request_principal)."""
    return request_principal(fields)


def _to_login() -> WerkzeugResponse:
    return redirect(url_for("account.login", next=request.full_path.rstrip("?")))


def _map_config(principal: Principal) -> dict[str, Any]:
    """Bounds, basemap tiles and the caller's grids for Leaflet (AMap's GCJ-02 tiles would need shifted overlays).

    The grids: ``gridTiles`` (vector tiles) when the caller sees a city's worth of them, else
    ``gridsUrl`` (one GeoJSON); both give what ``principal`` may see of the public grids layer.
    No ``minZoom`` for the tiles: Leaflet would make it the map's minimum, and the list must be
    able to fit a city's incidents (below zoom 10 the grids tiles are empty, and nothing is drawn).
    """
    state = portal_state()
    basemap = basemap_from_settings(state.settings, lang=current_language())
    bounds = incident_service().lookup.index().bounds
    tiles = [] if basemap.overlay_crs != "EPSG:4326" else [
        {"url": t.url, "attribution": t.attribution, "subdomains": t.subdomains or "abc", "maxZoom": t.max_zoom}
        for t in basemap.tiles]
    visible = base_grid_count(state.store, "" if principal.is_public else principal.area_code)
    root = city_tiles_root(visible, state.settings, basemap, script_root=request.script_root)
    grids: dict[str, Any] = ({"gridsUrl": "/api/v1/areas?level=grid"} if root is None
                             else {"gridTiles": tile_source("grids", root)})
    return {"bounds": None if bounds is None else [[bounds[1], bounds[0]], [bounds[3], bounds[2]]],
            "tiles": tiles, "background": basemap.background, **grids}


def _choice(name: str, allowed: list[str]) -> str | None:
    value = request.args.get(name, "").strip()
    if value and value not in allowed:
        raise ValidationError(f"{name}={value!r}: choose one of {', '.join(allowed)}")
    return value or None


def _list_filter(principal: Principal, now: datetime) -> tuple[IncidentFilter, dict[str, Any]]:
    service = incident_service()
    days = int(_choice("days", [str(d) for d in WINDOW_DAYS]) or 30)
    category = _choice("category", [c.service_code for c in service.policy.catalogue])
    status = _choice("status", [s.value for s in Status])
    level = _choice("level", [lv.value for lv in LADDER])
    area = request.args.get("area", "").strip() or None
    if area is not None:
        require_area(principal, area, what=f"area {area}")
    chosen = {"days": days, "category": category, "status": status, "level": level, "area": area,
              "overdue": request.args.get("overdue") == "1"}
    return IncidentFilter(
        start=now - timedelta(days=days), end=now + timedelta(seconds=1),
        categories=service.stored_categories([category]) if category else None,
        statuses=(status,) if status else None, levels=(level,) if level else None,
        area_code=area or principal.area_code or None, limit=LIST_LIMIT,
    ), chosen


def _local(value: Any) -> str | None:
    """A stored instant as China time for people: ``2025-03-01 09:30``."""
    text = open311.iso(value)
    return None if text is None else text[:16].replace("T", " ")


def _row_view(row: dict[Any, Any], lang: str, now: datetime) -> dict[str, Any]:
    service = incident_service()
    category = service.policy.catalogue.find(row["category"])
    lon, lat = row.get("lon"), row.get("lat")
    if lon is None and row.get("geometry") is not None:
        lon, lat = float(row["geometry"].x), float(row["geometry"].y)
    return {
        "id": row["incident_id"], "category": category.name(lang) if category else row["category"],
        "status": row["status"], "level": row.get("level") or "grid", "grid": row.get("grid_code"),
        "reported": _local(row["reported_at"]), "deadline": _local(row.get("deadline_at")),
        "overdue": is_overdue(row, now=now, catalogue=service.policy.catalogue),
        "card": row.get("card") if isinstance(row.get("card"), str) else None,
        "supervised": bool(row.get("supervised")) if not pd.isna(row.get("supervised")) else False,
        "description": row.get("description") if isinstance(row.get("description"), str) else "",
        "lat": lat, "lon": lon,
        "failures": 0 if pd.isna(row.get("verification_failures")) else int(row["verification_failures"]),
    }


@bp.get("/incidents")
@login_required
def list_page() -> str:
    principal = page_principal()
    require_staff(principal)
    service = incident_service()
    now = service.now()
    f, chosen = _list_filter(principal, now)
    lang = current_language()
    rows = [_row_view(r, lang, now) for r in service.matching(f)]
    if chosen["overdue"]:
        rows = [r for r in rows if r["overdue"]]
    return render_template(
        "incidents/list.html", rows=rows, chosen=chosen, limit=LIST_LIMIT, windows=WINDOW_DAYS, statuses=list(Status),
        levels=LADDER, categories=list(service.policy.catalogue), config=_map_config(principal),
        points=[{k: r[k] for k in ("id", "lat", "lon", "status", "category", "overdue")} for r in rows],
        messages=texts_for(("status.", "col."), lang))


@bp.get("/incidents/<incident_id>")
def detail_page(incident_id: str) -> str | WerkzeugResponse:
    principal = page_principal()
    token = request.args.get("token") or None
    if principal.is_public and token is None:
        return _to_login()
    service = incident_service()
    row = service.get(incident_id)
    state = IncidentState.from_row(row)
    staff = check_can_view(state, principal, token)
    lang = current_language()
    grid_shape = None
    if state.grid_code:
        try:
            grid_shape = shapely.geometry.mapping(service.lookup.index().grid_geometry(state.grid_code))
        except NotFoundError:
            grid_shape = None  # the grid was retired since: show the point only
    events = events_json(service.events(incident_id))
    for e in events:
        e["shown_at"] = (e["at"] or "")[:19].replace("T", " ")
        if not staff:
            e["actor"] = incident_text("detail.actor_hidden", lang)
    view = _row_view(row, lang, service.now())
    config = {**_map_config(principal), "incidentId": incident_id, "token": token, "point": [view["lat"], view["lon"]],
              "grid": grid_shape, "apiUrl": f"/api/v1/incidents/{incident_id}", "levels": [lv.value for lv in LADDER]}
    return render_template(
        "incidents/detail.html", row=row, view=view, events=events, staff=staff, config=config,
        status=status_from_text(row["status"]), open311=open311.request_dict(row, service.policy.catalogue, lang),
        messages=texts_for(("action.", "detail.", "level.", "status."), lang))


@bp.get("/incidents/new")
def new_page(*, imported: dict[str, Any] | None = None) -> str:
    service = incident_service()
    lang = current_language()
    principal = page_principal()
    categories = [{"code": c.service_code, "name": c.name(lang), "group": c.group(lang), "urgent": c.urgent}
                  for c in service.policy.catalogue]
    return render_template(
        "incidents/new.html", categories=categories,
        config={**_map_config(principal), "postUrl": "/open311/v2/requests.json",
                "duplicatesUrl": "/api/v1/incidents/duplicates"},
        anonymous=portal_state().settings.allow_anonymous_reports, signed_in=not principal.is_public,
        imported=imported, messages=texts_for(("form.",), lang))


@bp.post("/incidents/import")
def import_page() -> str:
    fields = {k: request.form.get(k) for k in request.form}
    principal = page_principal(fields)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationError("choose a CSV or GeoJSON file to import")
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in (".csv", ".geojson", ".json"):
        raise ValidationError(f"{upload.filename}: import a .csv or .geojson file")
    service = incident_service()
    with tempfile.TemporaryDirectory(prefix="gridmap-import-") as tmp:
        path = Path(tmp) / (Path(upload.filename).stem[:60] + suffix)
        upload.save(path)
        result = import_incidents(service.store, service.settings, service, principal, path,
                                  crs=fields.get("crs") or None, now=service.now())
    return new_page(imported={"n": result.written, "file": upload.filename, "ids": result.incident_ids[:20]})


def _assessment_args(principal: Principal) -> tuple[str, datetime, datetime]:
    unit = _choice("unit", list(assessment.UNIT_COLUMNS)) or "grid"
    now = incident_service().now()
    end = open311.datetime_from_text(request.args["end"], name="end") if request.args.get("end") else now
    start = (open311.datetime_from_text(request.args["start"], name="start") if request.args.get("start")
             else end - timedelta(days=365))
    if end <= start:
        raise ValidationError("end must be later than start")
    return unit, start, end


def _assessment_data(principal: Principal) -> dict[str, Any]:
    require_role(principal, Role.COMMAND, Role.ANALYST)
    unit, start, end = _assessment_args(principal)
    service = incident_service()
    frame = assessment_frame(service, start=start, end=end, area_code=principal.area_code)
    rules = service.policy.scoring
    metrics = assessment.unit_metrics(frame, unit=unit, rules=rules)
    workers = service.store.read("workers", columns=["worker_id", "name", "grid_code", "partner_worker_id"])
    grid_metrics = metrics if unit == "grid" else assessment.unit_metrics(frame, unit="grid", rules=rules)
    return {"unit": unit, "start": start, "end": end, "frame": frame, "metrics": metrics,
            "ab": assessment.ab_scores(grid_metrics, workers, rules=rules), "rules": rules}


_PERCENT = ("closure_rate", "on_time_rate")
_COUNTS = ("received", "closed", "verification_failures", "yellow_cards", "red_cards", "rank")


def _shown(record: dict[Any, Any], lang: str) -> dict[str, str]:
    """A metrics row as display text: percentages, whole counts, one decimal; missing values as a dash."""
    out: dict[str, str] = {}
    for key, value in record.items():
        name = str(key)
        if value is None or (isinstance(value, float) and pd.isna(value)):
            out[name] = "—"
        elif isinstance(value, bool | np.bool_):
            out[name] = incident_text("assess.yes" if value else "assess.no", lang)
        elif name in _PERCENT:
            out[name] = f"{float(value):.0%}"
        elif name in _COUNTS:
            out[name] = str(int(value))
        elif isinstance(value, float):
            out[name] = f"{value:.1f}"
        else:
            out[name] = str(value)
    return out


@bp.get("/assessment")
@login_required
def assessment_page() -> str:
    data = _assessment_data(page_principal())
    lang = current_language()
    metrics, frame, rules = data["metrics"], data["frame"], data["rules"]
    top = metrics.head(15)
    catalogue = incident_service().policy.catalogue
    cats = assessment.by_category(frame)
    names = [c.name(lang) if (c := catalogue.find(v)) else v for v in cats["category"]]
    trend = assessment.trend(frame)
    charts = {
        "bar": bar_chart(top["unit"].astype(str).tolist(), top["score"].astype(float).fillna(0.0).tolist(),
                         title=incident_text("assess.bar", lang, n=len(top)), marker=rules.pass_score,
                         marker_label=incident_text("assess.pass_line", lang, score=f"{rules.pass_score:g}")),
        "pie": pie_chart(names, cats["count"].astype(float).tolist(), title=incident_text("assess.pie", lang)),
        "trend": line_chart([p.strftime("%Y-%m") for p in trend["period"]],
                            {incident_text("assess.series.received", lang): trend["received"].tolist(),
                             incident_text("assess.series.closed", lang): trend["closed"].tolist()},
                            title=incident_text("assess.trend", lang)),
    }
    return render_template("incidents/assessment.html", data=data, charts=charts, units=list(assessment.UNIT_COLUMNS),
                           rows=[_shown(r, lang) for r in metrics.to_dict("records")],
                           ab=[_shown(r, lang) for r in data["ab"].to_dict("records")],
                           start=data["start"].date().isoformat(), end=data["end"].date().isoformat(),
                           total=len(frame))


@bp.get("/assessment.csv")
@login_required
def assessment_csv() -> Response:
    data = _assessment_data(page_principal())
    body = data["metrics"].to_csv(index=False)
    name = f"assessment-{data['unit']}-{data['start']:%Y%m%d}-{data['end']:%Y%m%d}.csv"
    return Response("\ufeff" + body, mimetype="text/csv",  # BOM: Excel opens UTF-8 Chinese correctly
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
