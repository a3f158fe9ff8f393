"""A small district for incident tests: 1 street, 2 communities, 4 grids, workers; boxes in lon/lat.

Layout near 鹤壁 (x = lon, y = lat), each grid 0.01° x 0.01° (~900 m x 1100 m):

    community 410611001001: grids 001 (west) and 002 (east), y 35.75..35.76
    community 410611001002: grids 001 (west) and 002 (east), y 35.74..35.75
    community 410611001003: x 114.27..114.28, y 35.74..35.76, no grids (reports go to the community)
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from gridmap import schema
from gridmap.model import GenerationStatus
from gridmap.store.base import Store

DISTRICT, STREET = "410611", "410611001"
COMM_A, COMM_B, COMM_C = "410611001001", "410611001002", "410611001003"
GRID_A1, GRID_A2, GRID_B1, GRID_B2 = COMM_A + "001", COMM_A + "002", COMM_B + "001", COMM_B + "002"
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"
#: A point inside each grid (centre of its box).
INSIDE = {GRID_A1: (114.255, 35.755), GRID_A2: (114.265, 35.755), GRID_B1: (114.255, 35.745),
          GRID_B2: (114.265, 35.745)}
IN_COMM_C = (114.275, 35.75)
OUTSIDE = (114.40, 35.90)

_AREAS = [
    (DISTRICT, "淇滨区", "district", None, (114.25, 35.74, 114.28, 35.76)),
    (STREET, "九州路街道", "street", DISTRICT, (114.25, 35.74, 114.28, 35.76)),
    (COMM_A, "桃园社区", "community", STREET, (114.25, 35.75, 114.27, 35.76)),
    (COMM_B, "杏园社区", "community", STREET, (114.25, 35.74, 114.27, 35.75)),
    (COMM_C, "梨园社区", "community", STREET, (114.27, 35.74, 114.28, 35.76)),
]
_GRIDS = [
    (GRID_A1, "桃园社区第一网格", COMM_A, (114.25, 35.75, 114.26, 35.76)),
    (GRID_A2, "桃园社区第二网格", COMM_A, (114.26, 35.75, 114.27, 35.76)),
    (GRID_B1, "杏园社区第一网格", COMM_B, (114.25, 35.74, 114.26, 35.75)),
    (GRID_B2, "杏园社区第二网格", COMM_B, (114.26, 35.74, 114.27, 35.75)),
]
#: (worker_id, name, role, grid, partner)
WORKERS = [
    ("W1", "张伟", "full_time", GRID_A1, "W2"),
    ("W2", "李娜", "full_time", GRID_A2, "W1"),
    ("W3", "王芳", "full_time", GRID_B1, None),
    ("W4", "刘洋", "grid_leader", GRID_B2, None),
]


def populate(store: Store) -> None:
    """Areas, one active generation per community with grids, and workers."""
    now = pd.Timestamp.now(tz="UTC")
    areas = gpd.GeoDataFrame(
        {"code": [a[0] for a in _AREAS], "name": [a[1] for a in _AREAS], "level": [a[2] for a in _AREAS],
         "parent_code": [a[3] for a in _AREAS]},
        geometry=[shapely.MultiPolygon([shapely.box(*a[4])]) for a in _AREAS], crs=4326)
    gens = pd.DataFrame({"generation_id": [1, 2], "community_code": [COMM_A, COMM_B],
                         "status": GenerationStatus.ACTIVE.value, "version": 1, "created_at": now,
                         "activated_at": now})
    grids = gpd.GeoDataFrame(
        {"code": [g[0] for g in _GRIDS], "name": [g[1] for g in _GRIDS], "kind": "base",
         "community_code": [g[2] for g in _GRIDS], "generation_id": [1, 1, 2, 2], "valid_from": now},
        geometry=[shapely.MultiPolygon([shapely.box(*g[3])]) for g in _GRIDS], crs=4326)
    workers = pd.DataFrame({"worker_id": [w[0] for w in WORKERS], "name": [w[1] for w in WORKERS],
                            "role": [w[2] for w in WORKERS], "grid_code": [w[3] for w in WORKERS],
                            "partner_worker_id": [w[4] for w in WORKERS], "active": True})
    with store.transaction() as tx:
        tx.insert(schema.AREAS, areas)
        tx.insert(schema.GENERATIONS, gens)
        tx.insert(schema.GRIDS, grids)
        tx.insert(schema.WORKERS, workers)
