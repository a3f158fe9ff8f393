"""Analysis pages of a city: grids, communities and streets drawn from /tiles, only each cell's class embedded.

The switch is ``Settings.tiled_map_min_grids`` (the home map's); with 1 the hand-made district of
store_sample (7 grids) is already "a city". A second store adds community C3 cut into 20 x 20
grids (407 in all), so the same pages can be weighed with 7 and with 407 grids, embedded and tiled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridmap import schema
from gridmap.auth.passwords import hash_password
from gridmap.config import Settings
from gridmap.portal.analysis.maps import BIN_COLOURS, emerging_colour
from gridmap.portal.app import close_app, create_app
from gridmap.store.base import Store
from gridmap.store.factory import open_store
from tests.analysis import store_sample as ss

PASSWORD = "tiled-analysis-password"
ACCOUNTS = [("ana", "analyst", ss.DISTRICT), ("cmd1", "command", ss.C1)]
LATTICE = 20  # C3 is cut into LATTICE x LATTICE grids in the big store
GRID_CODES = [g[0] for g in ss.GRID_CELLS]
#: (page, tile layer its cells come from)
PAGES = [
    ("/analysis/hotspots?cells=grids&permutations=99", "grids"),
    ("/analysis/hotspots?emerging=1", "grids"),
    ("/analysis/coverage?distance=700", "grids"),
    ("/analysis/stats?level=grid&measure=households", "grids"),
    ("/analysis/stats?level=community&measure=incidents", "communities"),
    ("/analysis/hotspots?cells=communities&permutations=99", "communities"),  # 3 communities: the big store only
]
_CLASSES = re.compile(r"_classes = \(function \(d\) \{.*?\}\)\((\{.*?\})\);\s*var ", re.S)
_TABLE = re.compile(r"<table.*?</table>", re.S)


def _store(path: Any, *, lattice: int) -> Store:
    settings = Settings(store_url=f"gpkg://{path}", secret_key="tiled-analysis")
    store = open_store(settings.store_url, settings)
    ss.populate(store)
    if lattice:
        ss.add_lattice_community(store, lattice)
    now, pw = pd.Timestamp.now(tz="UTC"), hash_password(PASSWORD)
    with store.transaction() as tx:
        tx.insert(schema.ACCOUNTS, pd.DataFrame([
            {"username": u, "role": r, "area_code": a, "display_name": u, "password_hash": pw, "active": True,
             "created_at": now} for u, r, a in ACCOUNTS]))  # fmt: skip
    return store


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Store]]:
    root = tmp_path_factory.mktemp("tiled-analysis")
    made = {"small": _store(root / "small.gpkg", lattice=0), "big": _store(root / "big.gpkg", lattice=LATTICE)}
    yield made
    for store in made.values():
        store.close()


@pytest.fixture(scope="module")
def apps(stores: dict[str, Store]) -> Iterator[dict[tuple[str, str], Flask]]:
    """(store, "tiled" | "embedded") -> app; tiled: tiled_map_min_grids=1, embedded: the default 2,000."""
    made = {}
    for name, store in stores.items():
        base = Settings(store_url=store.url, secret_key="tiled-analysis", rate_limit_login_per_min=0)
        made[(name, "tiled")] = create_app(base.replace(tiled_map_min_grids=1), store=store)
        made[(name, "embedded")] = create_app(base, store=store)
    yield made
    for app in made.values():
        close_app(app)


def _client(app: Flask, username: str = "ana") -> FlaskClient:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    done = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
    assert done.status_code in (302, 303)
    return client


def _page(app: Flask, url: str, username: str = "ana") -> str:
    response = _client(app, username).get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def _classes(html: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """(the embedded classes JSON, {code: (fill, label)}) of a tiled result page."""
    found = _CLASSES.findall(html)
    assert len(found) == 1, f"{len(found)} class tables in the page"
    data = json.loads(found[0])
    by_code = {code: (data["fills"][i], data["labels"][i]) for i, group in enumerate(data["codes"]) for code in group}
    assert len(by_code) == sum(len(g) for g in data["codes"])  # every code in exactly one class
    return found[0], by_code


def _embeds_geometry(html: str) -> bool:
    return any(token in html for token in ('"FeatureCollection"', '"Polygon"', '"MultiPolygon"'))


def _big_codes() -> set[str]:
    return set(GRID_CODES) | {f"{ss.C3}{i + 1:03d}" for i in range(LATTICE * LATTICE)}


@pytest.mark.parametrize(("url", "layer"), PAGES)
def test_tiled_result_page_embeds_classes_and_no_geometry(apps: dict[tuple[str, str], Flask], url: str,
                                                          layer: str) -> None:  # fmt: skip
    tiled = _page(apps[("big", "tiled")], url)
    assert not _embeds_geometry(tiled)
    assert f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt" in tiled
    assert "/static/vendor/leaflet.vectorgrid-1.3.0/Leaflet.VectorGrid.bundled.min.js" in tiled
    _, by_code = _classes(tiled)
    expected = _big_codes() if layer == "grids" else {ss.C1, ss.C2, ss.C3}
    assert set(by_code) == expected  # every cell of the result, nothing else
    embedded = _page(apps[("big", "embedded")], url)  # the same page below the threshold: GeoJSON, no tiles
    assert _embeds_geometry(embedded) and "/tiles/" not in embedded and "_classes" not in embedded


@pytest.mark.parametrize(("url", "layer"), PAGES[:4])
def test_tiled_page_size_does_not_grow_with_the_grids(apps: dict[tuple[str, str], Flask], url: str,
                                                      layer: str) -> None:  # fmt: skip
    """7 -> 407 grids: the tiled page (tables aside) grows by its class list only, ~18 bytes a grid."""
    added = LATTICE * LATTICE
    small, big = (_TABLE.sub("", _page(apps[(name, "tiled")], url)) for name in ("small", "big"))
    small_classes, big_classes = _classes(small)[0], _classes(big)[0]
    rest_small, rest_big = len(small.encode()) - len(small_classes), len(big.encode()) - len(big_classes)
    assert abs(rest_big - rest_small) < 1_000  # everything but the classes: the same size
    assert len(big_classes) - len(small_classes) <= 20 * added  # a code and a comma per grid
    embedded = _TABLE.sub("", _page(apps[("big", "embedded")], url))
    assert len(embedded.encode()) - len(big.encode()) > 250 * added  # what the GeoJSON of 400 grids weighs
    assert len(big.encode()) < 40_000


def test_tiled_hotspot_classes_are_the_api_bins(apps: dict[tuple[str, str], Flask]) -> None:
    app = apps[("big", "tiled")]
    _, by_code = _classes(_page(app, "/analysis/hotspots?cells=grids&permutations=99"))
    api = _client(app).get("/api/v1/analysis/hotspots?cells=grids&permutations=99").get_json()
    bins = {f["properties"]["cell_id"]: int(f["properties"]["bin"]) for f in api["features"]}
    assert {code: fill for code, (fill, _) in by_code.items()} == {c: BIN_COLOURS[b] for c, b in bins.items()}
    assert len(bins) == len(_big_codes()) and len(set(bins.values())) >= 2
    assert bins[ss.HOT_GRID] >= 1 and "热点" in by_code[ss.HOT_GRID][1]  # the planted hotspot, labelled hot


def test_tiled_emerging_classes_are_the_api_categories(apps: dict[tuple[str, str], Flask]) -> None:
    app = apps[("big", "tiled")]
    _, by_code = _classes(_page(app, "/analysis/hotspots?emerging=1"))
    api = _client(app).get("/api/v1/analysis/hotspots?emerging=1").get_json()
    expected = {f["properties"]["cell_id"]: emerging_colour(f["properties"]["category"]) for f in api["features"]}
    assert {code: fill for code, (fill, _) in by_code.items()} == expected


def test_tiled_coverage_marks_the_grids_without_a_worker(apps: dict[tuple[str, str], Flask]) -> None:
    _, by_code = _classes(_page(apps[("big", "tiled")], "/analysis/coverage?distance=700"))
    served = {code for code, (fill, _) in by_code.items() if fill == "#7fcdbb"}
    missing = {code for code, (fill, _) in by_code.items() if fill == "#d62f27"}
    assert served == set(GRID_CODES[:2])  # W1 on grids 1 (+2), W2 on grid 2; W3 is inactive
    assert missing == _big_codes() - served
    assert {by_code[c][1] for c in missing} == {"无网格员"} and {by_code[c][1] for c in served} == {"有网格员"}


@pytest.mark.parametrize("store", ["small", "big"])
def test_tiled_stats_classes_hold_each_grids_households(apps: dict[tuple[str, str], Flask], store: str) -> None:
    """Each grid's class is the legend's value range that holds its households (counted from buildings)."""
    _, by_code = _classes(_page(apps[(store, "tiled")], "/analysis/stats?level=grid&measure=households"))
    households = dict(zip(GRID_CODES, ss.HOUSEHOLDS, strict=True))
    households.update({code: 0 for code in _big_codes() - set(GRID_CODES)})  # C3 has no buildings
    for code, (_, label) in by_code.items():
        bounds = [float(v.replace(",", "")) for v in label.split(" – ")]
        assert bounds[0] <= households[code] <= bounds[-1], (code, label, households[code])
    if store == "small":  # seven distinct values 100..700: five quantile classes, 100 and 700 at the ends
        fills = {code: fill for code, (fill, _) in by_code.items()}
        assert len(set(fills.values())) == 5
        assert (fills[GRID_CODES[0]], fills[GRID_CODES[-1]]) == ("#ffffb2", "#bd0026")


def test_tiled_pages_hold_only_the_callers_area(apps: dict[tuple[str, str], Flask]) -> None:
    app = apps[("big", "tiled")]
    mine = _page(app, "/analysis/coverage?distance=700", "cmd1")  # command centre of C1: 4 grids, still > 1
    _, by_code = _classes(mine)
    assert set(by_code) == set(GRID_CODES[:4])
    assert not any(code in mine for code in GRID_CODES[4:]) and f"{ss.C3}001" not in mine
    narrowed = _page(app, f"/analysis/stats?level=grid&area={ss.C2}")
    assert set(_classes(narrowed)[1]) == set(GRID_CODES[4:])
    assert not any(code in narrowed for code in GRID_CODES[:4])


def test_tiled_heat_pages_draw_outlines_from_tiles(apps: dict[tuple[str, str], Flask]) -> None:
    app = apps[("big", "tiled")]
    for url in ("/analysis/heat", "/analysis/heat?view=weekly"):
        html = _page(app, url)
        assert not _embeds_geometry(html) and "/tiles/communities/{z}/{x}/{y}.mvt" in html
        assert "L.heatLayer" in html or "HeatMapWithTime" in html or "TDHeatmap" in html
    narrowed = _page(app, f"/analysis/heat?area={ss.C2}")
    assert f'indexOf("{ss.C2}") === 0' in narrowed  # only C2's outline is drawn from the tiles
    embedded = _page(apps[("big", "embedded")], "/analysis/heat")
    assert '"FeatureCollection"' in embedded and "/tiles/" not in embedded


def test_amap_and_computed_cells_stay_embedded(apps: dict[tuple[str, str], Flask], stores: dict[str, Store]) -> None:
    """AMap overlays need the GCJ-02 shift (tiles are WGS84); H3 cells are in no tile layer."""
    settings = Settings(store_url=stores["small"].url, secret_key="tiled-analysis", tiled_map_min_grids=1,
                        basemap="amap", rate_limit_login_per_min=0)  # fmt: skip
    amap = create_app(settings, store=stores["small"])
    try:
        html = _page(amap, "/analysis/coverage?distance=700")
        assert _embeds_geometry(html) and "/tiles/" not in html
    finally:
        close_app(amap)
    h3 = _page(apps[("small", "tiled")], "/analysis/hotspots?cells=h3:9&permutations=0")
    assert _embeds_geometry(h3) and "/tiles/" not in h3
