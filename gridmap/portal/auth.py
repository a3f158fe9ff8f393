"""Who is making this request, and what may they see: the portal side of ``gridmap.auth``.

**Resolution** (``current_principal()``, once per request, cached in ``g``):

1. ``Authorization: Bearer gm_<id>_<secret>``, else an ``api_key`` query/form parameter: the API
   token's principal (``via="token"``). A bad, unknown or revoked key is a 401, never a silent
   fall-back to the public: a machine client must learn that its key is wrong.
2. The signed session cookie (Flask, HttpOnly, SameSite=Lax, Secure under https): the account named
   in it, re-read from the store (cached ``ACCOUNT_CACHE_S`` seconds) so that a disabled account or a
   changed role/area takes effect without a new login. A session older than
   ``settings.session_lifetime_min`` (from login) or signed out is ignored.
3. Otherwise the anonymous ``PUBLIC``.

**Access rules** (one prefix test, ``Principal.covers``): an account bound to area ``A`` reads and
changes exactly what has a code starting with ``A`` (its own area and everything below it, never its
parent or siblings). A whole-installation admin (area "") sees everything.

**What is public**: the *public layers* (area outlines of district, streets and communities and the
active grids: code, name, kind, households; the same content as the printed grid panorama and the
resident lookup). Everything else is not: incidents, workers beyond the lookup's public contact
fields, positions, dashboards, accounts, tokens and the audit log. Signed-in views are scoped to the
account's area even for the public layers (they show what the account manages).

**No existence oracle**: an out-of-scope request must not tell whether the object exists. Either the
answer is decided from the request alone (a code outside the caller's prefix: 403 before the store is
read, the same for existing and missing codes), or, for objects whose area is only known after reading
them (an incident id), out-of-scope and missing give the *same* 404 with the same message
(``require_visible``). Anonymous callers get 401 for anything not public, whatever it is.

Pages use ``@login_required`` / ``@roles_required(...)`` (browsers are sent to the login page, API
clients get 401/403 JSON through ``gridmap.portal.errors``); API views call ``current_principal()`` and
``require_role`` / ``require_area`` / ``require_visible`` from here.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar, cast

import pandas as pd
from flask import Flask, current_app, g, redirect, request, session, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from gridmap.auth.principal import PUBLIC, Principal, require_area, require_role
from gridmap.config import Settings
from gridmap.errors import AuthenticationError, NotFoundError
from gridmap.model import Role
from gridmap.portal.peers import Peers
from gridmap.services.accounts import AccountInfo, get_account, principal_from_api_key
from gridmap.store import Store

__all__ = [
    "PUBLIC",
    "AuthState",
    "Principal",
    "auth_state",
    "client_ip",
    "current_principal",
    "init_auth",
    "login_required",
    "login_user",
    "logout_user",
    "not_found",
    "public_layer_rows",
    "require_area",
    "require_role",
    "require_visible",
    "roles_required",
    "rows_in_scope",
]

AUTH_KEY = "gridmap.auth"
#: How long an account or token read from the store is trusted before it is read again (seconds).
ACCOUNT_CACHE_S = 5.0
SESSION_USER = "uid"
SESSION_ID = "sid"
SESSION_AUTH_AT = "auth_at"  # unix seconds of the login
BEARER = "bearer "

F = TypeVar("F", bound=Callable[..., Any])


class _TtlCache:
    """A small thread-safe cache of store reads with a time-to-live (no global state: one per app)."""

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.monotonic, max_items: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._max = max_items
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], Any]) -> Any:
        now = self._clock()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        value = load()  # outside the lock: a slow store must not serialise every request
        with self._lock:
            if len(self._items) >= self._max:
                self._items.clear()
            self._items[key] = (now, value)
        return value

    def forget(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


class _RevokedSessions:
    """Session ids signed out in this process, kept until they would have expired anyway.

    Flask sessions live in the signed cookie, so a copy of a cookie would stay valid after logout;
    remembering the signed-out ids closes that for this process (all waitress threads share it) and,
    through :class:`~gridmap.portal.peers.Peers`, for the other processes of the same server.
    """

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def revoke(self, sid: str, until: float) -> None:
        now = time.time()
        with self._lock:
            self._until = {k: v for k, v in self._until.items() if v > now}
            self._until[sid] = until

    def is_revoked(self, sid: str) -> bool:
        with self._lock:
            return sid in self._until


@dataclass
class AuthState:
    """Per-app auth state in ``app.extensions["gridmap.auth"]``."""

    store: Store
    settings: Settings
    accounts: _TtlCache = field(default_factory=lambda: _TtlCache(ACCOUNT_CACHE_S))
    tokens: _TtlCache = field(default_factory=lambda: _TtlCache(ACCOUNT_CACHE_S))
    revoked: _RevokedSessions = field(default_factory=_RevokedSessions)
    #: The other processes of the server (nothing to tell when serving alone).
    peers: Peers = field(default_factory=lambda: Peers(None))

    @property
    def session_lifetime_s(self) -> float:
        return float(self.settings.session_lifetime_min) * 60.0

    def revoke_session(self, sid: str, until: float) -> None:
        """Refuse session ``sid`` from now until ``until`` (unix seconds) in every process of the server."""
        self.revoked.revoke(sid, until)
        self.peers.send("revoke", {"sid": sid, "until": until})

    def forget_account(self, username: str) -> None:
        """Drop the cached account in every process, so a change to it applies to the next request."""
        self.accounts.forget(username)
        self.peers.send("forget_account", {"username": username})

    def listen_to_peers(self) -> None:
        """Apply what the other processes say (the same two changes, without telling them back)."""
        self.peers.on("revoke", lambda body: self.revoked.revoke(str(body["sid"]), float(body["until"])))
        self.peers.on("forget_account", lambda body: self.accounts.forget(str(body["username"])))

    def account(self, username: str) -> AccountInfo | None:
        return cast(AccountInfo | None, self.accounts.get(username, lambda: get_account(self.store, username)))

    def token_principal(self, api_key: str) -> Principal:
        digest = hashlib.sha256(api_key.encode("utf-8")).hexdigest()
        return cast(Principal, self.tokens.get(digest, lambda: principal_from_api_key(self.store, api_key)))


def auth_state(app: Flask | None = None) -> AuthState:
    state = (app or current_app).extensions[AUTH_KEY]
    assert isinstance(state, AuthState)
    return state


def client_ip() -> str:
    """The client's address (the socket peer, or X-Forwarded-For behind ``trusted_proxy_hops`` proxies)."""
    return request.remote_addr or "unknown"


def _api_key_from_request() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[: len(BEARER)].lower() == BEARER:
        return header[len(BEARER) :].strip() or None
    key = request.args.get("api_key")
    if key is None and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        key = request.form.get("api_key")
    return key or None


def _principal_from_session(state: AuthState) -> Principal:
    username = session.get(SESSION_USER)
    if not username:
        return PUBLIC
    sid = str(session.get(SESSION_ID, ""))
    auth_at = float(session.get(SESSION_AUTH_AT, 0.0))
    expired = time.time() - auth_at > state.session_lifetime_s
    account = None if expired or not sid or state.revoked.is_revoked(sid) else state.account(str(username))
    if account is None or not account.active:
        session.clear()  # stale, signed out, expired or disabled: forget it and carry on as the public
        return PUBLIC
    return Principal(name=account.username, role=account.role, area_code=account.area_code, via="session")


def principal_from_request() -> Principal:
    """Resolve the caller (see the module docstring); raises 401 for a bad API key."""
    state = auth_state()
    api_key = _api_key_from_request()
    if api_key is not None:
        return state.token_principal(api_key)
    return _principal_from_session(state)


def current_principal() -> Principal:
    """The principal of this request (resolved once, then cached in ``g``)."""
    principal = g.get("gridmap_principal")
    if principal is None:
        principal = principal_from_request()
        g.gridmap_principal = principal
    assert isinstance(principal, Principal)
    return principal


def principal_or_public() -> Principal:
    """Like ``current_principal`` but PUBLIC when the credentials are bad (for templates and error pages)."""
    try:
        return current_principal()
    except AuthenticationError:
        return PUBLIC


def login_user(account: AccountInfo) -> None:
    """Start a fresh session for ``account``: everything in the old one (and its CSRF token) is dropped."""
    session.clear()
    session.permanent = True
    session[SESSION_USER] = account.username
    session[SESSION_ID] = secrets.token_urlsafe(18)
    session[SESSION_AUTH_AT] = time.time()
    g.gridmap_principal = Principal(account.username, account.role, account.area_code, via="session")


def logout_user() -> None:
    """End the session here and refuse its cookie from now on (in every process of the server)."""
    state = auth_state()
    sid = session.get(SESSION_ID)
    if sid:
        state.revoke_session(str(sid), float(session.get(SESSION_AUTH_AT, 0.0)) + state.session_lifetime_s)
    username = session.get(SESSION_USER)
    if username:
        state.forget_account(str(username))
    session.clear()
    g.gridmap_principal = PUBLIC


def _wants_page() -> bool:
    from gridmap.portal.errors import wants_json

    return not wants_json() and request.method in ("GET", "HEAD")


def login_required(view: F) -> F:
    """Signed-in callers only: a browser is sent to the login page (and back), an API client gets 401."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_principal().is_public:
            if _wants_page() and "account.login" in current_app.view_functions:
                return redirect(url_for("account.login", next=request.full_path.rstrip("?")))
            raise AuthenticationError("sign in to see this page")
        return view(*args, **kwargs)

    return cast(F, wrapper)


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Signed-in callers with one of ``roles`` (admins always pass); 403 for other roles."""

    def decorate(view: F) -> F:
        @login_required
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require_role(current_principal(), *roles)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def not_found(what: str) -> NotFoundError:
    """The one 404 for ``what``, used both when it is missing and when it is outside the caller's area."""
    return NotFoundError(f"{what} not found")


def require_visible(principal: Principal, code: str | None, *, what: str) -> None:
    """Raise ``not_found(what)`` unless ``code`` lies in the caller's area (401 for the public).

    For objects found by id whose area is only known after reading them: answering 404 both for
    "missing" and "elsewhere" keeps the response from revealing that something exists elsewhere.
    """
    if principal.is_public:
        raise AuthenticationError(f"sign in to see {what}")
    if not principal.covers(code):
        raise not_found(what)


def rows_in_scope(frame: pd.DataFrame, principal: Principal, *, column: str = "code") -> pd.DataFrame:
    """The rows whose ``column`` code lies in the caller's area (none for the public)."""
    if principal.is_public:
        return frame.iloc[0:0]
    if principal.area_code == "" or frame.empty:
        return frame
    codes = frame[column].astype("string").fillna("")
    return frame[codes.str.startswith(principal.area_code).to_numpy(dtype=bool)]


def public_layer_rows(frame: pd.DataFrame, principal: Principal, *, column: str = "code") -> pd.DataFrame:
    """Rows of a public layer (areas, grids): all of them for the public, the area's own when signed in."""
    return frame if principal.is_public else rows_in_scope(frame, principal, column=column)


def _template_globals() -> dict[str, Any]:
    return {"principal": principal_or_public()}


def init_auth(app: Flask, store: Store, settings: Settings, peers: Peers | None = None) -> None:
    """Keep the auth state in ``app.extensions`` and trust ``trusted_proxy_hops`` X-Forwarded-For hops."""
    state = AuthState(store=store, settings=settings, peers=peers or Peers(None))
    state.listen_to_peers()
    app.extensions[AUTH_KEY] = state
    app.config["PERMANENT_SESSION_LIFETIME"] = max(60, int(settings.session_lifetime_min * 60))
    if settings.trusted_proxy_hops > 0:
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.context_processor(_template_globals)
