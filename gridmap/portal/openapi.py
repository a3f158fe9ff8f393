"""The OpenAPI 3.1 description of ``/api/v1``, served at ``/api/v1/openapi.json``.

Why assembled from parts: each API area (core, lookup, and later incidents, tracking...) describes
its own paths and schemas in a small function returning an :class:`ApiPart`; the document is the
merge of every function in ``API_PARTS``. To add yours, write ``def my_part() -> ApiPart`` and append
it to ``API_PARTS``: no shared mutable registry. tests/lookup/test_api.py checks that every route of
the blueprints described here (core ``api``, ``lookup_api``) is in the document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint

from gridmap.portal.analysis.api import analysis_part
from gridmap.portal.apidoc import ApiPart
from gridmap.portal.incidents.api import incidents_part
from gridmap.portal.live import live_part
from gridmap.portal.planner.api import planner_part
from gridmap.portal.tracking.api import tracking_part
from gridmap.services.lookup import MAX_BATCH_POINTS, PUBLIC_WORKER_FIELDS

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": dict(schema)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {400: "Bad input (the message says which parameter and why)", 404: "Nothing found",
            429: "Too many requests from this client; retry after the Retry-After header's seconds",
            503: "Store unavailable, retry later"}
    return {str(s): _json(_ref("Error"), text[s]) for s in statuses}


def _query(name: str, description: str, *, required: bool = False, schema: Mapping[str, Any] | None = None
           ) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": dict(schema or {"type": "string"})}


CRS_PARAM = _query("crs", "CRS of lon/lat: wgs84 (default), cgcs2000, gcj02, bd09, or EPSG:<code>.")


def core_part() -> ApiPart:
    """Health and areas (gridmap.portal.api)."""
    return ApiPart(
        paths={
            "/api/v1/health": {"get": {"summary": "Store reachable and schema version", "operationId": "health",
                                       "responses": {"200": _json({"type": "object"}, "Healthy"),
                                                     **_errors(503)}}},
            "/api/v1/areas": {"get": {
                "summary": "Areas in force as GeoJSON", "operationId": "areas",
                "parameters": [_query("level", "district | street | community | grid",
                                      schema={"enum": ["district", "street", "community", "grid"]})],
                "responses": {"200": {"description": "FeatureCollection (lon/lat)",
                                      "content": {"application/geo+json": {"schema": {"type": "object"}}}},
                              **_errors(400, 503)}}},
        },
        schemas={
            "Error": {"type": "object", "required": ["ok", "error"], "properties": {
                "ok": {"const": False},
                "error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string", "examples": ["validation_error", "not_found", "swapped_coordinates"]},
                    "message": {"type": "string"},
                    "details": {}}}}},
        },
    )


def _lookup_schemas() -> dict[str, Any]:
    text, opt = {"type": "string"}, {"type": ["string", "null"]}
    return {
        "Worker": {"type": "object", "additionalProperties": False, "required": list(PUBLIC_WORKER_FIELDS),
                   "description": "Public contact fields only (R-22); nothing else about workers or residents.",
                   "properties": {"name": text, "role": {"enum": ["grid_leader", "full_time", "part_time"]},
                                  "phone": opt, "duties": opt,
                                  "photo": {**opt, "description": "URL of the photo: /photos/<name> on this portal"
                                            " or an http(s) URL; null when there is none"}}},
        "Area": {"type": ["object", "null"], "properties": {"code": text, "name": text, "level": text}},
        "Grid": {"type": "object", "properties": {
            "code": {"type": "string", "pattern": "^[0-9]{15}$"}, "name": text,
            "kind": {"enum": ["base", "dedicated", "professional", "micro"]}, "subtype": opt,
            "households": {"type": ["integer", "null"]},
            "geometry": {"type": "object", "description": "GeoJSON boundary, only with geometry=1"}}},
        "Centre": {"type": ["object", "null"], "properties": {
            "name": text, "address": opt, "phone": opt, "opening_hours": opt,
            "lon": {"type": "number"}, "lat": {"type": "number"}}},
        "LookupResult": {"type": "object", "properties": {
            "ok": {"const": True}, "lon": {"type": "number"}, "lat": {"type": "number"}, "grid": _ref("Grid"),
            "district": _ref("Area"), "street": _ref("Area"), "community": _ref("Area"),
            "workers": {"type": "array", "items": _ref("Worker")},
            "leader": {"oneOf": [_ref("Worker"), {"type": "null"}]},
            "service_centre": _ref("Centre"), "overlays": {"type": "array", "items": _ref("Grid")}}},
        "AddressAnswer": {"type": "object", "properties": {
            "ok": {"const": True}, "query": text,
            "candidates": {"type": "array", "items": {"type": "object", "properties": {
                "label": text, "kind": {"enum": ["address", "building", "estate"]},
                "score": {"type": "number", "minimum": 0, "maximum": 1}, "lon": {"type": "number"},
                "lat": {"type": "number"}, "ref": text, "grid_code": opt, "grid_name": opt}}},
            "result": {"oneOf": [_ref("LookupResult"), {"type": "null"}]}}},
    }


def lookup_part() -> ApiPart:
    """Resident lookup (gridmap.portal.lookup.api)."""
    point_params = [_query("lon", "Longitude (or x in a projected crs)", schema={"type": "number"}),
                    _query("lat", "Latitude (or y)", schema={"type": "number"}), CRS_PARAM,
                    _query("address", "An address instead of lon/lat: 淇河路12号, 翠苑小区3号楼..."),
                    _query("geometry", "1 to include the grid boundary (GeoJSON)", schema={"enum": ["0", "1"]}),
                    _query("as_of", "ISO 8601 instant (naive = UTC): answer with the grids in force then")]
    batch_body = {"type": "object", "required": ["points"], "additionalProperties": False, "properties": {
        "points": {"type": "array", "maxItems": MAX_BATCH_POINTS,
                   "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}},
        "crs": {"type": "string"}, "as_of": {"type": "string", "description": "ISO 8601 instant"}}}
    return ApiPart(
        paths={
            "/api/v1/lookup": {"get": {
                "summary": "Which grid, community, street and workers serve a point or an address",
                "operationId": "lookup", "parameters": point_params,
                "responses": {"200": _json({"oneOf": [_ref("LookupResult"), _ref("AddressAnswer")]}, "Found"),
                              **_errors(400, 404, 429, 503)}}},
            "/api/v1/lookup/batch": {"post": {
                "summary": f"Grid code per point for up to {MAX_BATCH_POINTS} points", "operationId": "lookupBatch",
                "requestBody": {"required": True, "content": {"application/json": {"schema": batch_body}}},
                "responses": {"200": _json({"type": "object", "properties": {
                    "ok": {"const": True}, "count": {"type": "integer"},
                    "codes": {"type": "array", "items": {"type": ["string", "null"]}}}}, "Codes in input order"),
                    **_errors(400, 429, 503)}}},
            "/api/v1/point/{srid}/{coords}": {"get": {
                "summary": "MapIt style: areas covering a point", "operationId": "point",
                "parameters": [
                    {"name": "srid", "in": "path", "required": True, "schema": {"type": "string"},
                     "description": "4326, 4490, gcj02 or bd09"},
                    {"name": "coords", "in": "path", "required": True, "schema": {"type": "string"},
                     "description": "<lon>,<lat>, e.g. 114.2975,35.7462"}],
                "responses": {"200": _json({"type": "object"}, "Areas keyed by code"),
                              **_errors(400, 404, 429, 503)}}},
        },
        schemas=_lookup_schemas(),
    )


#: Every API area's description; append your own ``() -> ApiPart`` here.
API_PARTS: tuple[Callable[[], ApiPart], ...] = (
    core_part, lookup_part, live_part, incidents_part, planner_part, tracking_part, analysis_part,
)


def openapi_document(*, server_url: str | None = None, parts: tuple[Callable[[], ApiPart], ...] = API_PARTS
                     ) -> dict[str, Any]:
    """The merged OpenAPI 3.1 document; a path or schema defined twice is a programming error."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for make in parts:
        part = make()
        for target, items in ((paths, part.paths), (schemas, part.schemas)):
            clash = set(target) & set(items)
            if clash:
                raise ValueError(f"OpenAPI part {make.__name__} redefines {sorted(clash)}")
            target.update(items)
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "gridmap API", "version": API_VERSION,
                 "description": "Grid-based community governance (网格化服务管理): boundaries and resident lookup."},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if server_url:
        doc["servers"] = [{"url": server_url.rstrip("/")}]
    return doc


@bp.get("/openapi.json")
def openapi_json() -> dict[str, Any]:
    from gridmap.portal.state import portal_state

    return openapi_document(server_url=portal_state().settings.public_base_url)
