"""Analysis API and pages through the Flask test client: roles, area scope, results, escaping, offline maps."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridmap import schema
from gridmap.auth.accounts import create_token
from gridmap.auth.passwords import hash_password
from gridmap.config import Settings
from gridmap.portal.app import close_app, create_app
from gridmap.store.base import Store
from gridmap.store.factory import open_store
from tests.analysis import store_sample as ss

PASSWORD = "analysis-tests-password"
HOSTILE = '<img src=x onerror=alert("cat")>'
ACCOUNTS = [("ana", "analyst", ss.DISTRICT), ("cmd1", "command", ss.C1), ("wrk", "worker", ss.C1 + "001")]


@pytest.fixture(scope="module")
def district_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("analysis-portal") / "portal.gpkg"
    settings = Settings(store_url=f"gpkg://{path}", secret_key="analysis-tests")
    store = open_store(settings.store_url, settings)
    ss.populate(store)
    now = pd.Timestamp.now(tz="UTC")
    pw = hash_password(PASSWORD)
    with store.transaction() as tx:
        tx.insert(schema.ACCOUNTS, pd.DataFrame([
            {"username": u, "role": r, "area_code": a, "display_name": u, "password_hash": pw, "active": True,
             "created_at": now} for u, r, a in ACCOUNTS]))
        tx.update(schema.INCIDENTS, {"incident_id": "EV000002"}, {"category": HOSTILE})
    yield store
    store.close()


@pytest.fixture(scope="module")
def app(district_store: Store) -> Iterator[Flask]:
    settings = Settings(store_url=district_store.url, secret_key="analysis-tests")
    app = create_app(settings, store=district_store)
    yield app
    close_app(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def keys(district_store: Store) -> dict[str, str]:
    return {role: create_token(district_store, role=role, area_code=area, actor="test").api_key
            for role, area in (("analyst", ss.DISTRICT), ("command", ss.C1), ("worker", ss.C1 + "001"))}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def login(client: FlaskClient, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]


def test_api_needs_an_analysis_role(client: FlaskClient, keys: dict[str, str]):
    assert client.get("/api/v1/analysis/hotspots").status_code == 401
    response = client.get("/api/v1/analysis/hotspots", headers=bearer(keys["worker"]))
    assert response.status_code == 403 and response.get_json()["ok"] is False


def test_hotspots_api_is_scoped_to_the_callers_area(client: FlaskClient, keys: dict[str, str]):
    response = client.get("/api/v1/analysis/hotspots?cells=grids&permutations=99&seed=2",
                          headers=bearer(keys["analyst"]))
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    body = response.get_json()
    codes = {f["properties"]["cell_id"] for f in body["features"]}
    assert codes == {g[0] for g in ss.GRID_CELLS}
    assert sum(f["properties"]["incidents"] for f in body["features"]) == ss.COUNTED_INCIDENTS
    assert body["gridmap"]["permutations"] == 99 and body["gridmap"]["area_code"] == ss.DISTRICT
    mine = client.get("/api/v1/analysis/hotspots?cells=grids&permutations=0", headers=bearer(keys["command"]))
    assert {f["properties"]["cell_id"] for f in mine.get_json()["features"]} == {g[0] for g in ss.GRID_CELLS[:4]}
    other = client.get(f"/api/v1/analysis/hotspots?area={ss.C2}", headers=bearer(keys["command"]))
    assert other.status_code == 403
    assert client.get("/api/v1/analysis/hotspots?area=410611009", headers=bearer(keys["command"])).status_code == 403


@pytest.mark.parametrize(("query", "message"), [
    ("cells=hex:9", "unknown cell spec"), ("cells=h3:13", "resolution up to 10"), ("permutations=100000", "9999"),
    ("method=kde", "method="), ("fdr=maybe", "use 1 or 0"), ("weight=category", "not a numeric incident column"),
    ("start=soon", "not a date"), ("area=12", "digits"),
])
def test_bad_parameters_are_400_with_the_rule(client: FlaskClient, keys: dict[str, str], query: str, message: str):
    response = client.get(f"/api/v1/analysis/hotspots?{query}", headers=bearer(keys["analyst"]))
    assert response.status_code == 400
    assert message in response.get_json()["error"]["message"]


def test_emerging_coverage_stats_and_heat_api(client: FlaskClient, keys: dict[str, str]):
    key = bearer(keys["analyst"])
    emerging = client.get("/api/v1/analysis/hotspots?emerging=1&period=month", headers=key).get_json()
    assert len(emerging["gridmap"]["periods"]) == 12 and "category" in emerging["features"][0]["properties"]
    coverage = client.get("/api/v1/analysis/coverage?distance=700", headers=key).get_json()
    assert coverage["access"]["share_within"] == pytest.approx(1500 / 2800)
    stats = client.get("/api/v1/analysis/stats?level=grid", headers=key).get_json()
    assert stats["totals"]["households"] == sum(ss.HOUSEHOLDS) and len(stats["rows"]) == len(ss.GRID_CELLS)
    csv = client.get("/api/v1/analysis/stats?level=community&format=csv", headers=key)
    table = pd.read_csv(io.StringIO(csv.get_data(as_text=True)), dtype={"code": str})
    assert list(table["code"]) == [ss.C1, ss.C2] and table["incidents"].sum() == ss.COUNTED_INCIDENTS
    heat = client.get(f"/api/v1/analysis/heat?area={ss.C2}", headers=key).get_json()
    assert heat["incidents"] == ss.OTHER_INCIDENTS * 3 and len(heat["all"]) == 6


def test_pages_need_sign_in_and_role(client: FlaskClient):
    response = client.get("/analysis/hotspots")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(client, "wrk")
    assert client.get("/analysis/hotspots").status_code == 403


def test_hotspot_page_has_map_table_and_escapes_data(client: FlaskClient):
    login(client, "ana")
    html = client.get("/analysis/hotspots?cells=grids&permutations=99").get_data(as_text=True)
    assert html.count('data-testid="an-row"') == len(ss.GRID_CELLS)
    # 99 permutations over 7 grids cannot reach 99 % after FDR: the page says so, in Chinese, and what to do
    assert 'data-testid="an-resolution-note"' in html and "置换 99 次时 p 值最小为 0.0200" in html
    assert "（如 9999）" in html
    assert "gm-analysis-cell" in html and "/static/vendor/leaflet-1.9.3/leaflet.js" in html
    assert HOSTILE not in html and "&lt;img src=x onerror=alert(" in html  # the category option is text
    assert "https://cdn" not in html
    nav = client.get("/").get_data(as_text=True)
    assert 'href="/analysis/hotspots"' in nav  # the analysis entry is in the navigation of an analyst
    emerging = client.get("/analysis/hotspots?emerging=1").get_data(as_text=True)
    assert "an-hotspot-table" in emerging and ("无明显模式" in emerging or "热点" in emerging)


def test_heat_pages_stay_offline(client: FlaskClient):
    login(client, "ana")
    layers = client.get("/analysis/heat").get_data(as_text=True)
    assert "/static/vendor/folium-0.20.0/leaflet_heat.min.js" in layers and "L.heatLayer" in layers
    assert HOSTILE not in layers  # the hostile category names a heat layer and a form option: escaped in both
    assert "&lt;img src=x onerror=alert(" in layers  # the form's option, escaped by Jinja
    assert "\\u0026lt;img src=x onerror=alert(" in layers  # the layer control's label: escaped, then JSON
    weekly = client.get("/analysis/heat?view=weekly&lang=en").get_data(as_text=True)
    for asset in ("leaflet-timedimension-1.1.1/leaflet.timedimension.min.js", "iso8601-js-period-0.2.1/iso8601.js",
                  "folium-0.20.0/pa7_hm.min.js", "leaflet-timedimension-1.1.1/leaflet.timedimension.control.css"):
        assert f"/static/vendor/{asset}" in weekly
    for page in (layers, weekly):
        assert re.findall(r'(?:src|href)="(?:https?:)?//', page) == []  # nothing loaded from another host
    assert "cdn.jsdelivr" not in weekly and "Drag the time slider" in weekly


def test_stats_and_coverage_pages(client: FlaskClient):
    login(client, "cmd1")
    stats = client.get("/analysis/stats?level=grid&measure=incidents").get_data(as_text=True)
    assert stats.count('data-testid="an-row"') == 4  # C1's grids only
    total = re.search(r'data-testid="an-total-incidents">([^<]+)<', stats)
    assert total is not None and total.group(1).replace(",", "") == str(ss.HOT_INCIDENTS + 3 * ss.OTHER_INCIDENTS)
    csv = client.get("/analysis/stats.csv?level=grid")
    assert csv.mimetype == "text/csv" and csv.get_data(as_text=True).startswith("\ufeffcode,name")
    coverage = client.get("/analysis/coverage?distance=700").get_data(as_text=True)
    assert 'data-testid="an-table-grids_without_worker"' in coverage and "网格003" in coverage
    assert client.get(f"/analysis/stats?area={ss.C2}").status_code == 403


def test_both_languages_have_the_same_keys_and_placeholders():
    from string import Formatter

    from gridmap.portal.i18n.analysis import CATALOGUES

    zh, en = CATALOGUES["zh"], CATALOGUES["en"]
    assert set(zh) == set(en)
    for key in zh:
        fields = [{f for _, f, _, _ in Formatter().parse(text) if f} for text in (zh[key], en[key])]
        assert fields[0] == fields[1], key


def test_heat_page_counts_a_new_incident_at_once(client: FlaskClient, district_store: Store):
    login(client, "ana")
    count = re.compile(r'data-testid="an-heat-count">共 ([0-9,]+) 件事件<')
    before = count.search(client.get("/analysis/heat").get_data(as_text=True))
    assert before is not None
    extra = ss.incidents().iloc[[2]].assign(incident_id="EV_NEW")
    with district_store.transaction() as tx:
        tx.insert(schema.INCIDENTS, extra)
    after = count.search(client.get("/analysis/heat").get_data(as_text=True))
    assert after is not None
    assert int(after.group(1).replace(",", "")) == int(before.group(1).replace(",", "")) + 1
    with district_store.transaction() as tx:
        tx.delete(schema.INCIDENTS, {"incident_id": "EV_NEW"})


def test_openapi_describes_every_analysis_route(app: Flask, client: FlaskClient):
    doc = client.get("/api/v1/openapi.json").get_json()
    routes = {r.rule: {m.lower() for m in r.methods or ()} - {"head", "options"}
              for r in app.url_map.iter_rules() if r.endpoint.startswith("analysis_api.")}
    assert len(routes) == 4
    for path, methods in routes.items():
        assert path in doc["paths"] and methods <= set(doc["paths"][path]), path
