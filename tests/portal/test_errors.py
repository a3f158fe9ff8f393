"""The one error handler: domain errors, Flask's own 404/405, and unexpected exceptions."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient

from gridmap.config import Settings
from gridmap.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StoreUnavailableError,
    ValidationError,
)
from gridmap.portal.app import create_app
from gridmap.store.base import Store

SECRET_PATH = "/srv/secret/store.gpkg"


def _raising_blueprint() -> Blueprint:
    bp = Blueprint("raising", __name__)

    @bp.get("/api/v1/test/validation")
    def api_validation() -> str:
        raise ValidationError("file roads.gpkg: feature 12 has no geometry (rule: every road is a line)",
                              details=[{"fid": 12}])

    @bp.get("/test/conflict")
    def page_conflict() -> str:
        raise ConflictError("grid 410611001001001 already exists in generation 3")

    @bp.get("/test/missing")
    def page_missing() -> str:
        raise NotFoundError("no grid with code 410611001001999")

    @bp.get("/test/forbidden")
    def page_forbidden() -> str:
        raise PermissionDeniedError("only an installation-wide admin reads this")

    @bp.get("/test/store")
    def page_store() -> str:
        raise StoreUnavailableError(f"GeoPackage {SECRET_PATH} is busy")

    @bp.get("/test/bug")
    def page_bug() -> str:
        raise ZeroDivisionError("division by zero in a secret place")

    return bp


@pytest.fixture
def err_client(portal_settings: Settings, sample_store: Store) -> Iterator[FlaskClient]:
    app: Flask = create_app(portal_settings, store=sample_store)
    app.register_blueprint(_raising_blueprint())
    yield app.test_client()


def test_domain_error_on_api_is_json_with_code_and_message(err_client: FlaskClient) -> None:
    response = err_client.get("/api/v1/test/validation")
    assert response.status_code == 400
    assert response.json == {
        "ok": False,
        "error": {
            "code": "validation_error",
            "message": "file roads.gpkg: feature 12 has no geometry (rule: every road is a line)",
            "details": [{"fid": 12}],
        },
    }


def test_domain_error_on_page_is_html_and_escaped(err_client: FlaskClient) -> None:
    response = err_client.get("/test/conflict")
    assert response.status_code == 409 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "grid 410611001001001 already exists in generation 3" in page
    assert "<code>conflict</code>" in page


@pytest.mark.parametrize(("lang", "title"), [("zh-CN", "您的账号无权访问"), ("en", "Your account may not open this")])
def test_a_403_page_is_titled_in_the_readers_language(err_client: FlaskClient, lang: str, title: str) -> None:
    page = err_client.get("/test/forbidden", headers={"Accept-Language": lang})
    assert page.status_code == 403 and f"<span class=\"gm-error-status\">403</span> {title}</h1>" in page.get_data(
        as_text=True)
    assert "only an installation-wide admin" in page.get_data(as_text=True)  # the reason stays
    api = err_client.get("/test/forbidden", headers={"Accept": "application/json"})
    assert api.json["error"] == {"code": "forbidden", "message": "only an installation-wide admin reads this"}


def test_page_error_as_json_when_the_client_prefers_it(err_client: FlaskClient) -> None:
    response = err_client.get("/test/missing", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    html = err_client.get("/test/missing", headers={"Accept": "text/html,application/json;q=0.9"})
    assert html.mimetype == "text/html"


def test_flask_404_and_405(err_client: FlaskClient) -> None:
    api404 = err_client.get("/api/v1/nothing-here", headers={"Accept-Language": "en"})
    assert api404.status_code == 404
    assert api404.json == {"ok": False, "error": {"code": "not_found", "message": "Page not found"}}
    page404 = err_client.get("/nothing-here")
    assert page404.status_code == 404 and "页面不存在" in page404.get_data(as_text=True)
    api405 = err_client.post("/api/v1/health")
    assert api405.status_code == 405
    assert api405.json["error"]["code"] == "method_not_allowed"
    assert "GET" in api405.headers["Allow"]


def test_store_unavailable_is_503_without_leaking_the_path(err_client: FlaskClient, caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="gridmap.portal"):
        response = err_client.get("/test/store", headers={"Accept": "application/json", "Accept-Language": "en"})
    assert response.status_code == 503
    assert response.json["error"]["code"] == "store_unavailable"
    assert SECRET_PATH not in response.get_data(as_text=True)
    assert "try again" in response.json["error"]["message"]
    assert any(SECRET_PATH in r.getMessage() for r in caplog.records)  # ...but the log has it


def test_unexpected_exception_is_500_logged_never_shown(err_client: FlaskClient, caplog) -> None:
    with caplog.at_level(logging.ERROR, logger="gridmap.portal"):
        page = err_client.get("/test/bug")
    text = page.get_data(as_text=True)
    assert page.status_code == 500 and page.mimetype == "text/html"
    assert "Traceback" not in text and "ZeroDivisionError" not in text and "secret place" not in text
    assert "服务器内部错误" in text
    logged = [r for r in caplog.records if r.exc_info]
    assert logged and logged[0].exc_info[0] is ZeroDivisionError
