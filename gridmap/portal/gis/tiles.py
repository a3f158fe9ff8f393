"""Vector tiles at ``/tiles/{layer}/{z}/{x}/{y}.mvt`` for MapLibre, Leaflet.VectorGrid, QGIS and OpenLayers.

Thin: gridmap.services.tiles makes the tile for the request's principal. Responses carry an
ETag (304 on a matching If-None-Match) and Cache-Control: ``public`` for the anonymous view of
public layers, ``private`` with ``Vary: Authorization, Cookie`` for anything scoped to a caller.
Bad coordinates or an unknown layer are 400/404 JSON, never a 500.
"""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, Flask, Response, jsonify, request
from flask.blueprints import BlueprintSetupState

from gridmap.errors import ValidationError
from gridmap.portal.auth import current_principal
from gridmap.portal.errors import register_error_format
from gridmap.portal.state import portal_state
from gridmap.services.tiles import MEDIA_TYPE, vector_tile

bp = Blueprint("tiles", __name__, url_prefix="/tiles")
#: Seconds a client may reuse a tile without asking again.
MAX_AGE_S = 60


def tiles_error(status: int, code: str, message: str, details: Any) -> Response:
    """The API's JSON error shape, whatever the Accept header (tile clients send image/* or */*)."""
    error: dict[str, Any] = {"code": code, "message": message, **({"details": details} if details else {})}
    response = jsonify({"ok": False, "error": error})
    response.status_code = status
    return response


@bp.record_once
def _install(setup: BlueprintSetupState) -> None:
    register_error_format(cast(Flask, setup.app), "/tiles/", tiles_error)


def _coordinate(name: str, text: str) -> int:
    if not text.isdigit():
        raise ValidationError(f"tile {name}={text!r} is not a non-negative integer", code="bad_tile")
    return int(text)


@bp.get("/<layer>/<z>/<x>/<y>.mvt")
def tile(layer: str, z: str, x: str, y: str) -> Response:
    principal = current_principal()
    made = vector_tile(portal_state().store, principal, layer, _coordinate("z", z), _coordinate("x", x),
                       _coordinate("y", y))  # fmt: skip
    cache = f"public, max-age={MAX_AGE_S}" if made.public else f"private, max-age={MAX_AGE_S}"
    headers = {"Cache-Control": cache, "Vary": "Authorization, Cookie"}
    if request.if_none_match.contains(made.etag):
        response = Response(status=304, headers=headers)
    else:
        response = Response(made.data, mimetype=MEDIA_TYPE, headers=headers)
    response.set_etag(made.etag)
    return response
