"""Benchmark: the portal home map for a whole district (2,000 grids) - build, render, full request.

Why: the home page rebuilds the Folium map from the store on every request, so its time and the
HTML size bound how big a district one page can show before it needs tiling or simplification.
The district is synthetic and fixed (seeded numpy Generator): 10 streets x 10 communities x 20
grids of 250 m, every edge densified to 20 m steps and wiggled by up to 3 m (about 50 vertices per
grid, like blocks along real roads), stored in a GeoPackage.

Run: ``.venv/bin/python -m benchmarks.portal_map`` or ``python -m benchmarks.run_all portal_map``;
writes benchmarks/results/portal_map.json.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from benchmarks.common import timed, write_result
from gridmap import schema
from gridmap.config import BAND_PRESETS, Settings
from gridmap.model import GenerationStatus
from gridmap.portal.app import close_app, create_app
from gridmap.portal.maps.assets import html_from_map
from gridmap.portal.maps.basemaps import basemap_from_settings
from gridmap.portal.maps.hierarchy import hierarchy_map
from gridmap.services.hierarchy_view import hierarchy_frames
from gridmap.store.base import Store
from gridmap.store.factory import open_store

STREETS, COMMUNITIES_PER_STREET, GRIDS_PER_COMMUNITY = 10, 10, 20
CELL_M, SEGMENT_M, WIGGLE_M = 250.0, 20.0, 3.0
LON0, LAT0 = 114.20, 35.60
M_PER_DEG_LAT = 110_574.0
SEED = 20251121
#: Targets on the 2-core shared development machine (seconds).
TARGETS_S = {"build_map_s": 2.0, "render_html_s": 2.0, "home_request_s": 5.0}


def _box_m(x0: float, y0: float, width: float, height: float) -> shapely.Polygon:
    """A box given in metres from the origin, densified every SEGMENT_M and wiggled like a real road.

    The wiggle (up to WIGGLE_M, a function of the position so neighbours share their edges
    exactly) keeps display simplification from collapsing the straight edges to 4 corners.
    """
    m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(LAT0))
    box = shapely.segmentize(shapely.box(x0, y0, x0 + width, y0 + height), SEGMENT_M)

    def to_lonlat(xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        wiggle = WIGGLE_M * np.sin(x * 0.37 + y * 0.73)
        return np.column_stack([LON0 + (x + wiggle) / m_per_deg_lon, LAT0 + (y + wiggle) / M_PER_DEG_LAT])

    return shapely.transform(box, to_lonlat)


def district_frames(*, seed: int = SEED) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(areas, grids) of the synthetic district: communities are 5x4 grids, streets 10 communities in a row."""
    rng = np.random.default_rng(seed)
    comm_w, comm_h = 5 * CELL_M, 4 * CELL_M
    areas: list[dict[str, Any]] = [{"code": "410611", "name": "基准区", "level": "district",
                                    "geometry": _box_m(0, 0, COMMUNITIES_PER_STREET * comm_w, STREETS * comm_h)}]
    grids: list[dict[str, Any]] = []
    for s in range(STREETS):
        street = f"410611{s + 1:03d}"
        areas.append({"code": street, "name": f"第{s + 1}街道", "level": "street", "parent_code": "410611",
                      "geometry": _box_m(0, s * comm_h, COMMUNITIES_PER_STREET * comm_w, comm_h)})
        for c in range(COMMUNITIES_PER_STREET):
            community = f"{street}{c + 1:03d}"
            households = rng.integers(200, 650, GRIDS_PER_COMMUNITY)
            areas.append({"code": community, "name": f"第{c + 1}社区", "level": "community", "parent_code": street,
                          "households": int(households.sum()),
                          "geometry": _box_m(c * comm_w, s * comm_h, comm_w, comm_h)})
            for g in range(GRIDS_PER_COMMUNITY):
                gx, gy = divmod(g, 4)
                grids.append({"code": f"{community}{g + 1:03d}", "name": f"第{g + 1}网格", "kind": "base",
                              "community_code": community, "households": int(households[g]),
                              "geometry": _box_m(c * comm_w + gx * CELL_M, s * comm_h + gy * CELL_M, CELL_M, CELL_M)})
    as_multi = [shapely.MultiPolygon([a["geometry"]]) for a in areas]
    areas_gdf = gpd.GeoDataFrame(pd.DataFrame(areas).drop(columns="geometry"), geometry=as_multi, crs=4326)
    grids_gdf = gpd.GeoDataFrame(pd.DataFrame(grids).drop(columns="geometry"),
                                 geometry=[shapely.MultiPolygon([g["geometry"]]) for g in grids], crs=4326)
    areas_gdf["households"] = areas_gdf["households"].astype("Int64")
    return areas_gdf, grids_gdf


def fill_store(store: Store, areas: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> None:
    """One active generation per community."""
    now = pd.Timestamp.now(tz="UTC")
    communities = sorted(grids["community_code"].unique())
    gen_of = {c: i + 1 for i, c in enumerate(communities)}
    generations = pd.DataFrame({"generation_id": list(gen_of.values()), "community_code": communities,
                                "status": GenerationStatus.ACTIVE.value, "version": 1, "created_at": now,
                                "activated_at": now})
    grids = grids.assign(generation_id=grids["community_code"].map(gen_of), valid_from=now)
    with store.transaction() as tx:
        tx.insert(schema.AREAS, areas)
        tx.insert(schema.GENERATIONS, generations)
        tx.insert(schema.GRIDS, grids)


def run() -> dict[str, Any]:
    areas, grids = district_frames()
    basemap = basemap_from_settings(Settings())
    timings: dict[str, float] = {}
    with timed() as t:
        m = hierarchy_map(areas, grids, basemap=basemap, lang="zh", band=BAND_PRESETS["urban"])
    timings["build_map_s"] = t.seconds
    with timed() as t:
        page = html_from_map(m)
    timings["render_html_s"] = t.seconds
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(store_url=f"gpkg://{Path(tmp) / 'bench.gpkg'}", secret_key="bench")
        store = open_store(settings.store_url, settings)
        fill_store(store, areas, grids)
        with timed() as t:
            hierarchy_frames(store)
        timings["store_read_s"] = t.seconds
        app = create_app(settings, store=store)
        client = app.test_client()
        client.get("/")  # warm-up: templates compiled, imports done
        with timed() as t:
            response = client.get("/")
        timings["home_request_s"] = t.seconds
        home_bytes = len(response.data)
        close_app(app)
        store.close()
    extra = {"grids": len(grids), "areas": len(areas),
             "vertices_per_grid": float(shapely.get_num_coordinates(grids.geometry.values).mean()),
             "map_html_mb": round(len(page.encode()) / 1e6, 2),
        "home_html_mb": round(home_bytes / 1e6, 2), "home_status": response.status_code}
    return write_result("portal_map", timings_s=timings, targets_s=TARGETS_S, extra=extra)


if __name__ == "__main__":
    result = run()
    print({k: result[k] for k in ("timings_s", "passed", "peak_rss_mb", "grids", "map_html_mb", "home_html_mb")})
