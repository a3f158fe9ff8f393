"""JSON / GeoJSON API, version 1 (``/api/v1``). Errors come back as ``{"ok": false, "error": ...}``.

Geometry is returned as stored: lon/lat, EPSG:4326 (or 4490, equal at metre level), per RFC 7946.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
from flask import Blueprint, Response, current_app, request

from gridmap import schema
from gridmap.errors import ValidationError
from gridmap.model import AreaLevel
from gridmap.portal.auth import current_principal, public_layer_rows
from gridmap.portal.state import portal_state
from gridmap.services.generations import active_grids
from gridmap.services.hierarchy_view import current_areas

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: Properties returned per level; names come from the schema contract.
AREA_PROPERTIES = tuple(
    schema.AREAS_SPEC.column(c).name for c in ("code", "name", "level", "parent_code", "households", "population")
)
GRID_PROPERTIES = tuple(
    schema.GRIDS_SPEC.column(c).name
    for c in ("code", "name", "kind", "subtype", "community_code", "households", "population", "area_m2")
)


@bp.get("/health")
def health() -> dict[str, Any]:
    """Is the store reachable, and at which schema version? 503 (store_unavailable) when not."""
    state = portal_state()
    version = state.store.schema_version()
    scheme = state.store.url.partition("://")[0]
    return {"ok": True, "store": {"reachable": True, "backend": scheme, "schema_version": version}}


def _level_from_request() -> AreaLevel | None:
    raw = request.args.get("level")
    if raw is None or raw == "":
        return None
    try:
        return AreaLevel(raw.strip().lower())
    except ValueError:
        raise ValidationError(
            f"query parameter level={raw!r} is not a level; use one of {', '.join(lv.value for lv in AreaLevel)}"
        ) from None


def _feature_collection(frame: gpd.GeoDataFrame, properties: tuple[str, ...]) -> str:
    columns = [c for c in properties if c in frame.columns]
    out = gpd.GeoDataFrame(frame[columns], geometry=frame.geometry.values, crs=frame.crs)
    return str(out.to_json(drop_id=True, na="null", ensure_ascii=False))


@bp.get("/areas")
def areas() -> Response:
    """GeoJSON FeatureCollection of areas in force; ``?level=district|street|community|grid``.

    Without ``level`` every administrative level is returned; ``level=grid`` returns the grids of
    every community's active generation. Scope-aware: a signed-in account (session or API token)
    gets only what lies in its area; the anonymous public gets every public layer.
    """
    state = portal_state()
    level = _level_from_request()
    principal = current_principal()  # public layers: all for the public, the account's own area when signed in
    if level is AreaLevel.GRID:
        body = _feature_collection(public_layer_rows(active_grids(state.store), principal), GRID_PROPERTIES)
    else:
        areas = public_layer_rows(current_areas(state.store, level=level), principal)
        body = _feature_collection(areas, AREA_PROPERTIES)
    return current_app.response_class(body, mimetype="application/geo+json")
