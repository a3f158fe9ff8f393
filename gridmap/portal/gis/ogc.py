"""OGC API - Features at ``/ogc`` (what QGIS's "OGC API - Features" provider and ``ogrinfo OAPIF:`` read).

Thin: the protocol lives in gridmap.services.ogc_features; this blueprint passes the request's
principal (session, ``Authorization: Bearer`` key or ``api_key``), the query parameters and the
base URL, and sets the media types and the ``Content-Crs`` header. Errors (a bbox that is not
four numbers, a limit over 10,000, an unknown CRS or collection) come back as 400/404 JSON from
the portal's one error handler.
"""

from __future__ import annotations

import json
from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, request
from flask.blueprints import BlueprintSetupState

from gridmap.portal.auth import current_principal
from gridmap.portal.errors import register_error_format
from gridmap.portal.state import portal_state
from gridmap.services import ogc_features

bp = Blueprint("ogc", __name__, url_prefix="/ogc")


def ogc_error(status: int, code: str, message: str, details: Any) -> Response:
    """OGC API exception body (``code``, ``description``), as OGC API - Common and pygeoapi give it."""
    body = {"code": code, "description": message, **({"details": details} if details is not None else {})}
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=ogc_features.JSON)


@bp.record_once
def _install(setup: BlueprintSetupState) -> None:
    register_error_format(cast(Flask, setup.app), "/ogc", ogc_error)


def _base() -> str:
    return request.host_url.rstrip("/") + "/ogc"


def _json(body: dict[str, Any], mimetype: str = ogc_features.JSON, crs: str | None = None) -> Response:
    response = current_app.response_class(json.dumps(body, ensure_ascii=False), mimetype=mimetype)
    if crs is not None:
        response.headers["Content-Crs"] = f"<{crs}>"
    return response


@bp.get("/")
def landing() -> Response:
    return _json(ogc_features.landing_page(_base()))


@bp.get("/conformance")
def conformance() -> Response:
    return _json(ogc_features.conformance())


@bp.get("/collections")
def collections() -> Response:
    return _json(ogc_features.collections_document(portal_state().store, current_principal(), _base()))


@bp.get("/collections/<collection_id>")
def one_collection(collection_id: str) -> Response:
    found = ogc_features.collection(collection_id)
    ogc_features.require_readable(current_principal(), found)
    return _json(ogc_features.collection_document(portal_state().store, found, _base()))


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str) -> Response:
    query = ogc_features.items_query(request.args.to_dict())
    body = ogc_features.items_page(portal_state().store, current_principal(), collection_id, query, _base())
    return _json(body, ogc_features.GEOJSON, query.crs)


@bp.get("/collections/<collection_id>/items/<feature_id>")
def one_item(collection_id: str, feature_id: str) -> Response:
    crs = ogc_features.crs_uri(request.args.get("crs"), name="crs")
    body = ogc_features.item(portal_state().store, current_principal(), collection_id, feature_id, crs)
    return _json(body, ogc_features.GEOJSON, crs)
