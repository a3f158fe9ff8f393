"""Public lookup API (residents, kiosks, other systems): which grid and worker serve a point or address.

Routes (all under ``/api/v1``, described in ``/api/v1/openapi.json``):

* ``GET /lookup?lon=&lat=[&crs=][&geometry=1][&as_of=]``: one point; ``crs`` is wgs84 (default), cgcs2000,
  gcj02, bd09 or EPSG:n; ``as_of`` (ISO 8601) answers with the grids in force at that instant.
* ``GET /lookup?address=...``: ranked address candidates and the full answer for the best one.
* ``POST /lookup/batch`` with ``{"points": [[lon, lat], ...], "crs": "..."}``: up to 10,000 points.
* ``GET /point/<srid>/<lon>,<lat>``: MapIt style; srid 4326, 4490 or a name (gcj02, bd09).

Every bad input is a gridmap ValidationError (400), mapped by ``gridmap.portal.errors``; this module
never builds error JSON itself. The LookupService lives in ``app.extensions`` (one per app).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from flask.blueprints import BlueprintSetupState

from gridmap.errors import ValidationError
from gridmap.portal.lookup.photos import with_public_photos
from gridmap.portal.state import EXTENSION_KEY, portal_state
from gridmap.services.lookup import LookupResult, LookupService

bp = Blueprint("lookup_api", __name__, url_prefix="/api/v1")
SERVICE_KEY = "gridmap.lookup"


def _install_service(setup: BlueprintSetupState) -> None:
    app = setup.app
    state = app.extensions[EXTENSION_KEY]
    app.extensions.setdefault(SERVICE_KEY, LookupService(state.store, state.settings))


bp.record_once(_install_service)


def lookup_service() -> LookupService:
    """The app's LookupService (created when the blueprint was registered)."""
    service = current_app.extensions.get(SERVICE_KEY)
    if service is None:  # the resident blueprint may be registered without this one
        state = portal_state()
        service = current_app.extensions.setdefault(SERVICE_KEY, LookupService(state.store, state.settings))
    assert isinstance(service, LookupService)
    return service


def _flag(name: str) -> bool:
    return request.args.get(name, "").strip().lower() in {"1", "true", "yes"}


def _result_body(result: LookupResult) -> dict[str, Any]:
    return with_public_photos({"ok": True, **result.to_dict(include_geometry=_flag("geometry"))})


@bp.get("/lookup")
def lookup() -> dict[str, Any]:
    """One point (lon, lat[, crs]) or one address; exactly one of the two."""
    args = request.args
    has_point = "lon" in args or "lat" in args
    if "address" in args:
        if has_point:
            raise ValidationError("give either lon and lat, or address, not both")
        answer = lookup_service().search_address(args["address"])
        return with_public_photos({"ok": True, **answer.to_dict(include_geometry=_flag("geometry"))})
    if not has_point:
        raise ValidationError("give lon and lat (and optionally crs), or address")
    as_of = args.get("as_of")
    result = lookup_service().lookup_point(args.get("lon"), args.get("lat"), crs=args.get("crs"), as_of=as_of)
    return _result_body(result) if as_of is None else {**_result_body(result), "as_of": as_of}


@bp.post("/lookup/batch")
def lookup_batch() -> dict[str, Any]:
    """Grid code per point, in order, null outside every grid."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError('batch lookup: the body must be JSON {"points": [[lon, lat], ...], "crs": "wgs84"}')
    unknown = sorted(set(body) - {"points", "crs", "as_of"})
    if unknown:
        raise ValidationError(f"batch lookup: unknown field(s) {', '.join(unknown)}; expected points, crs, as_of")
    crs = body.get("crs")
    if crs is not None and not isinstance(crs, str):
        raise ValidationError("batch lookup: crs must be text such as wgs84, gcj02 or EPSG:4490")
    as_of = body.get("as_of")
    if as_of is not None and not isinstance(as_of, str):
        raise ValidationError("batch lookup: as_of must be ISO 8601 text such as 2024-05-01T08:00:00+08:00")
    codes = lookup_service().lookup_points(body.get("points"), crs=crs, as_of=as_of)
    return {"ok": True, "count": len(codes), "codes": codes, **({"as_of": as_of} if as_of is not None else {})}


@bp.get("/point/<srid>/<coords>")
def point(srid: str, coords: str) -> dict[str, Any]:
    """MapIt-style: every area covering the point, keyed by code (district, street, community, grids)."""
    parts = coords.split(",")
    if len(parts) != 2:
        raise ValidationError(f"point {coords!r}: expected <lon>,<lat>, e.g. 114.2975,35.7462")
    result = lookup_service().lookup_point(parts[0], parts[1], crs=srid)
    areas: dict[str, dict[str, Any]] = {}
    for area in (result.district, result.street, result.community):
        if area is not None:
            areas[area.code] = {"code": area.code, "name": area.name, "type": area.level}
    for grid in (result.grid, *result.overlays):
        areas[grid.code] = {"code": grid.code, "name": grid.name, "type": "grid", "kind": grid.kind,
                            "subtype": grid.subtype}
    return {"ok": True, "lon": result.lon, "lat": result.lat, "areas": areas}
