"""OGC API - Features at /ogc (issue 14 item 3), read by GDAL's own OAPIF driver and by plain HTTP.

A small demo district is built with ``gridmap demo`` and served by a live portal (waitress, real
sockets). Debian's ``ogrinfo OAPIF:`` lists the collections, their geometry types and feature
counts anonymously and with a community account's key (sent as GDAL_HTTP_HEADERS), and reads the
buildings layer in full: every feature it gets lies in that community, and the count is the
store's. Paging, bbox and the CGCS2000/CRS84 axis orders are checked over HTTP; bad input gets a
400/401/404 JSON body, never a 500.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator

import pytest
import requests
from click.testing import CliRunner

from gridmap import schema
from gridmap.cli.main import cli
from gridmap.config import Settings
from gridmap.portal.app import close_app
from gridmap.portal.server import make_server, stop_server
from gridmap.services.generations import active_grids
from gridmap.store.base import Store
from gridmap.store.factory import open_store

COMMUNITY = "410611001001"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, str]]:
    db = tmp_path_factory.mktemp("ogc") / "demo.gpkg"
    result = CliRunner().invoke(cli, ["demo", "--store", f"gpkg://{db}", "--no-serve", "--scale", "0.1"])
    assert result.exit_code == 0, result.output
    settings = Settings(store_url=f"gpkg://{db}", secret_key="ogc")
    store = open_store(f"gpkg://{db}", settings)
    server, app = make_server(settings, host="127.0.0.1", port=0, workers=4, store=store)
    thread = threading.Thread(target=server.run, name="ogc-portal", daemon=True)
    thread.start()
    try:
        yield store, f"http://127.0.0.1:{server.effective_port}/ogc"  # type: ignore[union-attr]
    finally:
        close_app(app)
        stop_server(server)
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def community_key(served: tuple[Store, str]) -> str:
    store, _ = served
    result = CliRunner().invoke(cli, ["tokens", "create", "--role", "command", "--area", COMMUNITY, "--label", "qgis",
                                      "--store", store.url])  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output.splitlines()[0].strip()


def ogrinfo(base: str, *args: str, key: str | None = None) -> str:
    config = ["--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {key}"] if key else []
    run = subprocess.run(["ogrinfo", *config, "-ro", f"OAPIF:{base}", *args], capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    return run.stdout


def feature_count(text: str) -> int:
    return int(next(line for line in text.splitlines() if line.startswith("Feature Count:")).split(":")[1])


def test_ogrinfo_lists_the_public_collections_anonymously(served: tuple[Store, str]) -> None:
    store, base = served
    listing = ogrinfo(base, "-so")
    names = [line.split(":", 1)[1].split("(")[0].strip() for line in listing.splitlines() if line[:1].isdigit()]
    assert names == ["districts", "streets", "communities", "grids", "service_centres"]  # no buildings, incidents
    grids = ogrinfo(base, "-so", "grids")
    assert "Geometry: Multi Polygon" in grids and feature_count(grids) == len(active_grids(store))
    assert 'ID["EPSG",4326]' in grids and "TITLE=网格 Grids" in grids
    communities = store.read(schema.AREAS, where={"level": "community"})
    assert feature_count(ogrinfo(base, "-so", "communities")) == len(communities)


def test_ogrinfo_with_a_community_key_reads_only_that_community(served: tuple[Store, str], community_key: str) -> None:
    store, base = served
    listing = ogrinfo(base, "-so", key=community_key)
    assert "buildings (title: 楼栋 Buildings)" in listing and "incidents (title: 事件 Incidents)" in listing
    mine = store.read(schema.BUILDINGS, where={"community_code": COMMUNITY})
    assert 0 < len(mine) < store.count(schema.BUILDINGS)
    assert feature_count(ogrinfo(base, "-so", "buildings", key=community_key)) == len(mine)
    full = ogrinfo(base, "-al", "-q", "buildings", key=community_key)  # every page, through GDAL's paging
    codes = [line.split("=", 1)[1].strip() for line in full.splitlines() if line.strip().startswith("community_code (")]
    assert len(codes) == len(mine) and set(codes) == {COMMUNITY}
    grids = ogrinfo(base, "-so", "grids", key=community_key)
    assert feature_count(grids) == int((active_grids(store)["community_code"] == COMMUNITY).sum())


def test_paging_bbox_and_axis_order(served: tuple[Store, str], community_key: str) -> None:
    store, base = served
    auth = {"Authorization": f"Bearer {community_key}"}
    seen: list[str] = []
    url: str | None = f"{base}/collections/buildings/items?limit=7"
    while url:
        page = requests.get(url, headers=auth, timeout=30)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("application/geo+json")
        body = page.json()
        assert body["numberReturned"] == len(body["features"]) <= 7
        seen += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert len(seen) == len(set(seen)) == body["numberMatched"] == store.count(
        schema.BUILDINGS, where={"community_code": COMMUNITY})  # fmt: skip

    grid = active_grids(store).iloc[0]
    x0, y0, x1, y1 = grid.geometry.bounds
    lonlat = requests.get(f"{base}/collections/grids/items", params={"bbox": f"{x0},{y0},{x1},{y1}"}, timeout=30)
    ids = {f["id"] for f in lonlat.json()["features"]}
    assert grid["code"] in ids and lonlat.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    latlon = requests.get(f"{base}/collections/grids/items", timeout=30, params={
        "bbox": f"{y0},{x0},{y1},{x1}", "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4490",
        "crs": "http://www.opengis.net/def/crs/EPSG/0/4490"})  # fmt: skip
    assert {f["id"] for f in latlon.json()["features"]} == ids
    assert latlon.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4490>"
    one = requests.get(f"{base}/collections/grids/items/{grid['code']}", params={"crs": "EPSG:4490"}, timeout=30)
    first_vertex = one.json()["geometry"]["coordinates"][0][0][0]
    assert 35 < first_vertex[0] < 36 and 114 < first_vertex[1] < 115  # latitude first in CGCS2000


@pytest.mark.parametrize(("path", "params", "status", "code"), [
    ("collections/grids/items", {"bbox": "1,2,3"}, 400, "bad_bbox"),
    ("collections/grids/items", {"bbox": "a,b,c,d"}, 400, "bad_bbox"),
    ("collections/grids/items", {"limit": "10001"}, 400, "bad_parameter"),
    ("collections/grids/items", {"limit": "ten"}, 400, "bad_parameter"),
    ("collections/grids/items", {"crs": "EPSG:3857"}, 400, "bad_crs"),
    ("collections/grids/items", {"sortby": "code"}, 400, "bad_parameter"),
    ("collections/rivers/items", {}, 404, "unknown_collection"),
    ("collections/buildings/items", {}, 401, "unauthenticated"),
    ("collections/buildings", {}, 401, "unauthenticated"),
    ("collections/grids/items/999999999999999", {}, 404, "not_found"),
])  # fmt: skip
def test_bad_requests_are_clear_json_errors(
    served: tuple[Store, str], path: str, params: dict[str, str], status: int, code: str
) -> None:
    _, base = served
    answer = requests.get(f"{base}/{path}", params=params, timeout=30)
    assert answer.status_code == status and answer.headers["Content-Type"].startswith("application/json")
    body = json.loads(answer.text)
    assert body["code"] == code and body["description"]


def test_an_item_outside_the_callers_area_is_not_found(served: tuple[Store, str], community_key: str) -> None:
    store, base = served
    other = store.read(schema.BUILDINGS)
    elsewhere = other[other["community_code"] != COMMUNITY].iloc[0]["building_id"]
    auth = {"Authorization": f"Bearer {community_key}"}
    answer = requests.get(f"{base}/collections/buildings/items/{elsewhere}", headers=auth, timeout=30)
    assert answer.status_code == 404
    mine = other[other["community_code"] == COMMUNITY].iloc[0]["building_id"]
    found = requests.get(f"{base}/collections/buildings/items/{mine}", headers=auth, timeout=30)
    assert found.status_code == 200 and found.json()["properties"]["community_code"] == COMMUNITY
