"""The home page and /api/v1: real store (GeoPackage) with the sample hierarchy."""

from __future__ import annotations

import json
import re

from flask.testing import FlaskClient
from portal_sample import AREAS, GRIDS, HOSTILE

from gridmap.config import Settings
from gridmap.portal.app import create_app
from gridmap.portal.i18n.translator import LANG_COOKIE
from gridmap.store.factory import open_store

BASE_GRIDS = [g for g in GRIDS if g[2] != "professional"]


def _count(page: str, testid: str) -> str:
    return re.search(rf'data-testid="{testid}">([^<]*)<', page).group(1)


def test_home_shows_product_counts_and_map(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert "网格化服务管理 · gridmap" in page
    assert '<html lang="zh-CN">' in page
    assert _count(page, "count-districts") == "1"
    assert _count(page, "count-streets") == "2"
    assert _count(page, "count-communities") == "3"
    assert _count(page, "count-grids") == str(len(BASE_GRIDS))
    households = sum(a[4] for a in AREAS if a[2] == "community")
    assert _count(page, "count-households") == f"{households:,}"
    assert 'class="folium-map"' in page and "L.map(" in page
    assert HOSTILE not in page


def test_language_switch_by_query_cookie_and_header(client: FlaskClient) -> None:
    english = client.get("/?lang=en")
    page = english.get_data(as_text=True)
    assert '<html lang="en">' in page and "Grid service management · gridmap" in page
    assert ">Households<" in page and "Grids" in page
    cookie = english.headers["Set-Cookie"]
    assert f"{LANG_COOKIE}=en" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # The cookie now keeps English without the query...
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    # ...and the switch link points back to Chinese on the same page.
    assert 'href="/?lang=zh"' in client.get("/").get_data(as_text=True)
    client.delete_cookie(LANG_COOKIE)
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in client.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True)


def test_empty_store_renders_an_empty_map_with_a_hint(portal_settings: Settings, tmp_path) -> None:
    settings = portal_settings.replace(store_url=f"gpkg://{tmp_path / 'empty.gpkg'}")
    app = create_app(settings)
    page = app.test_client().get("/").get_data(as_text=True)
    assert "暂无边界数据" in page
    assert _count(page, "count-grids") == "0"
    assert _count(page, "count-households") == "—"


def test_health_reports_schema_version(client: FlaskClient, portal_settings: Settings) -> None:
    body = client.get("/api/v1/health").json
    store = open_store(portal_settings.store_url, portal_settings, migrate=False)
    assert body == {"ok": True, "store": {"reachable": True, "backend": "gpkg",
                                         "schema_version": store.schema_version()}}
    assert body["store"]["schema_version"] >= 1


def test_areas_by_level_as_geojson(client: FlaskClient) -> None:
    for level in ("district", "street", "community"):
        response = client.get(f"/api/v1/areas?level={level}")
        assert response.mimetype == "application/geo+json"
        features = json.loads(response.data)["features"]
        assert {f["properties"]["code"] for f in features} == {a[0] for a in AREAS if a[2] == level}
        assert all(f["properties"]["level"] == level for f in features)
    everything = json.loads(client.get("/api/v1/areas").data)["features"]
    assert len(everything) == len(AREAS)
    district = next(f for f in everything if f["properties"]["code"] == "410611")
    assert district["geometry"]["type"] == "MultiPolygon"
    lons = [p[0] for p in district["geometry"]["coordinates"][0][0]]
    assert min(lons) == 114.00 and max(lons) == 114.12  # lon/lat order, as stored


def test_areas_level_grid_returns_active_grids_with_raw_names(client: FlaskClient) -> None:
    features = json.loads(client.get("/api/v1/areas?level=grid").data)["features"]
    assert {f["properties"]["code"] for f in features} == {g[0] for g in GRIDS}
    hostile = next(f for f in features if f["properties"]["code"] == "410611001001001")
    # JSON carries data, not HTML: the name is returned as stored; nosniff keeps browsers from rendering it.
    assert hostile["properties"]["name"] == HOSTILE


def test_areas_rejects_unknown_level(client: FlaskClient) -> None:
    response = client.get("/api/v1/areas?level=province")
    assert response.status_code == 400
    assert response.json["ok"] is False
    assert "level='province'" in response.json["error"]["message"]
    assert "district, street, community, grid" in response.json["error"]["message"]


def _home_page(settings: Settings, path) -> str:
    from portal_sample import populate_store

    settings = settings.replace(store_url=f"gpkg://{path}")
    store = open_store(settings.store_url, settings)
    populate_store(store)
    try:
        return create_app(settings, store=store).test_client().get("/").get_data(as_text=True)
    finally:
        store.close()


def test_city_home_embeds_only_districts_and_keeps_exact_counts(portal_settings: Settings, tmp_path) -> None:
    """More grids than tiled_map_min_grids: the page names the tile URLs, embeds no grid, counts exactly."""
    page = _home_page(portal_settings.replace(tiled_map_min_grids=len(BASE_GRIDS) - 1), tmp_path / "city.gpkg")
    assert _count(page, "count-grids") == str(len(BASE_GRIDS))
    assert _count(page, "count-communities") == "3"
    assert "/tiles/grids/{z}/{x}/{y}.mvt" in page and "/tiles/streets/{z}/{x}/{y}.mvt" in page
    assert not any(code in page for code, *_ in GRIDS)
    assert '"code": "410611"' in page  # the district itself is embedded


def test_district_home_at_the_threshold_stays_embedded(portal_settings: Settings, tmp_path) -> None:
    page = _home_page(portal_settings.replace(tiled_map_min_grids=len(BASE_GRIDS)), tmp_path / "district.gpkg")
    assert "/tiles/grids/" not in page and all(code in page for code, *_ in BASE_GRIDS)


def test_amap_basemap_keeps_a_city_embedded(portal_settings: Settings, tmp_path) -> None:
    """AMap needs GCJ-02 overlays, which WGS84 tiles cannot give: the layers stay embedded."""
    settings = portal_settings.replace(tiled_map_min_grids=0, basemap="amap")
    page = _home_page(settings, tmp_path / "amap.gpkg")
    assert "/tiles/grids/" not in page and all(code in page for code, *_ in BASE_GRIDS)
