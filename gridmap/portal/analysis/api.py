"""Analysis API (``/api/v1/analysis/...``): hotspots, emerging hotspots, coverage, statistics, heat points.

Who: signed-in analysts, command-centre staff and planners (admins always), by session or API key.
Everything is scoped to the caller's area (``Principal.area_code``); ``?area=CODE`` narrows it to a
part of that area and is refused (403) outside it, decided from the code alone so the answer does
not reveal whether the area exists. The public gets 401.

Routes (GET):

* ``/hotspots?cells=grids|communities|h3:RES|square:METRES&method=gi_star|local_moran&permutations=999
  &seed=0&fdr=1&per_households=0&weight=COLUMN&category=..&start=..&end=..&area=..`` -> GeoJSON with a
  ``gridmap`` member holding the summary; ``&emerging=1&period=month|week`` -> emerging categories;
* ``/coverage?distance=1000&method=network|line&area=..`` -> JSON report;
* ``/stats?level=district|street|community|grid|estate&area=..[&format=csv]`` -> JSON rows or CSV;
* ``/heat?category=..&start=..&end=..&area=..`` -> heat layers as [lat, lon, weight] rows.

Web limits (a request must stay a few seconds): at most ``MAX_WEB_PERMUTATIONS`` permutations,
H3 resolution at most ``MAX_WEB_H3_RESOLUTION``, squares at least ``MIN_WEB_SQUARE_M``. The CLI has
no such limits. Bad input is a ValidationError (400) mapped by ``gridmap.portal.errors``.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, request

from gridmap import schema
from gridmap.auth.principal import Principal, require_area, require_role
from gridmap.errors import ValidationError
from gridmap.model import Role
from gridmap.portal.auth import current_principal
from gridmap.portal.state import portal_state
from gridmap.services.analysis import (
    METHODS,
    STAT_LEVELS,
    CellSpec,
    HotspotOptions,
    cell_spec_from_text,
    check_area_code,
    coverage_from_store,
    emerging_from_store,
    heat_layers,
    hotspots_from_store,
    incidents_in_scope,
    statistics_csv,
    stats_from_store,
    summary_of,
)
from gridmap.services.analysis_files import geojson_from_frame

bp = Blueprint("analysis_api", __name__, url_prefix="/api/v1/analysis")

ANALYSIS_ROLES: tuple[Role, ...] = (Role.ANALYST, Role.COMMAND, Role.PLANNER)
MAX_WEB_PERMUTATIONS = 9_999
MAX_WEB_H3_RESOLUTION = 10
MIN_WEB_SQUARE_M = 100.0
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}
_NUMERIC = {c.name for c in schema.INCIDENTS_SPEC.columns if c.type in ("int", "float")}


def analysis_principal() -> Principal:
    """The caller, who must hold an analysis role (401 for the public, 403 for other roles)."""
    principal = current_principal()
    require_role(principal, *ANALYSIS_ROLES)
    return principal


def analysis_area(principal: Principal) -> str:
    """``?area=`` inside the caller's area (403 outside), else the caller's whole area ("" = everything)."""
    area = check_area_code(request.args.get("area"))
    if not area:
        return principal.area_code
    require_area(principal, area, what=f"area {area}")
    return area


def flag(name: str, *, default: bool) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValidationError(f"{name}={raw!r}: use 1 or 0")


def integer(name: str, *, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"{name}={raw!r} is not a whole number") from None
    if not lo <= value <= hi:
        raise ValidationError(f"{name}={value}: use {lo} to {hi} on the web (the CLI has no limit)")
    return value


def web_cell_spec() -> CellSpec:
    spec = cell_spec_from_text(request.args.get("cells", "grids"))
    if spec.kind == "h3" and (spec.h3_resolution or 0) > MAX_WEB_H3_RESOLUTION:
        raise ValidationError(f"cells={spec}: the web allows H3 resolution up to {MAX_WEB_H3_RESOLUTION}")
    if spec.kind == "square" and (spec.size_m or 0) < MIN_WEB_SQUARE_M:
        raise ValidationError(f"cells={spec}: the web allows squares of {MIN_WEB_SQUARE_M:g} m or more")
    return spec


def window_args() -> dict[str, Any]:
    """category (repeatable), start, end."""
    categories = [c for c in request.args.getlist("category") if c.strip()]
    return {"categories": categories or None, "start": request.args.get("start") or None,
            "end": request.args.get("end") or None}


def hotspot_options() -> HotspotOptions:
    method = request.args.get("method", "gi_star")
    if method not in METHODS:
        raise ValidationError(f"method={method!r}: use {' or '.join(METHODS)}")
    weight = request.args.get("weight") or None
    if weight is not None and weight not in _NUMERIC:
        raise ValidationError(f"weight={weight!r}: not a numeric incident column ({', '.join(sorted(_NUMERIC))})")
    return HotspotOptions(
        method=method, permutations=integer("permutations", default=999, lo=0, hi=MAX_WEB_PERMUTATIONS),
        seed=integer("seed", default=0, lo=0, hi=2**31 - 1), fdr=flag("fdr", default=True),
        per_households=flag("per_households", default=False), weight_column=weight,
    )


def period_arg() -> str:
    period = request.args.get("period", "month")
    if period not in ("week", "month"):
        raise ValidationError(f"period={period!r}: use week or month")
    return period


def _geojson(frame: Any, summary: dict[str, Any]) -> Response:
    body = json.dumps(geojson_from_frame(frame, summary=summary), ensure_ascii=False)
    return Response(body, mimetype="application/geo+json")


@bp.get("/hotspots")
def hotspots() -> Response:
    """Hot and cold spots (or emerging categories with ``emerging=1``) of the caller's area, as GeoJSON."""
    principal = analysis_principal()
    area = analysis_area(principal)
    store = portal_state().store
    if flag("emerging", default=False):
        em = emerging_from_store(store, cells=web_cell_spec(), period=period_arg(), area_code=area, **window_args(),
                                 seed=integer("seed", default=0, lo=0, hi=2**31 - 1), fdr=flag("fdr", default=True))
        return _geojson(em.frame, {**em.summary, "periods": em.periods})
    result = hotspots_from_store(store, cells=web_cell_spec(), options=hotspot_options(), area_code=area,
                                 **window_args())
    return _geojson(result.frame, result.summary)


@bp.get("/coverage")
def coverage() -> dict[str, Any]:
    """Coverage queries of the caller's area (JSON)."""
    principal = analysis_principal()
    area = analysis_area(principal)
    method = request.args.get("method", "network")
    distance = integer("distance", default=1000, lo=1, hi=50_000)
    report = coverage_from_store(portal_state().store, area_code=area, distance_m=float(distance), method=method)
    return {"ok": True, **report.to_dict()}


def stats_level() -> str:
    level = request.args.get("level", "community")
    if level not in STAT_LEVELS:
        raise ValidationError(f"level={level!r}: use one of {', '.join(STAT_LEVELS)}")
    return level


@bp.get("/stats")
def stats() -> Any:
    """Per-area statistics of the caller's area: JSON rows and totals, or CSV with ``format=csv``."""
    principal = analysis_principal()
    area = analysis_area(principal)
    state = portal_state()
    result = stats_from_store(state.store, state.settings, level=stats_level(), area_code=area)
    if request.args.get("format") == "csv":
        return Response(statistics_csv(result), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="stats-{result.level}.csv"'})
    table = result.table()
    rows = table.astype(object).where(table.notna(), None).to_dict("records")
    return {"ok": True, **summary_of(result), "rows": rows}


@bp.get("/heat")
def heat() -> dict[str, Any]:
    """Heat layers (all incidents and per category) of the caller's area, aggregated when large."""
    principal = analysis_principal()
    area = analysis_area(principal)
    incidents = incidents_in_scope(portal_state().store, area_code=area, **window_args())
    layers = heat_layers(incidents)
    return {"ok": True, "incidents": layers.all.incidents, "resolution": layers.all.resolution,
            "all": layers.all.data.tolist(),
            "categories": {k: v.data.tolist() for k, v in layers.categories.items()}}


def analysis_part() -> Any:
    """The OpenAPI description of ``/api/v1/analysis`` (appended to ``openapi.API_PARTS``)."""
    from gridmap.portal.apidoc import ApiPart

    def query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description,
                "schema": schema or {"type": "string"}}

    ref = {"$ref": "#/components/schemas/Error"}
    error = {"description": "Error", "content": {"application/json": {"schema": ref}}}
    errors = {str(s): error for s in (400, 401, 403)}
    area = query("area", "Only this part of the caller's area (district/street/community/grid code)")
    window = [query("category", "Only this category (repeatable)"), query("start", "Reported at or after (ISO 8601)"),
              query("end", "Reported before (ISO 8601)")]
    geojson = {"description": "GeoJSON FeatureCollection; the summary in its 'gridmap' member",
               "content": {"application/geo+json": {"schema": {"type": "object"}}}}
    ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    hot_params = [query("cells", "grids | communities | h3:RES (<= 10) | square:METRES (>= 100)"),
                  query("method", "gi_star | local_moran"),
                  query("permutations", f"0 (normal approximation) or 9..{MAX_WEB_PERMUTATIONS}", {"type": "integer"}),
                  query("seed", "Seed of the permutations", {"type": "integer"}),
                  query("fdr", "False Discovery Rate correction: 1 (default) or 0"),
                  query("per_households", "Rates per 100 households: 1 or 0"),
                  query("weight", "Sum this numeric incident column instead of counting"),
                  query("emerging", "1: emerging-hotspot categories instead"), query("period", "week | month"),
                  *window, area]
    return ApiPart(paths={
        "/api/v1/analysis/hotspots": {"get": {
            "summary": "Gi* / local Moran's I hotspots (z, p, -3..+3 bin per cell) or emerging categories",
            "operationId": "analysisHotspots", "parameters": hot_params, "responses": {"200": geojson, **errors}}},
        "/api/v1/analysis/coverage": {"get": {
            "summary": "Grids without a worker, households per worker (Gini) per street, gaps, access, key units",
            "operationId": "analysisCoverage", "responses": {"200": ok, **errors},
            "parameters": [query("distance", "Metres to a service centre", {"type": "integer"}),
                           query("method", "network (along roads) | line"), area]}},
        "/api/v1/analysis/stats": {"get": {
            "summary": "Buildings, dwellings, households, persons, incidents by category and status per area",
            "operationId": "analysisStats", "responses": {"200": ok, **errors},
            "parameters": [query("level", "district | street | community | grid | estate"),
                           query("format", "csv for a CSV file"), area]}},
        "/api/v1/analysis/heat": {"get": {
            "summary": "Heat layers ([lat, lon, weight] rows; summed into H3 cells when large)",
            "operationId": "analysisHeat", "parameters": [*window, area], "responses": {"200": ok, **errors}}},
    })
