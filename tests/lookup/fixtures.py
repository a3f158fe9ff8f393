"""A small synthetic district for lookup tests, on an exact binary lattice.

Every vertex is ``X0 + i * STEP / 64`` (and likewise for y): such numbers are exact in binary floating
point, so midpoints of edges lie *exactly* on the edges and shapely (GEOS) and PostGIS must agree on
"covered" for them. Layout, in lattice units of STEP (~180 m x 220 m):

    community A 410611001001: x 0..8, y 0..6, four grids 001 NW, 002 NE, 003 SW, 004 SE (dedicated)
    community B 410611001002: x 8..16, two grids split by a zig-zag line of 97 vertices (> 64, so
                              PostGIS subdivides them)
    community C 410611001003: x 16..20, no grids at all
    overlays: a police grid (professional) over x 2..10, y 2..4; a micro grid x 1..2, y 4..5
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

X0 = 114.25
Y0 = 35.75
STEP = 1 / 512

DISTRICT = "410611"
STREET = "410611001"
COMM_A = "410611001001"
COMM_B = "410611001002"
COMM_C = "410611001003"


def xy(i: float, j: float) -> tuple[float, float]:
    """Lattice units -> lon/lat (exact for multiples of 1/64)."""
    return X0 + i * STEP, Y0 + j * STEP


def box(i0: float, j0: float, i1: float, j1: float) -> shapely.Polygon:
    return shapely.Polygon([xy(i0, j0), xy(i1, j0), xy(i1, j1), xy(i0, j1)])


def zigzag() -> list[tuple[float, float]]:
    """Cut line of community B from north to south: x = 12 or 12.5, y steps of 1/16, 97 vertices."""
    return [xy(12 + (0.5 if k % 2 else 0.0), 6 - k / 16) for k in range(97)]


def grids_frame() -> gpd.GeoDataFrame:
    cut = zigzag()
    b_west = shapely.Polygon([xy(8, 6), *cut, xy(8, 0)])
    b_east = shapely.Polygon([*cut, xy(16, 0), xy(16, 6)])
    rows = [
        (COMM_A + "001", "甲社区第一网格", "base", None, box(0, 3, 4, 6)),
        (COMM_A + "002", "甲社区第二网格", "base", None, box(4, 3, 8, 6)),
        (COMM_A + "003", "甲社区第三网格", "base", None, box(0, 0, 4, 3)),
        (COMM_A + "004", "实验小学专属网格", "dedicated", "school", box(4, 0, 8, 3)),
        (COMM_B + "001", "乙社区第一网格", "base", None, b_west),
        (COMM_B + "002", "乙社区第二网格", "base", None, b_east),
        (COMM_A + "901", "甲社区警格", "professional", "police", box(2, 2, 10, 4)),
        (COMM_A + "801", "甲社区一号楼微网格", "micro", None, box(1, 4, 2, 5)),
    ]
    frame = gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "kind": [r[2] for r in rows],
            "subtype": [r[3] for r in rows],
            "community_code": [r[0][:12] for r in rows],
            "generation_id": [1 if r[0].startswith(COMM_A) else 2 for r in rows],
            "households": [400, 350, 420, 0, 380, 390, None, 20],
            "synthetic": [True] * len(rows),
        },
        geometry=[shapely.MultiPolygon([r[4]]) for r in rows],
        crs=4326,
    )
    return frame


def areas_frame() -> gpd.GeoDataFrame:
    rows = [
        (DISTRICT, "淇滨区", "district", None, box(0, 0, 20, 6)),
        (STREET, "黎阳街道", "street", DISTRICT, box(0, 0, 20, 6)),
        (COMM_A, "甲社区", "community", STREET, box(0, 0, 8, 6)),
        (COMM_B, "乙社区", "community", STREET, box(8, 0, 16, 6)),
        (COMM_C, "丙社区", "community", STREET, box(16, 0, 20, 6)),
    ]
    return gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "name": [r[1] for r in rows], "level": [r[2] for r in rows],
         "parent_code": [r[3] for r in rows], "synthetic": [True] * len(rows)},
        geometry=[shapely.MultiPolygon([r[4]]) for r in rows],
        crs=4326,
    )


def workers_frame() -> pd.DataFrame:
    rows = [
        ("w1", "张伟", "13800000001", "photos/w1.jpg", "full_time", COMM_A + "001", None, "入户走访, 矛盾调解"),
        ("w2", "王芳", "13800000002", None, "full_time", COMM_A + "002", None, "巡查"),
        ("w3", "李娜", "13800000003", "photos/w3.jpg", "part_time", COMM_A + "002", None, "协助巡查"),
        ("w4", "刘洋", "13800000004", None, "full_time", COMM_A + "003", [COMM_A + "004"], "巡查"),
        ("w5", "陈静", "13800000005", None, "full_time", COMM_B + "001", None, "巡查"),
        ("w6", "杨军", "13800000006", None, "full_time", COMM_B + "002", None, "巡查"),
        ("w0", "赵敏", "13800000000", "photos/w0.jpg", "grid_leader", COMM_A + "001",
         [COMM_A + "002", COMM_A + "003"], "统筹网格工作"),
    ]
    frame = pd.DataFrame(
        rows, columns=["worker_id", "name", "phone", "photo", "role", "grid_code", "extra_grid_codes", "duties"]
    )
    frame["partner_worker_id"] = "w9"
    frame["device_id"] = "dev-secret"
    frame["active"] = True
    frame["synthetic"] = True
    inactive = pd.DataFrame([{"worker_id": "w7", "name": "离职者", "role": "full_time", "grid_code": COMM_B + "001",
                              "active": False, "synthetic": True}])
    return pd.concat([frame, inactive], ignore_index=True)


def centres_frame() -> gpd.GeoDataFrame:
    rows = [
        ("c1", "甲社区党群服务中心", COMM_A, "淇河路1号", "0392-1234561", xy(1, 1)),
        ("c2", "乙社区党群服务中心", COMM_B, "淇河路99号", "0392-1234562", xy(9, 1)),
        ("c0", "黎阳街道网格化服务管理中心", STREET, "黎阳路1号", "0392-1234560", xy(17, 1)),
    ]
    return gpd.GeoDataFrame(
        {"centre_id": [r[0] for r in rows], "name": [r[1] for r in rows], "area_code": [r[2] for r in rows],
         "address": [r[3] for r in rows], "phone": [r[4] for r in rows], "opening_hours": "08:30-17:30",
         "synthetic": True},
        geometry=[shapely.Point(r[5]) for r in rows],
        crs=4326,
    )


def fill_store(store, *, with_addresses: bool = True) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Write the synthetic district into an empty store; activate one generation per community.

    Returns community code -> active generation id.
    """
    from gridmap import schema
    from gridmap.services.generations import activate_generation, stage_generation

    grids = grids_frame()
    with store.transaction() as tx:
        tx.insert(schema.AREAS, areas_frame())
        tx.insert(schema.WORKERS, workers_frame())
        tx.insert(schema.SERVICE_CENTRES, centres_frame())
        if with_addresses:
            tx.insert(schema.BUILDINGS, buildings_frame())
            tx.insert(schema.ESTATES, estates_frame())
        gens = {
            comm: stage_generation(tx, comm, grids.loc[grids["community_code"] == comm].drop(columns="generation_id"))
            for comm in (COMM_A, COMM_B)
        }
    for gen in gens.values():
        activate_generation(store, gen, actor="test")
    return gens


def buildings_frame() -> gpd.GeoDataFrame:
    """Two addressed buildings in grid A1 and one estate building in grid B2."""
    rows = [
        {"building_id": "b1", "road_name": "淇河路", "house_number": "12号", "community_code": COMM_A,
         "geometry": box(1, 4.25, 1.5, 4.75)},
        {"building_id": "b2", "road_name": "淇河路", "house_number": "14号", "community_code": COMM_A,
         "geometry": box(2.5, 4.25, 3, 4.75)},
        {"building_id": "b3", "estate_name": "翠苑小区", "building_no": "3号楼", "community_code": COMM_B,
         "geometry": box(14, 4, 14.5, 4.5)},
        {"building_id": "b4", "road_name": "黎阳路", "house_number": "1号", "community_code": COMM_C,
         "geometry": box(18, 1, 18.5, 1.5)},
    ]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def estates_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"estate_id": ["e1"], "name": ["翠苑小区"], "community_code": [COMM_B]},
        geometry=[shapely.MultiPolygon([box(13.5, 3.5, 15.5, 5.5)])],
        crs=4326,
    )


def roads_frame() -> gpd.GeoDataFrame:
    """Roads along the lattice: two arterials and a few local roads and lanes."""
    rows = [
        ("淇河路", "arterial", [xy(-1, 3), xy(21, 3)]),
        ("黎阳路", "arterial", [xy(8, -1), xy(8, 7)]),
        ("兴业街", "local", [xy(4, -1), xy(4, 7)]),
        ("朝阳巷", "lane", [xy(0, 4.5), xy(4, 4.5)]),
        (None, "service", [xy(1, 3), xy(1, 6)]),
    ]
    return gpd.GeoDataFrame(
        {"name": [r[0] for r in rows], "road_class": [r[1] for r in rows], "synthetic": True},
        geometry=[shapely.LineString(r[2]) for r in rows],
        crs=4326,
    )
