"""Benchmark: insert 100,000 synthetic building footprints into each store (target < 20 s each).

Why: a district import (OSM or a surveyed building layer) is tens of thousands of footprints and
must stay interactive. The buildings are rotated rectangles of 8-30 m on a jittered 40 m lattice
around 淇滨区, generated from a fixed seed, so every run inserts the same data. PostGIS runs in
a throwaway cluster (benchmarks/pgcluster.py, the same code the tests use).

Run: ``python -m benchmarks.import_buildings`` or ``python -m benchmarks.run_all import_buildings``.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from benchmarks.common import timed, write_result
from benchmarks.pgcluster import ClusterUnavailable, throwaway_cluster
from gridmap.config import Settings
from gridmap.schema import BUILDINGS
from gridmap.store.base import Store
from gridmap.store.factory import open_store

ROWS = 100_000
TARGET_S = 20.0
LON0, LAT0 = 114.25, 35.70
SPACING_M = 40.0
M_PER_DEG_LAT = 110_574.0


def buildings_from_seed(n: int, *, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` rotated-rectangle footprints (lon/lat) with the attributes an import fills in."""
    rng = np.random.default_rng(seed)
    side = math.ceil(math.sqrt(n))
    i, j = np.divmod(np.arange(n), side)
    cx = j * SPACING_M + rng.uniform(-5, 5, n)  # metres east of the origin
    cy = i * SPACING_M + rng.uniform(-5, 5, n)  # metres north
    half_w, half_l = rng.uniform(4, 15, n), rng.uniform(4, 15, n)
    angle = rng.uniform(0, math.pi, n)
    corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)], dtype=float)
    dx = corners[None, :, 0] * half_w[:, None]
    dy = corners[None, :, 1] * half_l[:, None]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x_m = cx[:, None] + dx * cos - dy * sin
    y_m = cy[:, None] + dx * sin + dy * cos
    m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(LAT0))
    coords = np.stack([LON0 + x_m / m_per_deg_lon, LAT0 + y_m / M_PER_DEG_LAT], axis=-1)
    floors = rng.integers(1, 33, n)
    footprint = 4 * half_w * half_l
    return gpd.GeoDataFrame(
        {
            "building_id": [f"bench-{k:06d}" for k in range(n)],
            "floors": floors,
            "footprint_m2": footprint,
            "households": np.maximum(1, (footprint * floors * 0.75 / 90).astype(int)),
            "households_estimated": True,
            "community_code": [f"410611{1 + k // 20000:03d}{1 + k % 20:03d}" for k in range(n)],
            "synthetic": True,
            "source": "benchmark",
        },
        geometry=shapely.polygons(coords),
        crs=4326,
    )


def _time_insert(store: Store, frame: gpd.GeoDataFrame) -> dict[str, float]:
    with timed() as insert, store.transaction() as tx:
        fids = tx.insert(BUILDINGS, frame)
    if len(fids) != len(frame) or store.count(BUILDINGS) != len(frame):
        raise RuntimeError(f"{store.url}: inserted {len(fids)} rows, stored {store.count(BUILDINGS)}")
    box = (LON0 + 0.01, LAT0 + 0.01, LON0 + 0.02, LAT0 + 0.02)
    with timed() as bbox_read:
        hits = len(store.read(BUILDINGS, bbox=box))
    with timed() as full_read:
        store.read(BUILDINGS)
    return {"insert": insert.seconds, "bbox_read": bbox_read.seconds, "full_read": full_read.seconds,
            "bbox_hits": float(hits)}


def run(*, rows: int = ROWS) -> dict[str, Any]:
    frame = buildings_from_seed(rows)
    timings: dict[str, float] = {}
    extra: dict[str, Any] = {"rows": rows}
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-") as tmp:
        store = open_store(f"gpkg://{Path(tmp) / 'bench.gpkg'}", Settings())
        gpkg = _time_insert(store, frame)
        store.close()
        extra["gpkg_file_mb"] = round((Path(tmp) / "bench.gpkg").stat().st_size / 2**20, 1)
    timings.update({"gpkg_insert_s": gpkg["insert"], "gpkg_bbox_read_s": gpkg["bbox_read"],
                    "gpkg_full_read_s": gpkg["full_read"]})
    try:
        with throwaway_cluster() as cluster:
            store = open_store(cluster.create_database("bench"), Settings())
            try:
                pg = _time_insert(store, frame)
            finally:
                store.close()
        timings.update({"postgis_insert_s": pg["insert"], "postgis_bbox_read_s": pg["bbox_read"],
                        "postgis_full_read_s": pg["full_read"]})
        extra["bbox_hits"] = {"gpkg": int(gpkg["bbox_hits"]), "postgis": int(pg["bbox_hits"])}
    except ClusterUnavailable as exc:
        extra["postgis_error"] = str(exc)
    extra["rows_per_s"] = {k.removesuffix("_insert_s"): round(rows / v) for k, v in timings.items()
                           if k.endswith("_insert_s")}
    return write_result("import_buildings", timings_s=timings,
                        targets_s={"gpkg_insert_s": TARGET_S, "postgis_insert_s": TARGET_S}, extra=extra)


if __name__ == "__main__":
    result = run()
    print({k: result[k] for k in ("timings_s", "passed", "peak_rss_mb")})
