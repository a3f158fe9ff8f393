"""A hand-made district in a store, with known answers for the services, CLI, API and pages.

Layout (metres east/north of sample.X0/Y0, EPSG:4547, stored as lon/lat):

* district 410611 = street 410611001 = 1200 x 600 m; community C1 = west 600 x 600, C2 = east half;
* C1 has 4 grids of 300 m (2 x 2), C2 has 3 (its north-east 300 x 300 m = 90,000 m² is in no grid);
* one building of 50 m per grid at the grid's south-west corner, households 100, 200, ..., 700;
* workers: W1 on grids 1 and 2 (extra), W2 on grid 2, W3 inactive on grid 3; grids 3..7 have nobody active;
* incidents: 40 in grid 1 (the planted hotspot), 2 in every other grid, 1 rejected and 1 duplicate (never
  counted), one month apart from 2024-01 to 2024-12, categories 消防 / 环境卫生, status closed or reported;
* one service centre at (10, 10) and an east-west road along y = 0 then north at x = 1200;
* one key unit in grid 5 (C2's first).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap import schema
from gridmap.services.generations import activate_generation, stage_generation
from gridmap.store.base import Store
from tests.analysis import sample

DISTRICT, STREET = "410611", "410611001"
C1, C2 = STREET + "001", STREET + "002"
#: (code, community, column, row) of each 300 m grid.
GRID_CELLS = [(C1 + "001", C1, 0, 0), (C1 + "002", C1, 1, 0), (C1 + "003", C1, 0, 1), (C1 + "004", C1, 1, 1),
              (C2 + "001", C2, 2, 0), (C2 + "002", C2, 3, 0), (C2 + "003", C2, 2, 1)]
HOUSEHOLDS = [100, 200, 300, 400, 500, 600, 700]
HOT_GRID = GRID_CELLS[0][0]
HOT_INCIDENTS, OTHER_INCIDENTS = 40, 2
COUNTED_INCIDENTS = HOT_INCIDENTS + OTHER_INCIDENTS * (len(GRID_CELLS) - 1)
UNCOVERED_M2 = 90_000.0


def _multi(geoms: list[shapely.Geometry]) -> list[shapely.Geometry]:
    return [shapely.MultiPolygon([g]) for g in sample.lonlat(geoms)]


def areas() -> gpd.GeoDataFrame:
    geoms = [sample.square_m(0, 0, 600.0, width=2), sample.square_m(0, 0, 600.0, width=2),
             sample.square_m(0, 0, 600.0), sample.square_m(1, 0, 600.0)]
    return gpd.GeoDataFrame(
        {"code": [DISTRICT, STREET, C1, C2], "name": ["淇滨区", "福平路街道", "黎阳社区", "天山社区"],
         "level": ["district", "street", "community", "community"], "parent_code": [None, DISTRICT, STREET, STREET],
         "households": pd.array([2800, 2800, 1000, 1800], dtype="Int64")},
        geometry=_multi(geoms), crs=4326,
    )


def grids(community: str) -> gpd.GeoDataFrame:
    rows = [(i, g) for i, g in enumerate(GRID_CELLS) if g[1] == community]
    return gpd.GeoDataFrame(
        {"code": [g[0] for _, g in rows], "name": [f"网格{g[0][-3:]}" for _, g in rows], "kind": "base",
         "community_code": community, "households": pd.array([HOUSEHOLDS[i] for i, _ in rows], dtype="Int64")},
        geometry=_multi([sample.square_m(g[2], g[3], 300.0) for _, g in rows]), crs=4326,
    )


def buildings() -> gpd.GeoDataFrame:
    geoms = [sample.square_m(g[2] * 6, g[3] * 6, 50.0) for g in GRID_CELLS]
    return gpd.GeoDataFrame(
        {"building_id": [f"B{i + 1}" for i in range(len(GRID_CELLS))],
         "households": pd.array(HOUSEHOLDS, dtype="Int64"),
         "population": pd.array([h * 3 for h in HOUSEHOLDS], dtype="Int64"),
         "community_code": [g[1] for g in GRID_CELLS]},
        geometry=sample.lonlat(geoms), crs=4326,
    )


def incidents() -> gpd.GeoDataFrame:
    rng = np.random.default_rng(7)
    counts = [HOT_INCIDENTS] + [OTHER_INCIDENTS] * (len(GRID_CELLS) - 1)
    points = sample.points_in([sample.square_m(g[2], g[3], 300.0) for g in GRID_CELLS], counts, rng)
    owner = np.repeat([g[0] for g in GRID_CELLS], counts)
    n = len(points)
    times = [pd.Timestamp("2024-01-15", tz="UTC") + pd.DateOffset(months=int(i % 12)) for i in range(n)]
    frame = sample.incidents_frame(
        points, category=["消防" if i % 2 == 0 else "环境卫生" for i in range(n)],
        status=["reported" if i % 4 == 0 else "closed" for i in range(n)], reported_at=times,
        grid_code=list(owner), community_code=[c[:12] for c in owner], street_code=[c[:9] for c in owner],
        weight=[2.0 if i % 2 else 1.0 for i in range(n)], duplicate_of=[None] * n,
    )
    extra = frame.iloc[[0, 1]].copy()
    extra["incident_id"] = ["EV_REJECTED", "EV_DUPLICATE"]
    extra["status"] = ["rejected", "closed"]
    extra["duplicate_of"] = [None, "EV000001"]
    return gpd.GeoDataFrame(pd.concat([frame, extra], ignore_index=True), geometry="geometry", crs=4326)


def populate(store: Store) -> None:
    """Write everything above into ``store`` and activate one grid generation per community."""
    x, y = sample.X0, sample.Y0
    with store.transaction() as tx:
        tx.insert(schema.AREAS, areas())
        tx.insert(schema.BUILDINGS, buildings())
        tx.insert(schema.SERVICE_CENTRES, gpd.GeoDataFrame(
            {"centre_id": ["SC1"], "name": ["福平路街道网格化服务管理中心"], "area_code": [STREET]},
            geometry=sample.lonlat([shapely.Point(x + 10, y + 10)]), crs=4326))
        tx.insert(schema.ROADS, gpd.GeoDataFrame(
            {"road_id": ["R1"], "name": ["新华路"], "road_class": ["arterial"]},
            geometry=sample.lonlat([shapely.LineString([(x, y), (x + 1200, y), (x + 1200, y + 600)])]), crs=4326))
        tx.insert(schema.UNITS, gpd.GeoDataFrame(
            {"unit_id": ["U1"], "name": ["加油站"], "unit_type": ["enterprise"], "community_code": [C2],
             "responsible_person": ["张三"], "key_unit": pd.array([True], dtype="boolean")},
            geometry=sample.lonlat([sample.square_m(12.5, 0.5, 50.0)]), crs=4326))
        tx.insert(schema.WORKERS, pd.DataFrame({
            "worker_id": ["W1", "W2", "W3"], "name": ["贾琪英", "史佳军", "刘宁庆"],
            "phone": ["13800000001", "13800000002", "13800000003"], "role": ["full_time"] * 3,
            "grid_code": [GRID_CELLS[0][0], GRID_CELLS[1][0], GRID_CELLS[2][0]],
            "extra_grid_codes": [[GRID_CELLS[1][0]], [], []], "active": pd.array([True, True, False], dtype="boolean"),
        }))
        tx.insert(schema.INCIDENTS, incidents())
        ids = [stage_generation(tx, c, grids(c), created_by="test") for c in (C1, C2)]
    for gen in ids:
        activate_generation(store, gen, actor="test")


#: A third community east of the district's street (x 1200-1800 m), for the city-size page tests.
C3 = STREET + "003"


def add_lattice_community(store: Store, n: int, *, size_m: float = 30.0) -> list[str]:
    """Add community C3 (600 x 600 m east of C2) cut into ``n`` x ``n`` active grids; returns their codes.

    Why: the pages' size must not grow with the number of grids when they are tiled; this makes a
    store with many more grids than the seven above, same incidents, same everything else.
    """
    if n * n > 999 or n * size_m > 600.0:
        raise ValueError(f"{n} x {n} grids of {size_m} m do not fit community C3 (600 m, 999 codes)")
    offset = 1200.0 / size_m  # lattice columns east of the district's west edge
    cells = [(col, row) for row in range(n) for col in range(n)]
    codes = [f"{C3}{i + 1:03d}" for i in range(len(cells))]
    community = gpd.GeoDataFrame(
        {"code": [C3], "name": ["网格测试社区"], "level": ["community"], "parent_code": [STREET],
         "households": pd.array([100 * len(cells)], dtype="Int64")},
        geometry=_multi([sample.square_m(2, 0, 600.0)]), crs=4326,
    )
    grids = gpd.GeoDataFrame(
        {"code": codes, "name": [f"格{c[-3:]}" for c in codes], "kind": "base", "community_code": C3,
         "households": pd.array([100] * len(codes), dtype="Int64")},
        geometry=_multi([sample.square_m(col + offset, row, size_m) for col, row in cells]), crs=4326,
    )
    with store.transaction() as tx:
        tx.insert(schema.AREAS, community)
        gen = stage_generation(tx, C3, grids, created_by="test")
    activate_generation(store, gen, actor="test")
    return codes
