"""The Flask application factory of the portal.

No module-level app and no global state: everything an app needs (settings, the open store) lives
in ``app.extensions["gridmap"]``, so tests can build as many apps as they like side by side.

Security defaults:

* A Content-Security-Policy that allows scripts only from 'self' plus the inline scripts of this
  response that carry its nonce (Folium's map code; see ``assets.add_nonce``), images from 'self'
  and the configured basemap's tile servers, and nothing else from anywhere. Inline *styles* are
  allowed because Folium and Leaflet write style attributes.
* ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: strict-origin-when-cross-origin``
  (tile servers such as OSM ask for a referrer; the path stays private), frame-ancestors 'self'.
* Session cookie HttpOnly, SameSite=Lax, and Secure when the portal is served over https
  (``settings.public_base_url``); the secret key comes from settings or, if empty, a random key
  per process with a warning (sessions then do not survive a restart or span workers).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from flask import Flask, Response, current_app, g

from gridmap.config import Settings
from gridmap.portal.assets import web_root
from gridmap.portal.basemaps import basemap_from_settings
from gridmap.portal.errors import register_error_handlers
from gridmap.portal.i18n import init_i18n
from gridmap.store.base import Store, open_store

log = logging.getLogger("gridmap.portal")

EXTENSION_KEY = "gridmap"
#: ``app.extensions`` key of callables that :func:`close_app` runs (blueprints stop their threads there).
ON_CLOSE_KEY = "gridmap.on_close"
#: Largest request body accepted, bytes (uploads of boundary files come later; 32 MiB is plenty).
MAX_CONTENT_LENGTH_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class PortalState:
    """What every request of one app needs; kept in ``app.extensions["gridmap"]``."""

    settings: Settings
    store: Store
    #: True when create_app opened the store (and so may close it); False when it was passed in.
    owns_store: bool
    #: ``scheme://host`` of the basemap's tile servers: the only foreign origins in the CSP.
    tile_origins: tuple[str, ...] = ()


def portal_state() -> PortalState:
    """The state of the app handling the current request."""
    state = current_app.extensions[EXTENSION_KEY]
    assert isinstance(state, PortalState)
    return state


def csp_nonce() -> str:
    """This response's CSP nonce, for ``<script nonce=...>`` in templates."""
    return str(g.csp_nonce)


def content_security_policy(nonce: str, tile_origins: tuple[str, ...] = ()) -> str:
    """The CSP header value; the basemap's tile origins are the only foreign sources allowed."""
    tiles = " ".join(tile_origins)
    directives = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: blob:{' ' + tiles if tiles else ''}",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
    return "; ".join(directives)


def _secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    log.warning(
        "settings.secret_key is empty: using a random key for this process only; sessions will not"
        " survive a restart or be shared between processes (set GRIDMAP_SECRET_KEY)"
    )
    return secrets.token_hex(32)


def _make_nonce() -> None:
    g.csp_nonce = secrets.token_urlsafe(18)


def _security_headers(response: Response) -> Response:
    state = portal_state()
    nonce = g.get("csp_nonce") or secrets.token_urlsafe(18)
    response.headers["Content-Security-Policy"] = content_security_policy(nonce, state.tile_origins)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), payment=()"
    if state.settings.public_base_url.startswith("https://"):
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


def create_app(settings: Settings, *, store: Store | None = None) -> Flask:
    """Build a portal app for ``settings``; opens ``settings.store_url`` unless ``store`` is given."""
    basemap = basemap_from_settings(settings)  # a bad basemap setting fails at start-up, not on first request
    root = web_root()
    app = Flask(
        "gridmap.portal",
        template_folder=str(root / "templates"),
        static_folder=str(root / "static"),
        static_url_path="/static",
    )
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_NAME="gridmap_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH_BYTES,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese names stay readable in JSON
    owns = store is None
    opened = open_store(settings.store_url, settings) if store is None else store
    app.extensions[EXTENSION_KEY] = PortalState(
        settings=settings, store=opened, owns_store=owns, tile_origins=basemap.origins
    )
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.before_request(_make_nonce)
    app.after_request(_security_headers)
    init_i18n(app)
    register_error_handlers(app)
    _init_access(app, opened, settings)
    from gridmap.portal import api, pages  # the blueprints import app helpers; import them late

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    from gridmap.portal import lookup_api, openapi, photos, resident

    app.register_blueprint(lookup_api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(resident.bp)
    app.register_blueprint(photos.bp)
    from gridmap.portal import incidents_api, incidents_pages, open311_api

    app.register_blueprint(open311_api.bp)
    app.register_blueprint(incidents_api.bp)
    app.register_blueprint(incidents_pages.bp)
    from gridmap.portal import account_pages, admin_pages, dashboard, live

    app.register_blueprint(account_pages.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(admin_pages.bp)
    app.register_blueprint(live.bp)
    from gridmap.portal import analysis_api, analysis_pages

    app.register_blueprint(analysis_api.bp)
    app.register_blueprint(analysis_pages.bp)
    from gridmap.portal import planner_api, planner_pages

    app.register_blueprint(planner_api.bp)
    app.register_blueprint(planner_pages.bp)
    from gridmap.portal import command_map, tracking_api

    app.register_blueprint(tracking_api.bp)
    app.register_blueprint(command_map.bp)
    from gridmap.portal import ogc_api, tiles_api

    app.register_blueprint(ogc_api.bp)
    app.register_blueprint(tiles_api.bp)
    return app


def _init_access(app: Flask, store: Store, settings: Settings) -> None:
    """Principals (session/API key), rate limits, CSRF checks and the live event hub, in this order."""
    from gridmap.portal.auth import init_auth
    from gridmap.portal.csrf import init_csrf
    from gridmap.portal.live import init_live
    from gridmap.portal.ratelimit import init_ratelimit

    init_auth(app, store, settings)
    init_ratelimit(app, settings)
    init_csrf(app)
    hub = init_live(app, max_subscribers=settings.live_max_subscribers)
    app.extensions.setdefault(ON_CLOSE_KEY, []).append(hub.close)


def close_app(app: Flask) -> None:
    """Stop what the blueprints started (timers), then close the store if create_app opened it."""
    for stop in reversed(app.extensions.get(ON_CLOSE_KEY, [])):
        stop()
    state = app.extensions.get(EXTENSION_KEY)
    if isinstance(state, PortalState) and state.owns_store:
        state.store.close()
