"""Benchmark: Gi* on 10,000 cells and the heatmap page over 200,000 incidents in headless Chromium.

Targets (issue 8):

* ``gi_star_999_10k_cells_s``: Getis-Ord Gi* with 999 seeded permutations and FDR on ~10,000 square
  cells (100 m squares over an 11 x 10 km area; neighbour weights included) in < 5 s;
* ``heat_page_200k_s``: the heatmap page (``/analysis/heat``) of a district with 200,000 incidents,
  from navigation start until the heat layer's canvas has pixels, in headless Chromium, in < 3 s,
  as the page is seen once its prepared heat is in the portal's cache (``portal.analysis_cache``:
  60 s, dropped when the incident count changes). ``heat_page_200k_cold_s`` is the first visit: the
  server reads the incidents from a GeoPackage store and sums them into H3 cells (the page carries
  at most 60,000 points) before rendering; it has the same < 3 s target (the issue's page is also
  the first one a user opens). ``heat_page_mb`` is the page size; ``heat_read_200k_s`` and
  ``heat_layers_200k_s`` split the server's share of a cold visit (store read; H3 sums), measured
  after the page visits.

Also measured: local Moran's I on the same cells, the server-side page time (Flask test client) and
the weekly animation page. Data are synthetic and seeded. Chromium is ``/usr/bin/chromium`` driven by
Playwright; without it the page timing is missing and that target counts as failed.

Run: ``.venv/bin/python -m benchmarks.analysis``. Writes benchmarks/results/analysis.json.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from werkzeug.serving import make_server

from benchmarks.common import timed, write_result
from gridmap import schema
from gridmap.analysis.cells import square_cells_from_area
from gridmap.analysis.heat import heat_layers
from gridmap.analysis.hotspots import HotspotOptions, hotspots_from_values
from gridmap.auth.passwords import hash_password
from gridmap.config import Settings
from gridmap.portal.app import close_app, create_app
from gridmap.services.analysis import incidents_in_scope
from gridmap.store.base import Store
from gridmap.store.factory import open_store

SEED = 2024
INCIDENTS = 200_000
TARGETS_S = {"gi_star_999_10k_cells_s": 5.0, "heat_page_200k_s": 3.0, "heat_page_200k_cold_s": 3.0}
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "benchmark-analysis"
#: The synthetic district: 8 x 6 km in EPSG:4547 (CGCS2000 GK CM 114E), near the demo district.
ORIGIN_M, SIZE_M = (527_000.0, 3_950_000.0), (8_000.0, 6_000.0)
TO_LONLAT = pyproj.Transformer.from_crs(4547, 4326, always_xy=True)


def _values_with_clusters(cells_m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts: background 3 per cell plus three Gaussian clusters (what incident data look like)."""
    rate = np.full(len(cells_m), 3.0)
    for cx, cy, peak in rng.uniform([0, 0, 20], [1, 1, 60], size=(3, 3)):
        centre = cells_m.min(axis=0) + np.array([cx, cy]) * np.ptp(cells_m, axis=0)
        rate += peak * np.exp(-np.sum((cells_m - centre) ** 2, axis=1) / (2 * 400.0**2))
    return rng.poisson(rate).astype(float)


def bench_gi_star() -> tuple[dict[str, float], dict[str, Any]]:
    area = shapely.box(114.20, 35.70, 114.31, 35.79)
    cells = square_cells_from_area(area, 100.0)
    values = _values_with_clusters(cells.centroids_m(), np.random.default_rng(SEED))
    timings: dict[str, float] = {}
    cpu = time.process_time()
    with timed() as t:
        gi = hotspots_from_values(cells, values, HotspotOptions(permutations=999, seed=1))
    timings["gi_star_999_10k_cells_s"] = t.seconds
    cpu_s = time.process_time() - cpu  # the machine may be shared: CPU seconds say what wall time cannot
    with timed() as t:
        hotspots_from_values(cells, values, HotspotOptions(method="local_moran", permutations=999, seed=1))
    timings["local_moran_999_10k_cells_s"] = t.seconds
    return timings, {"gi_cells": len(cells), "gi_bins": gi.summary["bins"],
                     "gi_star_999_10k_cells_cpu_s": round(cpu_s, 3)}


def _box(x: float, y: float, w: float, h: float) -> shapely.MultiPolygon:
    xs, ys = TO_LONLAT.transform([x, x + w], [y, y + h])
    return shapely.MultiPolygon([shapely.box(xs[0], ys[0], xs[1], ys[1])])


def fill_district(store: Store, rng: np.random.Generator) -> None:
    """A district = one street = 4 communities, an analyst, and INCIDENTS clustered incidents over 2024."""
    x0, y0 = ORIGIN_M
    w, h = SIZE_M
    rows = [("410611", "基准区", "district", None, _box(x0, y0, w, h)),
            ("410611001", "基准街道", "street", "410611", _box(x0, y0, w, h))]
    rows += [(f"410611001{i + 1:03d}", f"第{i + 1}社区", "community", "410611001",
              _box(x0 + (i % 2) * w / 2, y0 + (i // 2) * h / 2, w / 2, h / 2)) for i in range(4)]
    areas = gpd.GeoDataFrame(pd.DataFrame(rows, columns=["code", "name", "level", "parent_code", "geometry"]),
                             geometry="geometry", crs=4326)
    centres = rng.uniform([x0, y0], [x0 + w, y0 + h], size=(40, 2))
    xy = centres[rng.integers(0, len(centres), INCIDENTS)] + rng.normal(0, 250, (INCIDENTS, 2))
    xy = np.clip(xy, [x0 + 1, y0 + 1], [x0 + w - 1, y0 + h - 1])
    lon, lat = TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    quadrant = (xy[:, 0] >= x0 + w / 2).astype(int) + 2 * (xy[:, 1] >= y0 + h / 2).astype(int)
    incidents = gpd.GeoDataFrame({
        "incident_id": [f"B{i:07d}" for i in range(INCIDENTS)],
        "category": rng.choice(["环境卫生", "市容秩序", "矛盾纠纷", "安全隐患", "公共设施", "消防"], INCIDENTS),
        "status": "closed",
        "reported_at": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 365, INCIDENTS), "D"),
        "community_code": [f"410611001{q + 1:03d}" for q in quadrant], "street_code": "410611001",
    }, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    account = pd.DataFrame([{"username": "bench", "role": "analyst", "area_code": "410611", "display_name": "bench",
                             "password_hash": hash_password(PASSWORD), "active": True,
                             "created_at": pd.Timestamp.now(tz="UTC")}])
    with store.transaction() as tx:
        tx.insert(schema.AREAS, areas)
        tx.insert(schema.ACCOUNTS, account)
        for start in range(0, INCIDENTS, 20_000):
            tx.insert(schema.INCIDENTS, incidents.iloc[start:start + 20_000])


def _time_in_chromium(url: str, paths: tuple[str, ...]) -> dict[str, float]:
    """Sign in, then per path: seconds from navigation start until a heat canvas has painted pixels."""
    from playwright.sync_api import sync_playwright

    out: dict[str, float] = {}
    painted = """() => [...document.querySelectorAll('canvas.leaflet-heatmap-layer, canvas.heatmap-canvas')]
        .some(c => c.width > 0 && c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v > 0))"""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url) else r.abort())
        page.goto(url + "/login")
        page.fill("input[name=username]", "bench")
        page.fill("input[name=password]", PASSWORD)
        page.click("[data-testid=login-submit]")
        page.wait_for_load_state("load")
        for path in paths:
            for visit in ("cold", "warm"):  # cold: the server reads and sums the incidents; warm: its cache
                start = time.perf_counter()
                page.goto(url + path, wait_until="commit")
                page.wait_for_function(painted, timeout=120_000)
                out[f"{path} {visit}"] = time.perf_counter() - start
        browser.close()
    return out


def bench_heat_page() -> tuple[dict[str, float], dict[str, Any]]:
    timings: dict[str, float] = {}
    extra: dict[str, Any] = {"incidents": INCIDENTS}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(store_url=f"gpkg://{Path(tmp) / 'heat.gpkg'}", secret_key="bench")
        store = open_store(settings.store_url, settings)
        with timed() as t:
            fill_district(store, np.random.default_rng(SEED))
        extra["store_fill_s"] = round(t.seconds, 2)
        app = create_app(settings, store=store)
        try:
            server = make_server("127.0.0.1", 0, app, threaded=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            url = f"http://127.0.0.1:{server.server_port}"
            try:
                if CHROMIUM.exists():  # first: its first visit is the truly cold one
                    measured = _time_in_chromium(url, ("/analysis/heat", "/analysis/heat?view=weekly"))
                    timings["heat_page_200k_s"] = measured["/analysis/heat warm"]
                    timings["heat_page_200k_cold_s"] = measured["/analysis/heat cold"]
                    timings["heat_weekly_page_200k_s"] = measured["/analysis/heat?view=weekly warm"]
                    timings["heat_weekly_page_200k_cold_s"] = measured["/analysis/heat?view=weekly cold"]
                else:
                    extra["chromium"] = f"{CHROMIUM} missing: page timings not measured"
                extra["heat_page_mb"], extra["heat_request_warm_s"] = _fetch_page(url)
                timings.update(_heat_data_timings(store))
            finally:
                server.shutdown()
                thread.join(timeout=10)
        finally:
            close_app(app)
            store.close()
    return timings, extra


def _heat_data_timings(store: Store) -> dict[str, float]:
    """Server-side share of a cold visit: reading the district's incidents from the store, then summing
    them into the page's heat layers (what ``/analysis/heat`` does before rendering, without the cache)."""
    out: dict[str, float] = {}
    with timed() as t:
        incidents = incidents_in_scope(store, area_code="410611", columns=("category",))
    out["heat_read_200k_s"] = t.seconds
    with timed() as t:
        heat_layers(incidents)
    out["heat_layers_200k_s"] = t.seconds
    return out


def _fetch_page(url: str) -> tuple[float, float]:
    """(MB, seconds) of the heat page's HTML for a signed-in analyst, fetched warm (the map's data is inside)."""
    import http.cookiejar
    import re
    import urllib.parse
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = opener.open(url + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)
    form = {"username": "bench", "password": PASSWORD, "csrf_token": token.group(1) if token else ""}
    opener.open(url + "/login", data=urllib.parse.urlencode(form).encode())
    opener.open(url + "/analysis/heat").read()  # cold: imports, templates, reading and summing the incidents
    with timed() as t:
        body = opener.open(url + "/analysis/heat").read()
    return round(len(body) / 1e6, 3), round(t.seconds, 3)


def run() -> dict[str, Any]:
    timings, extra = bench_gi_star()
    page_timings, page_extra = bench_heat_page()
    timings.update(page_timings)
    extra.update(page_extra)
    return write_result("analysis", timings_s=timings, targets_s=TARGETS_S, extra=extra)


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2, ensure_ascii=False))
