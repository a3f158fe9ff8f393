"""A small, fully known community for the planner tests: a lattice of road blocks with buildings.

The community is ``COLS x ROWS`` rectangular road blocks (about 180 m x 200 m each) near Hebi, lon/lat.
Every block holds ``BUILDINGS_PER_BLOCK`` buildings of ``HOUSEHOLDS_PER_BUILDING`` households, placed
well inside the block (never on a road). Grids are made by hand from blocks (``grids_from_layout``),
so every expected number in a test follows from the layout, not from a partition run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, box

from gridmap import schema
from gridmap.codes import grid_code, grid_name
from gridmap.partition.certificate.checks import check_partition
from gridmap.partition.problem import Band
from gridmap.services.generations import activate_generation, stage_generation
from gridmap.store.base import Store

DISTRICT, STREET, COMMUNITY = "410611", "410611001", "410611001001"
COMMUNITY_NAME = "黎阳社区"
W, S = 114.28, 35.74
DX, DY = 0.002, 0.0018  # one block, degrees
COLS, ROWS = 6, 4
BUILDINGS_PER_BLOCK = 3
HOUSEHOLDS_PER_BUILDING = 30
BLOCK_HOUSEHOLDS = BUILDINGS_PER_BLOCK * HOUSEHOLDS_PER_BUILDING  # 90
BAND = Band(300, 500, 400)
#: Six grids of 2 x 2 blocks (360 households each), numbered west->east, north->south.
LAYOUT_2X2: dict[int, list[tuple[int, int]]] = {
    seq: [(c, r) for c in (2 * gc, 2 * gc + 1) for r in (2 * gr, 2 * gr + 1)]
    for seq, (gc, gr) in enumerate(((0, 1), (1, 1), (2, 1), (0, 0), (1, 0), (2, 0)), start=1)
}


def outline() -> shapely.Polygon:
    """The community: the union of its blocks, so its edge has a vertex at every block corner, like
    the grids' (a straight edge in lon/lat bows by millimetres in metres between vertices)."""
    cells = [box(W + c * DX, S + r * DY, W + (c + 1) * DX, S + (r + 1) * DY) for c in range(COLS) for r in range(ROWS)]
    return shapely.normalize(shapely.union_all(cells))


def block_box(col: int, row: int) -> shapely.Polygon:
    """Block at column ``col`` (west->east) and row ``row`` (south->north)."""
    return box(W + col * DX, S + row * DY, W + (col + 1) * DX, S + (row + 1) * DY)


def building_boxes(col: int, row: int, n: int = BUILDINGS_PER_BLOCK, *, offset: float = 0.0) -> list[shapely.Polygon]:
    """``n`` small footprints (about 18 m x 18 m) in a row across the middle of a block."""
    cell = block_box(col, row)
    minx, miny, maxx, maxy = cell.bounds
    y = miny + (maxy - miny) * (0.5 + offset)
    xs = np.linspace(minx, maxx, n + 2)[1:-1]
    return [box(x - 0.0001, y - 0.0001, x + 0.0001, y + 0.0001) for x in xs]


def areas_frame() -> gpd.GeoDataFrame:
    o = outline()
    return gpd.GeoDataFrame(
        {
            "code": [DISTRICT, STREET, COMMUNITY],
            "name": ["淇滨区", "金山街道", COMMUNITY_NAME],
            "level": ["district", "street", "community"],
            "parent_code": [None, DISTRICT, STREET],
        },
        geometry=[MultiPolygon([o.buffer(d, join_style="mitre")]) for d in (0.002, 0.001)] + [MultiPolygon([o])],
        crs=4326,
    )  # fmt: skip


def roads_frame() -> gpd.GeoDataFrame:
    """Lattice roads through the community, running a little past its edge."""
    lines, classes = [], []
    for c in range(1, COLS):
        x = W + c * DX
        lines.append(LineString([(x, S - 0.0005), (x, S + ROWS * DY + 0.0005)]))
        classes.append("arterial" if c == COLS // 2 else "local")
    for r in range(1, ROWS):
        y = S + r * DY
        lines.append(LineString([(W - 0.0005, y), (W + COLS * DX + 0.0005, y)]))
        classes.append("local")
    return gpd.GeoDataFrame({"road_class": classes, "name": [f"路{i}" for i in range(len(lines))]},
                            geometry=lines, crs=4326)  # fmt: skip


def buildings_frame() -> gpd.GeoDataFrame:
    geoms, ids = [], []
    for c in range(COLS):
        for r in range(ROWS):
            for k, g in enumerate(building_boxes(c, r)):
                geoms.append(g)
                ids.append(f"b{c}{r}{k}")
    return gpd.GeoDataFrame(
        {"building_id": ids, "households": [HOUSEHOLDS_PER_BUILDING] * len(geoms), "community_code": COMMUNITY},
        geometry=geoms,
        crs=4326,
    )


def seed_community(store: Store) -> None:
    """Areas, roads and buildings of the sample community."""
    with store.transaction() as tx:
        tx.insert(schema.AREAS, areas_frame())
        tx.insert(schema.ROADS, roads_frame())
        tx.insert(schema.BUILDINGS, buildings_frame())


def grids_from_layout(layout: dict[int, list[tuple[int, int]]], *, households: dict[int, int] | None = None
                      ) -> gpd.GeoDataFrame:
    """Grids (GRIDS_SPEC columns) as unions of blocks; households default to 90 per block."""
    rows, geoms = [], []
    for seq, cells in sorted(layout.items()):
        geom = shapely.union_all([block_box(c, r) for c, r in cells])
        rows.append({
            "code": grid_code(COMMUNITY, seq), "name": grid_name(COMMUNITY_NAME, seq), "kind": "base",
            "community_code": COMMUNITY, "generation_id": 0,
            "households": (households or {}).get(seq, BLOCK_HOUSEHOLDS * len(cells)),
            "area_m2": 0.0, "flags": [], "synthetic": True,
        })  # fmt: skip
        geoms.append(MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)


def certificate_of(grids: gpd.GeoDataFrame) -> dict:
    parent = gpd.GeoDataFrame({"code": [COMMUNITY]}, geometry=[outline()], crs=4326)
    return check_partition(grids, parent, buildings=buildings_frame(), band=BAND, parent_code_column="code").to_dict()


def activate_layout(store: Store, layout: dict[int, list[tuple[int, int]]] | None = None, *, actor: str = "setup"
                    ) -> int:
    """Stage the layout's grids (with their certificate) and activate them; returns the generation id."""
    grids = grids_from_layout(layout or LAYOUT_2X2)
    cert = certificate_of(grids)
    with store.transaction() as tx:
        gen = stage_generation(tx, COMMUNITY, grids, created_by=actor, certificate=cert)
    activate_generation(store, gen, actor=actor)
    return gen


def add_buildings(store: Store, cells: Iterable[tuple[int, int]], *, households: int, n: int = 3) -> None:
    """A new estate: ``n`` buildings of ``households`` each in every given block (north of the old row)."""
    geoms = [g for c, r in cells for g in building_boxes(c, r, n, offset=0.25)]
    with store.transaction() as tx:
        tx.insert(schema.BUILDINGS, gpd.GeoDataFrame(
            {"building_id": [f"new{i}" for i in range(len(geoms))], "households": [households] * len(geoms),
             "community_code": COMMUNITY}, geometry=geoms, crs=4326))  # fmt: skip


def demolish(store: Store, cells: Iterable[tuple[int, int]]) -> int:
    """Delete every building of the given blocks; returns the households removed."""
    ids = [f"b{c}{r}{k}" for c, r in cells for k in range(BUILDINGS_PER_BLOCK)]
    with store.transaction() as tx:
        tx.delete(schema.BUILDINGS, {"building_id": ids})
    return len(ids) * HOUSEHOLDS_PER_BUILDING


def block_centre(col: int, row: int) -> Point:
    return block_box(col, row).centroid


def incidents_frame(points: Sequence[Point], *, statuses: Sequence[str], grid_codes: Sequence[str | None]
                    ) -> gpd.GeoDataFrame:
    now = pd.Timestamp("2024-05-01T08:00:00Z")
    n = len(points)
    return gpd.GeoDataFrame(
        {
            "incident_id": [f"E{i:05d}" for i in range(n)],
            "category": ["环境卫生"] * n,
            "status": list(statuses),
            "reported_at": [now] * n,
            "grid_code": list(grid_codes),
            "community_code": [COMMUNITY] * n,
            "street_code": [STREET] * n,
        },
        geometry=list(points),
        crs=4326,
    )


def workers_frame(assignments: dict[str, tuple[str, list[str]]]) -> pd.DataFrame:
    """Workers by id: (main grid code, extra grid codes)."""
    return pd.DataFrame(
        [{"worker_id": wid, "name": f"网格员{wid}", "role": "full_time", "grid_code": main,
          "extra_grid_codes": extra, "active": True} for wid, (main, extra) in assignments.items()]
    )  # fmt: skip
