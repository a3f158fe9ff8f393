"""The resident page of a city: its community outlines come from /tiles/communities, not one GeoJSON.

The switch is ``Settings.tiled_map_min_grids`` (every portal map's). The lookup district of
fixtures.py has 7 non-professional grids (5 in community A, 2 in B) and 3 communities (C has no
grids): with the threshold at 2 the public (7) and an account of community A (5) are "a city", an
account of community B (2) is not; with the default (2,000) nobody is.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridmap.auth.accounts import create_token
from gridmap.config import Settings
from gridmap.portal.app import close_app, create_app
from gridmap.store.base import Store
from gridmap.store.gpkg import GeoPackageStore
from tests.lookup import fixtures as fx

VECTOR_GRID_JS = "/static/vendor/leaflet.vectorgrid-1.3.0/Leaflet.VectorGrid.bundled.min.js"
TILED_JS = "/static/js/tiled.js"
RESIDENT_JS = "/static/js/resident.js"
GEOJSON_URL = "/api/v1/areas?level=community"
TILED = {"url": "/tiles/communities/{z}/{x}/{y}.mvt", "maxNativeZoom": 18, "className": "gm-tiled"}
COMMUNITIES = {fx.COMM_A, fx.COMM_B, fx.COMM_C}
_CONFIG = re.compile(r'<script type="application/json" id="rs-config">(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("resident-tiles") / "resident.gpkg"
    settings = Settings(store_url=f"gpkg://{path}", secret_key="resident-tiles")
    made = GeoPackageStore(settings.store_url, settings)
    made.migrate()
    fx.fill_store(made)
    yield made
    made.close()


def _app(store: Store, **changes: Any) -> Flask:
    settings = Settings(store_url=store.url, secret_key="resident-tiles", rate_limit_public_read_per_s=0, **changes)
    return create_app(settings, store=store)


@pytest.fixture(scope="module")
def apps(store: Store) -> Iterator[dict[str, Flask]]:
    """"tiled": threshold 2; "embedded": the default 2,000; "amap": threshold 2 on the AMap basemap."""
    made = {"tiled": _app(store, tiled_map_min_grids=2), "embedded": _app(store),
            "amap": _app(store, tiled_map_min_grids=2, basemap="amap")}  # fmt: skip
    yield made
    for app in made.values():
        close_app(app)


@pytest.fixture(scope="module")
def keys(store: Store) -> dict[str, str]:
    return {comm: create_token(store, role="worker", area_code=comm).api_key for comm in (fx.COMM_A, fx.COMM_B)}


def _config(page: str) -> dict[str, Any]:
    found = _CONFIG.search(page)
    assert found is not None
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def test_a_district_keeps_the_one_geojson(apps: dict[str, Flask]) -> None:
    """Below the threshold the page is as before: ``contextUrl``, no tile scripts."""
    client = apps["embedded"].test_client()
    page = client.get("/resident").get_data(as_text=True)
    config = _config(page)
    assert config["contextUrl"] == GEOJSON_URL and "contextTiles" not in config
    assert VECTOR_GRID_JS not in page and TILED_JS not in page and RESIDENT_JS in page
    geojson = client.get(GEOJSON_URL).get_json()
    assert {f["properties"]["code"] for f in geojson["features"]} == COMMUNITIES


def test_a_city_draws_the_communities_from_tiles(apps: dict[str, Flask]) -> None:
    """Above it: ``contextTiles`` (the tile_source of communities), VectorGrid and tiled.js before resident.js."""
    client = apps["tiled"].test_client()
    for url in ("/resident", "/resident?lang=en", f"/resident?grid={fx.COMM_B}002"):
        page = client.get(url).get_data(as_text=True)
        config = _config(page)
        assert config["contextTiles"] == TILED and "contextUrl" not in config, url
        assert "/api/v1/areas" not in page, url  # the whole-level GeoJSON is not even named
        assert page.index(VECTOR_GRID_JS) < page.index(TILED_JS) < page.index(RESIDENT_JS), url
    # mounted under a prefix (SCRIPT_NAME), the tiles are asked there
    mounted = client.get("/resident", environ_overrides={"SCRIPT_NAME": "/portal"}).get_data(as_text=True)
    assert _config(mounted)["contextTiles"]["url"] == "/portal/tiles/communities/{z}/{x}/{y}.mvt"


def test_the_switch_counts_the_callers_grids(apps: dict[str, Flask], keys: dict[str, str]) -> None:
    """Community A's account sees 5 grids (> 2: tiles), community B's 2 (not above 2: GeoJSON)."""
    client = apps["tiled"].test_client()
    own_a = _config(client.get(f"/resident?api_key={keys[fx.COMM_A]}").get_data(as_text=True))
    own_b = _config(client.get(f"/resident?api_key={keys[fx.COMM_B]}").get_data(as_text=True))
    assert own_a["contextTiles"] == TILED and "contextUrl" not in own_a
    assert own_b["contextUrl"] == GEOJSON_URL and "contextTiles" not in own_b
    # bad credentials are refused before the page, with or without tiles (as before this switch)
    assert client.get("/resident?api_key=nonsense").status_code == 401


def test_amap_keeps_the_geojson(apps: dict[str, Flask]) -> None:
    """The shared switch never tiles on AMap (tiles are WGS84, AMap overlays GCJ-02): as every other map."""
    config = _config(apps["amap"].test_client().get("/resident").get_data(as_text=True))
    assert config["contextUrl"] == GEOJSON_URL and "contextTiles" not in config and config["tiles"] == []


def test_the_tiles_hold_what_the_geojson_held(apps: dict[str, Flask], keys: dict[str, str]) -> None:
    """Same visibility: every community for the public, the account's own for a signed-in worker."""
    client = apps["tiled"].test_client()
    for key, expected in ((None, COMMUNITIES), (keys[fx.COMM_A], {fx.COMM_A}), (keys[fx.COMM_B], {fx.COMM_B})):
        query = f"api_key={key}" if key else ""
        geojson = client.get(f"{GEOJSON_URL}&{query}").get_json()
        assert {f["properties"]["code"] for f in geojson["features"]} == expected
        assert _tile_codes(client, query) == expected, key
    # below the layer's first zoom (8) a tile is empty by rule: a world view asks nothing big
    empty = client.get("/tiles/communities/7/104/50.mvt")
    assert empty.status_code == 200 and empty.data == b""


def _tile_codes(client: FlaskClient, query: str, z: int = 14) -> set[str]:
    """Community codes (with their names) in the z tiles over the district, decoded from the MVT."""
    (lon0, lat0), (lon1, lat1) = fx.xy(0, 0), fx.xy(20, 6)
    n, codes = 2**z, set()

    def row(lat: float) -> int:
        return int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)

    names = {fx.COMM_A: "甲社区", fx.COMM_B: "乙社区", fx.COMM_C: "丙社区"}
    for x in range(int((lon0 + 180.0) / 360.0 * n), int((lon1 + 180.0) / 360.0 * n) + 1):
        for y in range(row(lat1), row(lat0) + 1):
            response = client.get(f"/tiles/communities/{z}/{x}/{y}.mvt?{query}")
            assert response.status_code == 200 and response.mimetype == "application/vnd.mapbox-vector-tile"
            for feature in mapbox_vector_tile.decode(response.data).get("communities", {"features": []})["features"]:
                props = feature["properties"]
                assert props["name"] == names[props["code"]] and props["parent_code"] == fx.STREET
                codes.add(props["code"])
    return codes
