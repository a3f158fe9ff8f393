"""The lookup HTTP API, the OpenAPI document and the resident page, through Flask's test client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridmap import schema
from gridmap.config import Settings
from gridmap.crs import from_wgs84
from gridmap.portal.app import close_app, create_app
from gridmap.portal.openapi import openapi_document
from gridmap.store.gpkg import GeoPackageStore
from tests.lookup import fixtures as fx

A1 = fx.COMM_A + "001"
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    path: Path = tmp_path_factory.mktemp("api") / "api.gpkg"
    # the rate limits (gridmap.portal.ratelimit) have their own tests; these tests send many requests
    settings = Settings(store_url=f"gpkg://{path}", secret_key="lookup-tests", rate_limit_public_write_per_min=0,
                        rate_limit_public_read_per_s=0)
    store = GeoPackageStore(settings.store_url, settings)
    store.migrate()
    fx.fill_store(store)
    with store.transaction() as tx:  # a worker with a hostile name in grid B2
        tx.insert(schema.WORKERS, fx.workers_frame().iloc[[0]].assign(
            worker_id="evil", name=HOSTILE, grid_code=fx.COMM_B + "002", duties=HOSTILE, extra_grid_codes=None))
    app = create_app(settings, store=store)
    yield app
    close_app(app)
    store.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def get_json(client: FlaskClient, url: str, status: int) -> dict:  # type: ignore[type-arg]
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()  # type: ignore[no-any-return]


def test_point_lookup(client: FlaskClient) -> None:
    lon, lat = fx.xy(1, 5)
    body = get_json(client, f"/api/v1/lookup?lon={lon}&lat={lat}", 200)
    assert body["ok"] is True
    assert body["grid"]["code"] == A1 and "geometry" not in body["grid"]
    names = (body["community"]["name"], body["street"]["name"], body["district"]["name"])
    assert names == ("甲社区", "黎阳街道", "淇滨区")
    assert body["service_centre"]["name"] == "甲社区党群服务中心"
    with_geometry = get_json(client, f"/api/v1/lookup?lon={lon}&lat={lat}&geometry=1", 200)
    assert with_geometry["grid"]["geometry"]["type"] == "MultiPolygon"


def test_worker_keys_are_exactly_the_public_fields(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/lookup?lon={}&lat={}".format(*fx.xy(6, 5)), 200)
    people = [body["leader"], *body["workers"]]
    assert len(people) == 3
    for person in people:
        assert set(person) == {"name", "role", "phone", "photo", "duties"}
    text = json.dumps(body, ensure_ascii=False)
    for private in ("worker_id", "device_id", "dev-secret", "partner_worker_id", "extra_grid_codes", "active"):
        assert private not in text


def test_crs_parameter(client: FlaskClient) -> None:
    x, y = from_wgs84(*fx.xy(9, 1), "gcj02")
    assert get_json(client, f"/api/v1/lookup?lon={x}&lat={y}&crs=gcj02", 200)["grid"]["code"] == fx.COMM_B + "001"
    x, y = from_wgs84(*fx.xy(9, 1), "EPSG:4547")
    assert get_json(client, f"/api/v1/lookup?lon={x}&lat={y}&crs=EPSG:4547", 200)["grid"]["code"] == fx.COMM_B + "001"


def test_address_lookup(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/lookup?address=淇滨区淇河路１２号", 200)
    assert body["candidates"][0]["label"] == "淇河路12号"
    assert body["result"]["grid"]["code"] == A1
    assert 0 < body["candidates"][0]["score"] <= 1


def test_outside_is_404_with_the_nearest_grid(client: FlaskClient) -> None:
    body = get_json(client, "/api/v1/lookup?lon={}&lat={}".format(*fx.xy(18, 3)), 404)
    assert body["ok"] is False and body["error"]["code"] == "not_found"
    assert body["error"]["details"]["nearest_grid"]["code"] == fx.COMM_B + "002"
    assert 300 < body["error"]["details"]["distance_m"] < 400  # 2 lattice steps of 1/512 degree at 35.75N


@pytest.mark.parametrize(
    ("query", "code", "words"),
    [
        ("lon=abc&lat=35.7", "validation_error", "lon must be a number"),
        ("lon=114.3", "validation_error", "lat must be a number"),
        ("lon=114.3&lat=", "validation_error", "lat must be a number"),
        ("lon=NaN&lat=35.7", "validation_error", "finite"),
        ("lon=181&lat=35.7", "validation_error", "out of range"),
        ("lon=114.3&lat=91", "validation_error", "out of range"),
        ("lon=114.3&lat=35.7&crs=mars", "validation_error", "unknown CRS"),
        ("lon=114.3&lat=35.7&crs=EPSG:1", "validation_error", "unknown CRS"),
        ("", "validation_error", "give lon and lat"),
        ("address=", "validation_error", "empty"),
        ("address=%20%E3%80%80", "validation_error", "empty"),
        ("address=x&lon=1&lat=2", "validation_error", "not both"),
        ("address=" + "淇" * 201, "validation_error", "at most 200"),
        ("lon={lat}&lat={lon}", "swapped_coordinates", "swapped"),
    ],
)
def test_bad_point_input_is_400(client: FlaskClient, query: str, code: str, words: str) -> None:
    lon, lat = fx.xy(1, 5)
    body = get_json(client, "/api/v1/lookup?" + query.format(lon=lon, lat=lat), 400)
    assert body["ok"] is False
    assert body["error"]["code"] == code
    assert words in body["error"]["message"]


def test_batch(client: FlaskClient) -> None:
    pts = [list(fx.xy(1, 5)), list(fx.xy(30, 3)), list(fx.xy(15, 5))]
    response = client.post("/api/v1/lookup/batch", json={"points": pts})
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "count": 3, "codes": [A1, None, fx.COMM_B + "002"]}
    bd = [list(from_wgs84(x, y, "bd09")) for x, y in pts]
    assert client.post("/api/v1/lookup/batch", json={"points": bd, "crs": "bd09"}).get_json()["codes"][0] == A1


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"points": [[114.3, 35.7]] * 10_001}, "limit of 10000"),
        ({"points": "114,35"}, "list of"),
        ({"points": [[114.3, 35.7, 1.0]]}, "point 0"),
        ({"points": [[114.3, None]]}, "point 0"),
        ({"points": [[514.3, 35.7]]}, "out of range"),
        ({"points": [], "crs": 4326}, "crs must be text"),
        ({"points": [], "crs": "mars"}, "unknown CRS"),
        ({"points": [], "srid": 4326}, "unknown field"),
        ([[114.3, 35.7]], "must be JSON"),
        ("not json", "must be JSON"),
    ],
)
def test_bad_batches_are_400(client: FlaskClient, payload: object, words: str) -> None:
    if isinstance(payload, str):
        response = client.post("/api/v1/lookup/batch", data=payload, content_type="application/json")
    else:
        response = client.post("/api/v1/lookup/batch", json=payload)
    assert response.status_code == 400
    body = response.get_json()
    assert body["ok"] is False and body["error"]["code"] in {"validation_error", "batch_too_large"}
    assert words in body["error"]["message"]


def test_mapit_style_point(client: FlaskClient) -> None:
    lon, lat = fx.xy(9, 3)
    body = get_json(client, f"/api/v1/point/4326/{lon},{lat}", 200)
    assert set(body["areas"]) == {fx.DISTRICT, fx.STREET, fx.COMM_B, fx.COMM_B + "001", fx.COMM_A + "901"}
    assert body["areas"][fx.COMM_A + "901"]["kind"] == "professional"
    for srid in ("gcj02", "bd09"):
        x, y = from_wgs84(lon, lat, srid)
        assert fx.COMM_B + "001" in get_json(client, f"/api/v1/point/{srid}/{x},{y}", 200)["areas"]
    assert fx.COMM_B + "001" in get_json(client, f"/api/v1/point/4490/{lon},{lat}", 200)["areas"]
    assert "expected <lon>,<lat>" in get_json(client, f"/api/v1/point/4326/{lon}", 400)["error"]["message"]
    assert "unknown CRS" in get_json(client, f"/api/v1/point/mars/{lon},{lat}", 400)["error"]["message"]


def test_openapi_describes_the_core_and_lookup_routes(app: Flask, client: FlaskClient) -> None:
    doc = get_json(client, "/api/v1/openapi.json", 200)
    assert doc["openapi"] == "3.1.0"
    routes = {}
    described_blueprints = {"api", "lookup_api"}  # the parts in API_PARTS; other teams append their own
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in described_blueprints:
            path = rule.rule.replace("<", "{").replace(">", "}")
            routes[path] = {m.lower() for m in rule.methods or ()} - {"head", "options"}
    assert {"/api/v1/lookup", "/api/v1/lookup/batch", "/api/v1/point/{srid}/{coords}"} <= set(routes)
    for path, methods in routes.items():
        assert path in doc["paths"], path
        assert methods <= set(doc["paths"][path]), path
    worker = doc["components"]["schemas"]["Worker"]
    assert set(worker["properties"]) == {"name", "role", "phone", "photo", "duties"}
    refs = {v for v in json.dumps(doc).split('"') if v.startswith("#/components/schemas/")}
    assert {r.rsplit("/", 1)[1] for r in refs} <= set(doc["components"]["schemas"])


def test_openapi_parts_cannot_clash() -> None:
    from gridmap.portal.openapi import lookup_part

    with pytest.raises(ValueError, match="redefines"):
        openapi_document(parts=(lookup_part, lookup_part))


def test_resident_page(client: FlaskClient) -> None:
    page = client.get("/resident")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "居民查询" in html and 'id="rs-map"' in html and "leaflet.js" in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    english = client.get("/resident?lang=en").get_data(as_text=True)
    assert "Find my grid" in english and "Use my location" in english
    # the fixture district is synthetic: the page says so (a real one would not: see test_photos' store)
    assert 'data-testid="synthetic-note">演示数据为合成数据' in html
    assert 'data-testid="synthetic-note">Demo data is synthetic' in english


def test_resident_page_for_a_grid_escapes_everything(client: FlaskClient) -> None:
    b2 = fx.COMM_B + "002"
    html = client.get(f"/resident?grid={b2}").get_data(as_text=True)
    assert b2 in html
    assert HOSTILE not in html  # the hostile worker name only appears JSON-escaped (\u003c...)
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html


def test_resident_page_bad_grids(client: FlaskClient) -> None:
    missing = client.get(f"/resident?grid={fx.COMM_A}999")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert client.get("/resident?grid=12x").status_code == 400


def test_no_input_makes_a_500(app: Flask) -> None:
    """Arbitrary lon/lat/crs/address text and batch bodies: always 200, 400 or 404, never a server error."""
    from urllib.parse import urlencode

    from hypothesis import given, settings
    from hypothesis import strategies as st

    client = app.test_client()
    numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30))
    texts = st.one_of(st.text(max_size=30), numbers.map(str))

    @settings(max_examples=150, deadline=None, derandomize=True)
    @given(lon=texts, lat=texts, crs=st.one_of(st.none(), st.sampled_from(["wgs84", "gcj02", "bd09", "EPSG:3857",
                                                                         "EPSG:4547", "4490"]), st.text(max_size=12)))
    def point(lon: str, lat: str, crs: str | None) -> None:
        query = {"lon": lon, "lat": lat, **({"crs": crs} if crs is not None else {})}
        response = client.get("/api/v1/lookup?" + urlencode(query))
        assert response.status_code in {200, 400, 404}, (query, response.get_data(as_text=True))
        assert response.get_json()["ok"] is (response.status_code == 200)

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(body=st.recursive(st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=5)),
                             lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.sampled_from(["points", "crs", "x"]), inner,
                                                                     max_size=3)), max_leaves=12))
    def batch(body: object) -> None:
        response = client.post("/api/v1/lookup/batch", json=body)
        assert response.status_code in {200, 400}, (body, response.get_data(as_text=True))

    @settings(max_examples=80, deadline=None, derandomize=True)
    @given(address=st.text(max_size=40))
    def address(address: str) -> None:
        response = client.get("/api/v1/lookup?" + urlencode({"address": address}))
        assert response.status_code in {200, 400, 404}, (address, response.get_data(as_text=True))

    point()
    batch()
    address()
