"""Vector tiles at /tiles/{layer}/{z}/{x}/{y}.mvt (issue 14 item 2) from both stores.

A small demo district is built into the GeoPackage and into PostGIS (ST_AsMVT); tiles are decoded
with mapbox-vector-tile and compared with what an independent computation says the tile must
hold: the tile's box from the XYZ formulas written out here, the rows from the store intersected
with shapely. Scoping: a community account's buildings and grids tiles hold nothing outside its
community. ETags give 304s, bad coordinates 400 and unknown layers 404 as JSON.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import mapbox_vector_tile
import pyproj
import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient

from gridmap import schema
from gridmap.auth.accounts import create_token
from gridmap.config import Settings
from gridmap.demo.build import build_demo, partition_every_community
from gridmap.portal.app import close_app, create_app
from gridmap.services.generations import active_grids
from gridmap.store.base import Store

COMMUNITY = "410611001001"
TO_MERCATOR = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """XYZ tile of a point (the OSM wiki's formula)."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def tile_box_lonlat(z: int, x: int, y: int) -> shapely.Polygon:
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return shapely.box(x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y))


@pytest.fixture
def demo_app(store: Store, settings: Settings) -> Iterator[tuple[Store, Flask]]:
    build_demo(store, settings, scale=0.1, months=1, partition=partition_every_community)
    app = create_app(settings.replace(secret_key="tiles"), store=store)
    yield store, app
    close_app(app)


def get(client: FlaskClient, path: str, key: str | None = None, **headers: str) -> tuple[int, dict, dict[str, str]]:
    if key:
        headers["Authorization"] = f"Bearer {key}"
    answer = client.get(path, headers=headers)
    decoded = mapbox_vector_tile.decode(answer.data) if answer.status_code == 200 and answer.data else {}
    return answer.status_code, decoded, dict(answer.headers)


def test_grids_tile_holds_exactly_the_active_grids_that_meet_it(demo_app: tuple[Store, Flask]) -> None:
    store, app = demo_app
    grids = active_grids(store)
    centre = grids.geometry.iloc[0].representative_point()
    z = 14
    x, y = tile_of(centre.x, centre.y, z)
    status, tile, headers = get(app.test_client(), f"/tiles/grids/{z}/{x}/{y}.mvt")
    assert status == 200 and headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert headers["Cache-Control"].startswith("public")
    got = {f["properties"]["code"] for f in tile["grids"]["features"]}
    box = tile_box_lonlat(z, x, y)
    inside = {c for c, g in zip(grids["code"], grids.geometry, strict=True) if g.intersection(box).area > 1e-12}
    assert inside and inside <= got  # every grid drawn in the tile is there
    pad = box.buffer(0.1 * (box.bounds[2] - box.bounds[0]))  # the 64/4096 buffer, generously
    assert got <= {c for c, g in zip(grids["code"], grids.geometry, strict=True) if g.intersects(pad)}
    households = dict(zip(grids["code"], grids["households"], strict=True))
    assert all(f["properties"]["households"] == households[f["properties"]["code"]] for f in tile["grids"]["features"])
    extent = tile["grids"]["extent"]
    for feature in tile["grids"]["features"]:  # tile coordinates, in the 4096 space plus the buffer
        xs = [p[0] for ring in feature["geometry"]["coordinates"] for p in _points(ring)]
        assert min(xs) >= -65 and max(xs) <= extent + 65


def _points(ring: list) -> list:
    return [p for part in ring for p in (part if isinstance(part[0], list) else [part])]


def test_a_community_account_sees_nothing_outside_its_community(demo_app: tuple[Store, Flask]) -> None:
    store, app = demo_app
    key = create_token(store, role="command", area_code=COMMUNITY).api_key
    client = app.test_client()
    buildings = store.read(schema.BUILDINGS)
    mine = buildings[buildings["community_code"] == COMMUNITY]
    others = buildings[buildings["community_code"] != COMMUNITY]
    assert get(client, "/tiles/buildings/16/0/0.mvt")[0] == 401  # scoped layer, anonymous
    seen_codes: set[str] = set()
    seen_ids: set[str] = set()
    for point in list(mine.geometry.representative_point()[:5]) + list(others.geometry.representative_point()[:5]):
        for z in (14, 16):
            x, y = tile_of(point.x, point.y, z)
            for layer, column in (("buildings", "community_code"), ("grids", "community_code")):
                status, tile, headers = get(client, f"/tiles/{layer}/{z}/{x}/{y}.mvt", key)
                assert status == 200 and headers["Cache-Control"].startswith("private")
                features = tile.get(layer, {}).get("features", [])
                seen_codes |= {f["properties"][column] for f in features}
                seen_ids |= {f["properties"].get("building_id", "") for f in features}
    assert seen_codes == {COMMUNITY}  # features were drawn, and all of them in the community
    assert seen_ids & set(mine["building_id"]) and not seen_ids & set(others["building_id"])


def test_incidents_are_counted_per_cell_at_low_zoom(demo_app: tuple[Store, Flask]) -> None:
    store, app = demo_app
    key = create_token(store, role="command", area_code="410611").api_key
    incidents = store.read(schema.INCIDENTS)
    first = incidents.geometry.iloc[0]
    z = 12
    x, y = tile_of(first.x, first.y, z)
    _, tile, _ = get(app.test_client(), f"/tiles/incidents/{z}/{x}/{y}.mvt", key)
    counts = [f["properties"]["count"] for f in tile["incidents"]["features"]]
    box = tile_box_lonlat(z, x, y)
    inside = int(incidents.geometry.within(box).sum())
    pad = box.buffer(0.02 * (box.bounds[2] - box.bounds[0]))
    assert inside <= sum(counts) <= int(incidents.geometry.within(pad).sum())
    assert max(counts) > 1  # aggregated, not one point per incident
    _, near, _ = get(app.test_client(), f"/tiles/incidents/16/{tile_of(first.x, first.y, 16)[0]}/"
                                        f"{tile_of(first.x, first.y, 16)[1]}.mvt", key)  # fmt: skip
    assert all("incident_id" in f["properties"] for f in near["incidents"]["features"])


def test_etag_min_zoom_and_bad_input(demo_app: tuple[Store, Flask]) -> None:
    store, app = demo_app
    client = app.test_client()
    centre = active_grids(store).geometry.iloc[0].representative_point()
    x, y = tile_of(centre.x, centre.y, 13)
    status, _, headers = get(client, f"/tiles/grids/13/{x}/{y}.mvt")
    assert status == 200 and headers["ETag"]
    assert get(client, f"/tiles/grids/13/{x}/{y}.mvt", **{"If-None-Match": headers["ETag"]})[0] == 304
    empty = client.get("/tiles/grids/5/26/12.mvt")  # below the grids' min zoom: an empty tile
    assert empty.status_code == 200 and empty.data == b""
    bad = (("/tiles/grids/23/0/0.mvt", 400, "bad_tile"), ("/tiles/grids/3/8/0.mvt", 400, "bad_tile"),
           ("/tiles/grids/3/-1/0.mvt", 400, "bad_tile"), ("/tiles/grids/a/0/0.mvt", 400, "bad_tile"),
           ("/tiles/rivers/3/0/0.mvt", 404, "unknown_layer"))
    for path, status, code in bad:
        answer = client.get(path, headers={"Accept": "image/*"})
        assert answer.status_code == status and answer.get_json()["error"]["code"] == code, path
