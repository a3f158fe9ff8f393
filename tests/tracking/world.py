"""A small tracked world near 鹤壁 (410611): 4 grids of ~450 m x 555 m, roads, buildings and 4 workers.

Layout (lon 114.300-114.315, lat 35.735-35.745)::

    35.745 +--------+--------+
           |   A    |   B    |          community 410611001001 (A, B)
    35.740 +--------+--------+--------+
           |   C    |        D        |  community 410611001002 (C, D)
    35.735 +--------+-----------------+
        114.300  114.305  114.310  114.315

A and B share an edge (A/B posts may pair them), A and D touch only at a corner (not adjacent).
Grid B carries a hostile name to check escaping. Workers: w-a (A, device dev-a, partner w-b),
w-b (B, dev-b, partner w-a, grid leader), w-c (C with extra grid D, dev-c), w-x (inactive, dev-x).
Grid A has two roads (452 m east-west at lat 35.7425, 555 m north-south at lon 114.3025) and six
buildings: four within 15 m of the east-west road, two more than 100 m from both roads.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from gridmap import schema
from gridmap.model import GenerationStatus
from gridmap.store.base import Store

HOSTILE = "<img src=x onerror=alert(1)>"
A, B, C, D = "410611001001001", "410611001001002", "410611001002001", "410611001002002"
GRID_BOXES = {
    A: (114.300, 35.740, 114.305, 35.745),
    B: (114.305, 35.740, 114.310, 35.745),
    C: (114.300, 35.735, 114.305, 35.740),
    D: (114.305, 35.735, 114.315, 35.740),
}
GRID_NAMES = {A: "桃园第一网格", B: HOSTILE, C: "杏园第一网格", D: "杏园第二网格"}
COMMUNITY_OF = {A: "410611001001", B: "410611001001", C: "410611001002", D: "410611001002"}
AREAS = [
    ("410611", "淇滨区", "district", None, (114.300, 35.735, 114.315, 35.745)),
    ("410611001", "九州路街道", "street", "410611", (114.300, 35.735, 114.315, 35.745)),
    ("410611001001", "桃园社区", "community", "410611001", (114.300, 35.740, 114.310, 35.745)),
    ("410611001002", "杏园社区", "community", "410611001", (114.300, 35.735, 114.315, 35.740)),
]
#: (worker_id, name, role, grid, extra grids, partner, device, active)
WORKERS = [
    ("w-a", "张三", "full_time", A, None, "w-b", "dev-a", True),
    ("w-b", "李四", "grid_leader", B, None, "w-a", "dev-b", True),
    ("w-c", "王五", "part_time", C, [D], None, "dev-c", True),
    ("w-x", "赵六", "part_time", D, None, None, "dev-x", False),
]
ROAD_EW = shapely.LineString([(114.300, 35.7425), (114.305, 35.7425)])
ROAD_NS = shapely.LineString([(114.3025, 35.740), (114.3025, 35.745)])
NEAR_BUILDINGS = [(114.3005, 35.74262), (114.3015, 35.74238), (114.3035, 35.74262), (114.3045, 35.74238)]
FAR_BUILDINGS = [(114.3008, 35.7441), (114.3042, 35.7409)]


def inside(code: str, fx: float = 0.5, fy: float = 0.5) -> tuple[float, float]:
    """A point inside grid ``code`` at fractions (fx, fy) of its box."""
    x0, y0, x1, y1 = GRID_BOXES[code]
    return (x0 + fx * (x1 - x0), y0 + fy * (y1 - y0))


def workers_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "worker_id": [w[0] for w in WORKERS], "name": [w[1] for w in WORKERS], "role": [w[2] for w in WORKERS],
        "phone": ["1390392" + str(1000 + i) for i in range(len(WORKERS))],
        "grid_code": [w[3] for w in WORKERS], "extra_grid_codes": [w[4] for w in WORKERS],
        "partner_worker_id": [w[5] for w in WORKERS], "device_id": [w[6] for w in WORKERS],
        "active": pd.array([w[7] for w in WORKERS], dtype="boolean"),
    })


def populate_store(store: Store, *, with_workers: bool = True) -> None:
    """Areas, one active generation per community, roads, buildings and (optionally) the workers."""
    now = pd.Timestamp.now(tz="UTC")
    areas = gpd.GeoDataFrame(
        {"code": [a[0] for a in AREAS], "name": [a[1] for a in AREAS], "level": [a[2] for a in AREAS],
         "parent_code": [a[3] for a in AREAS]},
        geometry=[shapely.MultiPolygon([shapely.box(*a[4])]) for a in AREAS], crs=4326)
    communities = sorted(set(COMMUNITY_OF.values()))
    generation_of = {c: i + 1 for i, c in enumerate(communities)}
    generations = pd.DataFrame({"generation_id": list(generation_of.values()), "community_code": communities,
                                "status": GenerationStatus.ACTIVE.value, "version": 1, "created_at": now,
                                "activated_at": now})
    codes = list(GRID_BOXES)
    grids = gpd.GeoDataFrame(
        {"code": codes, "name": [GRID_NAMES[c] for c in codes], "kind": "base",
         "community_code": [COMMUNITY_OF[c] for c in codes],
         "generation_id": [generation_of[COMMUNITY_OF[c]] for c in codes],
         "households": pd.array([400] * len(codes), dtype="Int64"), "valid_from": now},
        geometry=[shapely.MultiPolygon([shapely.box(*GRID_BOXES[c])]) for c in codes], crs=4326)
    roads = gpd.GeoDataFrame({"name": ["淇河路", "黎阳路"], "road_class": ["local", "lane"]},
                             geometry=[ROAD_EW, ROAD_NS], crs=4326)
    points = NEAR_BUILDINGS + FAR_BUILDINGS
    buildings = gpd.GeoDataFrame(
        {"building_id": [f"b{i}" for i in range(len(points))], "households": pd.array([20] * len(points),
                                                                                     dtype="Int64")},
        geometry=[shapely.Point(p).buffer(0.00005) for p in points], crs=4326)
    with store.transaction() as tx:
        tx.insert(schema.AREAS, areas)
        tx.insert(schema.GENERATIONS, generations)
        tx.insert(schema.GRIDS, grids)
        tx.insert(schema.ROADS, roads)
        tx.insert(schema.BUILDINGS, buildings)
        if with_workers:
            tx.insert(schema.WORKERS, workers_frame())
