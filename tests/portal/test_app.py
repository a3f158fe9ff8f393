"""create_app: factory without global state, web folder, security headers, cookies, secret key."""

from __future__ import annotations

import logging
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.portal.app import EXTENSION_KEY, PortalState, close_app, content_security_policy, create_app
from gridmap.portal.maps.assets import web_root
from gridmap.store.base import Store


def test_two_apps_side_by_side_keep_their_own_state(portal_settings: Settings, sample_store: Store) -> None:
    first = create_app(portal_settings, store=sample_store)
    second = create_app(portal_settings.replace(basemap="osm"), store=sample_store)
    assert first is not second
    assert first.extensions[EXTENSION_KEY].settings.basemap == "none"
    assert second.extensions[EXTENSION_KEY].settings.basemap == "osm"
    assert first.extensions[EXTENSION_KEY].owns_store is False


def test_app_opens_and_closes_the_store_from_settings(portal_settings: Settings, sample_store: Store) -> None:
    app = create_app(portal_settings)  # no store given: opened from settings.store_url
    state = app.extensions[EXTENSION_KEY]
    assert isinstance(state, PortalState) and state.owns_store
    assert state.store is not sample_store
    assert app.test_client().get("/api/v1/health").json["store"]["reachable"] is True
    close_app(app)
    assert app.test_client().get("/api/v1/health").status_code == 503


def test_templates_and_static_come_from_web(app: Flask, client: FlaskClient) -> None:
    assert app.template_folder == str(web_root() / "templates")
    assert app.static_folder == str(web_root() / "static")
    css = client.get("/static/css/gridmap.css")
    assert css.status_code == 200 and b".gm-header" in css.data
    leaflet = client.get("/static/vendor/leaflet-1.9.3/leaflet.js")
    assert leaflet.status_code == 200 and leaflet.data.startswith(b"/*")


def test_security_headers_and_nonce_on_every_inline_script(client: FlaskClient) -> None:
    response = client.get("/")
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    csp = headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert "script-src 'self' 'nonce-" in csp and "unsafe-inline' " not in csp.split("style-src")[0]
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    page = response.get_data(as_text=True)
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert len(scripts) > 3
    assert all(f'nonce="{nonce}"' in tag for tag in scripts), [t for t in scripts if nonce not in t]
    # A fresh nonce per response.
    assert client.get("/").headers["Content-Security-Policy"] != csp


def test_csp_allows_exactly_the_tile_origins_of_the_basemap() -> None:
    csp = content_security_policy("n", ("https://t0.tianditu.gov.cn", "https://t1.tianditu.gov.cn"))
    img = next(d for d in csp.split("; ") if d.startswith("img-src"))
    assert img == "img-src 'self' data: blob: https://t0.tianditu.gov.cn https://t1.tianditu.gov.cn"
    assert "tianditu" not in csp.replace(img, "")


def test_tile_basemap_origins_reach_the_header(portal_settings: Settings, sample_store: Store) -> None:
    app = create_app(portal_settings.replace(basemap="amap"), store=sample_store)
    csp = app.test_client().get("/api/v1/health").headers["Content-Security-Policy"]
    assert "https://webrd01.is.autonavi.com" in csp and "https://webrd04.is.autonavi.com" in csp


def test_session_cookie_settings(portal_settings: Settings, sample_store: Store) -> None:
    plain = create_app(portal_settings, store=sample_store)
    assert plain.config["SESSION_COOKIE_HTTPONLY"] is True
    assert plain.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert plain.config["SESSION_COOKIE_SECURE"] is False  # http://127.0.0.1 by default
    https = create_app(portal_settings.replace(public_base_url="https://grid.example.cn"), store=sample_store)
    assert https.config["SESSION_COOKIE_SECURE"] is True
    assert "Strict-Transport-Security" in https.test_client().get("/api/v1/health").headers


def test_secret_key_from_settings_or_random_with_warning(
    portal_settings: Settings, sample_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    assert create_app(portal_settings, store=sample_store).secret_key == "portal-tests"
    with caplog.at_level(logging.WARNING, logger="gridmap.portal"):
        one = create_app(portal_settings.replace(secret_key=""), store=sample_store)
        two = create_app(portal_settings.replace(secret_key=""), store=sample_store)
    assert one.secret_key and two.secret_key and one.secret_key != two.secret_key
    assert len(str(one.secret_key)) >= 32
    assert sum("secret_key is empty" in r.getMessage() for r in caplog.records) == 2


def test_bad_basemap_setting_fails_at_start_up(portal_settings: Settings, sample_store: Store) -> None:
    with pytest.raises(ValidationError, match="tianditu_key"):
        create_app(portal_settings.replace(basemap="tianditu"), store=sample_store)
