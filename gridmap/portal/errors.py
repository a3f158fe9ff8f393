"""The ONE place that turns errors into HTTP responses.

* ``gridmap.errors.GridmapError`` -> its ``http_status`` and ``code``;
* Flask/Werkzeug HTTP errors (404, 405, 413...) -> their status, code from their name;
* anything else -> 500 ``internal_error``, with the traceback in the log and never in the response.

API paths (``/api/...``) and clients that prefer JSON get ``{"ok": false, "error": {"code",
"message"}}``; browsers get the HTML error page. For 5xx errors the user sees a generic message
(the log has the real one): a store error message can name files or hosts, which are nobody's
business outside the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from gridmap.errors import GridmapError, StoreUnavailableError
from gridmap.portal.i18n.translator import current_language, translate

log = logging.getLogger("gridmap.portal")

#: The page title of an error, in the reader's language (the domain message below it stays as raised).
_TITLE_KEYS: Mapping[int, str] = MappingProxyType({
    401: "error.unauthenticated", 403: "error.forbidden", 404: "error.not_found", 405: "error.method_not_allowed",
    429: "error.rate_limited",
})
#: ``app.extensions`` key of the path-prefix -> formatter table (see :func:`register_error_format`).
ERROR_FORMATS_KEY = "gridmap.error_formats"
#: Builds the error response of an API whose standard fixes the error shape: (status, code, message, details).
ErrorFormatter = Callable[[int, str, str, Any], Response]


def register_error_format(app: Flask, path_prefix: str, formatter: ErrorFormatter) -> None:
    """Errors on paths under ``path_prefix`` use ``formatter`` (e.g. Open311's ``[{code, description}]``).

    The mapping from exceptions to status and message stays here; only the body's shape changes.
    """
    app.extensions.setdefault(ERROR_FORMATS_KEY, {})[path_prefix] = formatter


def wants_json() -> bool:
    """JSON for /api/ paths, or when the client ranks JSON above HTML in Accept."""
    if request.path.startswith("/api/"):
        return True
    accept = request.accept_mimetypes
    return accept.best_match(["text/html", "application/json"]) == "application/json" and (
        accept["application/json"] > accept["text/html"]
    )


def _code_from_name(name: str) -> str:
    return "_".join(name.lower().replace("-", " ").split())


def error_response(status: int, code: str, message: str, *, details: Any = None) -> Response:
    """The error in the client's format (JSON or HTML page, or a registered API format), with ``status``."""
    for prefix, formatter in current_app.extensions.get(ERROR_FORMATS_KEY, {}).items():
        if request.path.startswith(prefix):
            return formatter(status, code, message, details)
    if wants_json():
        error: dict[str, Any] = {"code": code, "message": message}
        if details is not None:
            error["details"] = details
        response = jsonify({"ok": False, "error": error})
        response.status_code = status
        return response
    lang = current_language()
    title = translate(_TITLE_KEYS.get(status, "error.title"), lang)
    try:
        body = render_template("error.html", status=status, code=code, message=message, title=title)
    except Exception:  # the error page itself failed (broken template, missing store...): stay minimal
        log.exception("error page failed while reporting %s %s", status, code)
        body = f"<!doctype html><title>{status}</title><h1>{status} {escape(title)}</h1><p>{escape(message)}</p>"
    return Response(body, status=status, mimetype="text/html")


def _handle_gridmap_error(exc: GridmapError) -> Response:
    status = exc.http_status
    if status >= 500:
        log.error("%s %s -> %s %s: %s", request.method, request.path, status, exc.code, exc.message)
        key = "error.store_unavailable" if isinstance(exc, StoreUnavailableError) else "error.internal"
        return error_response(status, exc.code, translate(key, current_language()))
    return error_response(status, exc.code, exc.message, details=exc.details)


def _handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status >= 500:
        log.error("%s %s -> %s", request.method, request.path, status)
    lang = current_language()
    message = translate(_TITLE_KEYS[status], lang) if status in _TITLE_KEYS else (exc.description or exc.name)
    response = error_response(status, _code_from_name(exc.name), message)
    allow = exc.get_response().headers.get("Allow")
    if allow:  # 405 must say which methods are allowed
        response.headers["Allow"] = allow
    return response


def _handle_unexpected(exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", translate("error.internal", current_language()))


def register_error_handlers(app: Flask) -> None:
    """Install the three handlers; Flask picks the most specific one for each exception."""
    app.register_error_handler(GridmapError, _handle_gridmap_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
