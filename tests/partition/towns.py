"""Synthetic towns for the partition tests: a rectangular street grid with rows of buildings.

Geometry is laid out in metres in CGCS2000 / 3-degree Gauss-Krüger CM 114E (EPSG:4547, around
Hebi, Henan) and returned in EPSG:4326 like stored data. Every number (block size, buildings per
block, households per building) is a parameter, so a test can make the band feasible or not on
purpose and compute the expected totals itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import shapely
from shapely.geometry import LineString, Polygon, box

METRIC_EPSG = 4547
X0, Y0 = 500_000.0, 3_950_000.0
COMMUNITY_CODE = "410611001002"
COMMUNITY_NAME = "黎阳社区"


@dataclass
class Town:
    boundary: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame

    @property
    def households(self) -> int:
        return int(self.buildings["households"].sum())


def to_lonlat(geoms: list, **columns: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=geoms, crs=METRIC_EPSG).to_crs(4326)


def block_buildings(x: float, y: float, block_m: float, *, per_side: int, households: int) -> list[Polygon]:
    """``per_side`` x ``per_side`` buildings of 20 x 12 m, evenly inside the block at (x, y)."""
    step = block_m / per_side
    return [
        box(x + i * step + (step - 20) / 2, y + j * step + (step - 12) / 2,
            x + i * step + (step + 20) / 2, y + j * step + (step + 12) / 2)
        for i in range(per_side)
        for j in range(per_side)
    ]  # fmt: skip


def make_town(
    *,
    nx: int = 4,
    ny: int = 3,
    block_m: float = 150.0,
    per_side: int = 3,
    households: int = 25,
    arterial_row: int | None = 1,
    origin: tuple[float, float] = (X0, Y0),
) -> Town:
    """A town of ``nx`` x ``ny`` road blocks; buildings hold ``households`` each."""
    ox, oy = origin
    w, h = nx * block_m, ny * block_m
    outline = box(ox, oy, ox + w, oy + h)
    lines, classes = [], []
    for i in range(1, nx):
        lines.append(LineString([(ox + i * block_m, oy - 20), (ox + i * block_m, oy + h + 20)]))
        classes.append("local")
    for j in range(1, ny):
        lines.append(LineString([(ox - 20, oy + j * block_m), (ox + w + 20, oy + j * block_m)]))
        classes.append("arterial" if j == arterial_row else "local")
    bld = [
        b
        for i in range(nx)
        for j in range(ny)
        for b in block_buildings(ox + i * block_m, oy + j * block_m, block_m, per_side=per_side, households=households)
    ]
    return Town(
        boundary=to_lonlat([outline], code=[COMMUNITY_CODE], name=[COMMUNITY_NAME]),
        roads=to_lonlat(lines, road_class=classes),
        buildings=to_lonlat(bld, building_id=[f"b{i}" for i in range(len(bld))], households=[households] * len(bld)),
    )


def merge_towns(a: Town, b: Town) -> Town:
    """Two towns as one community with a MultiPolygon boundary (e.g. either side of a river)."""
    parts = [shapely.get_parts(t.boundary.to_crs(METRIC_EPSG).geometry.iloc[0]) for t in (a, b)]
    bids = [f"a{i}" for i in range(len(a.buildings))] + [f"b{i}" for i in range(len(b.buildings))]
    return Town(
        boundary=to_lonlat([shapely.MultiPolygon([*parts[0], *parts[1]])]),
        roads=gpd.GeoDataFrame(
            {"road_class": [*a.roads["road_class"], *b.roads["road_class"]]},
            geometry=[*a.roads.geometry, *b.roads.geometry],
            crs=4326,
        ),
        buildings=gpd.GeoDataFrame(
            {"building_id": bids, "households": [*a.buildings["households"], *b.buildings["households"]]},
            geometry=[*a.buildings.geometry, *b.buildings.geometry],
            crs=4326,
        ),
    )


def metric(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.to_crs(METRIC_EPSG)


def interior_overlaps(buildings: gpd.GeoDataFrame, parts: gpd.GeoDataFrame, *, tol_m2: float = 1e-4) -> list[str]:
    """Ids of buildings whose interior overlaps more than one part by more than ``tol_m2``."""
    b = metric(buildings)
    p = metric(parts)
    out = []
    for bid, geom in zip(b["building_id"], b.geometry, strict=True):
        hits = sum(shapely.intersection(geom, g).area > tol_m2 for g in p.geometry)
        if hits != 1:
            out.append(str(bid))
    return out
