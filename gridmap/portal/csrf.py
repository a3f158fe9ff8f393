"""CSRF protection: a random token in the session, echoed by every state-changing request.

The token lives in the signed session cookie (``session["csrf"]``, made on first use, replaced at
login). Forms carry it in a hidden field (``{{ csrf_field() }}`` in a template), scripts in the
``X-CSRF-Token`` header (``<meta name="csrf-token">`` in base.html has the value). A POST, PUT,
PATCH or DELETE is refused with 403 ``csrf_failed`` unless the token matches, when:

* the caller is signed in through the session cookie (any path, forms and JSON alike): the cookie is
  ambient authority a foreign page could borrow; or
* the request is an anonymous HTML form post outside the API (login itself: no logging in a victim
  as the attacker).

Exempt: calls authenticated by an API token (Bearer header or ``api_key``: nothing ambient to
borrow), anonymous calls to the machine APIs under ``API_PREFIXES`` (they carry no authority beyond
the public's, e.g. Open311 anonymous reports, batch lookups), and views marked ``@csrf_exempt``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request, session
from markupsafe import Markup

from gridmap.errors import PermissionDeniedError
from gridmap.portal.auth import principal_or_public

SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
API_PREFIXES: tuple[str, ...] = ("/api/", "/open311/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
EXEMPT_ATTR = "_gridmap_csrf_exempt"

F = TypeVar("F", bound=Callable[..., Any])


def csrf_token() -> str:
    """This session's token (created on first use)."""
    token = session.get(SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return str(token)


def csrf_field() -> Markup:
    """The hidden form field carrying the token."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FORM_FIELD, csrf_token())  # escapes both


def rotate_csrf() -> str:
    """A new token (called at login, after the session was cleared)."""
    session.pop(SESSION_KEY, None)
    return csrf_token()


def csrf_exempt(view: F) -> F:
    """Mark a view whose unsafe requests never need the token (devices posting positions...)."""
    setattr(view, EXEMPT_ATTR, True)
    return view


def _sent_token() -> str:
    header = request.headers.get(HEADER)
    if header:
        return header
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return request.form.get(FORM_FIELD, "")
    return ""


def needs_token() -> bool:
    """Does this request have to carry the token? (the rules in the module docstring)"""
    if request.method in SAFE_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, EXEMPT_ATTR, False):
        return False
    principal = principal_or_public()
    if principal.via == "token":
        return False
    if principal.via == "session":
        return True
    return not request.path.startswith(API_PREFIXES)


def check_csrf() -> None:
    """Refuse an unsafe request without the session's token (403 ``csrf_failed``)."""
    if not needs_token():
        return
    expected = session.get(SESSION_KEY)
    sent = _sent_token()
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise PermissionDeniedError(
            "the form or request is missing its security token or it is out of date; reload the page and try again",
            code="csrf_failed",
        )


def init_csrf(app: Flask) -> None:
    """Check every request and give templates ``csrf_token()`` and ``csrf_field()``."""
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csrf_field"] = csrf_field
