"""The Flask application factory of the portal.

No module-level app and no global state: everything an app needs (settings, the open store) lives
in ``app.extensions["gridmap"]`` (see ``state.py``), so tests can build as many apps as they like side by side.

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

from flask import Blueprint, Flask, Response, g

from gridmap.config import Settings
from gridmap.portal import api, live, openapi
from gridmap.portal.account import pages as account_pages
from gridmap.portal.admin import pages as admin_pages
from gridmap.portal.analysis import api as analysis_api
from gridmap.portal.analysis import pages as analysis_pages
from gridmap.portal.compression import init_compression
from gridmap.portal.errors import register_error_handlers
from gridmap.portal.field import api as field_api
from gridmap.portal.field import pages as field_pages
from gridmap.portal.forms import PortalRequest
from gridmap.portal.gis import ogc, tiles
from gridmap.portal.home import dashboard
from gridmap.portal.home import pages as home_pages
from gridmap.portal.i18n.translator import init_i18n
from gridmap.portal.incidents import api as incidents_api
from gridmap.portal.incidents import open311
from gridmap.portal.incidents import pages as incidents_pages
from gridmap.portal.lookup import api as lookup_api
from gridmap.portal.lookup import photos, resident
from gridmap.portal.maps.assets import web_root
from gridmap.portal.maps.basemaps import basemap_from_settings
from gridmap.portal.peers import PEERS_KEY, Peers
from gridmap.portal.planner import api as planner_api
from gridmap.portal.planner import pages as planner_pages
from gridmap.portal.state import EXTENSION_KEY, ON_CLOSE_KEY, PortalState, csp_nonce, portal_state
from gridmap.portal.tracking import api as tracking_api
from gridmap.portal.tracking import pages as tracking_pages
from gridmap.store import Store, open_store

log = logging.getLogger("gridmap.portal")

#: Largest request body accepted, bytes (uploads of boundary files come later; 32 MiB is plenty).
MAX_CONTENT_LENGTH_BYTES = 32 * 1024 * 1024
#: Every blueprint of the portal, in registration order (feature packages, see docs/architecture.md).
BLUEPRINTS: tuple[Blueprint, ...] = (
    home_pages.bp, api.bp, lookup_api.bp, openapi.bp, resident.bp, photos.bp,
    open311.bp, incidents_api.bp, incidents_pages.bp,
    account_pages.bp, dashboard.bp, admin_pages.bp, live.bp,
    analysis_api.bp, analysis_pages.bp, planner_api.bp, planner_pages.bp,
    tracking_api.bp, tracking_pages.bp, ogc.bp, tiles.bp, field_api.bp, field_pages.bp,
)  # fmt: skip


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


def create_app(settings: Settings, *, store: Store | None = None, peers: Peers | None = None) -> Flask:
    """Build a portal app for ``settings``; opens ``settings.store_url`` unless ``store`` is given.

    ``peers`` connects the app to the other processes of ``gridmap serve --processes N``
    (gridmap.portal.peers); without it the app serves alone.
    """
    basemap = basemap_from_settings(settings)  # a bad basemap setting fails at start-up, not on first request
    root = web_root()
    app = Flask(
        "gridmap.portal",
        template_folder=str(root / "templates"),
        static_folder=str(root / "static"),
        static_url_path="/static",
    )
    app.request_class = PortalRequest  # multipart bodies through python-multipart (gridmap.portal.forms)
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_NAME="gridmap_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        # A session ends session_lifetime_min after login whatever the cookie says (gridmap.portal.auth),
        # so re-signing the cookie on every response would only cost time on every request.
        SESSION_REFRESH_EACH_REQUEST=False,
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
    init_compression(app)
    init_i18n(app)
    register_error_handlers(app)
    links = peers or Peers(None)
    app.extensions[PEERS_KEY] = links
    _init_access(app, opened, settings, links)
    links.start()
    app.extensions.setdefault(ON_CLOSE_KEY, []).append(links.close)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app


def _init_access(app: Flask, store: Store, settings: Settings, peers: Peers) -> None:
    """Principals (session/API key), rate limits, CSRF checks and the live event hub, in this order."""
    from gridmap.portal.auth import init_auth
    from gridmap.portal.csrf import init_csrf
    from gridmap.portal.live import init_live
    from gridmap.portal.ratelimit import init_ratelimit

    init_auth(app, store, settings, peers)
    init_ratelimit(app, settings, peers=peers)
    init_csrf(app)
    hub = init_live(app, max_subscribers=settings.live_max_subscribers, peers=peers)
    app.extensions.setdefault(ON_CLOSE_KEY, []).append(hub.close)


def close_app(app: Flask) -> None:
    """Stop what the blueprints started (timers), then close the store if create_app opened it."""
    for stop in reversed(app.extensions.get(ON_CLOSE_KEY, [])):
        stop()
    state = app.extensions.get(EXTENSION_KEY)
    if isinstance(state, PortalState) and state.owns_store:
        state.store.close()
