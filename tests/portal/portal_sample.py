"""A small hierarchy for portal and browser tests: 1 district, 2 streets, 3 communities, 8 grids.

Imported by name from tests/portal and by file path from tests/browser (no test packages here).

Boxes in lon/lat near 鹤壁市淇滨区 (410611). One grid and one street carry a hostile name, three base
grids are outside the urban band (300-500户, see OUT_OF_BAND), one grid is dedicated (a school) and
one is a professional overlay (police grid) that overlaps base grids.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from gridmap import schema
from gridmap.model import GenerationStatus
from gridmap.store.base import Store

HOSTILE = "<img src=x onerror=alert(1)>"

# (code, name, level, parent, households, (minx, miny, maxx, maxy))
AREAS = [
    ("410611", "淇滨区", "district", None, 3190, (114.00, 35.70, 114.12, 35.78)),
    ("410611001", f"九州路街道{HOSTILE}", "street", "410611", 1750, (114.00, 35.70, 114.06, 35.78)),
    ("410611002", "金山街道", "street", "410611", 1440, (114.06, 35.70, 114.12, 35.78)),
    ("410611001001", "桃园社区", "community", "410611001", 870, (114.00, 35.74, 114.06, 35.78)),
    ("410611001002", "杏园社区", "community", "410611001", 880, (114.00, 35.70, 114.06, 35.74)),
    ("410611002001", "天山社区", "community", "410611002", 1440, (114.06, 35.70, 114.12, 35.78)),
]

# (code, name, kind, community, households, box)
GRIDS = [
    ("410611001001001", HOSTILE, "base", "410611001001", 420, (114.00, 35.74, 114.03, 35.78)),
    ("410611001001002", "桃园社区第二网格", "base", "410611001001", 450, (114.03, 35.74, 114.06, 35.78)),
    ("410611001002001", "杏园社区第一网格", "base", "410611001002", 250, (114.00, 35.70, 114.03, 35.74)),
    ("410611001002002", "杏园社区第二网格", "base", "410611001002", 590, (114.03, 35.72, 114.06, 35.74)),
    ("410611001002003", "淇滨小学", "dedicated", "410611001002", 40, (114.03, 35.70, 114.06, 35.72)),
    ("410611002001001", "天山社区第一网格", "base", "410611002001", 480, (114.06, 35.70, 114.09, 35.78)),
    ("410611002001002", "天山社区第二网格", "base", "410611002001", 960, (114.09, 35.70, 114.12, 35.78)),
    ("410611002001901", "天山警格", "professional", "410611002001", None, (114.06, 35.70, 114.12, 35.78)),
]

#: Households of the grids outside the urban band (300-500), dedicated/professional excluded.
OUT_OF_BAND = {"410611001002001": "below", "410611001002002": "above", "410611002001002": "above"}


def areas_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": [a[0] for a in AREAS],
            "name": [a[1] for a in AREAS],
            "level": [a[2] for a in AREAS],
            "parent_code": [a[3] for a in AREAS],
            "households": gpd.pd.array([a[4] for a in AREAS], dtype="Int64"),
        },
        geometry=[shapely.MultiPolygon([shapely.box(*a[5])]) for a in AREAS],
        crs=4326,
    )


def grids_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": [g[0] for g in GRIDS],
            "name": [g[1] for g in GRIDS],
            "kind": [g[2] for g in GRIDS],
            "community_code": [g[3] for g in GRIDS],
            "households": gpd.pd.array([g[4] for g in GRIDS], dtype="Int64"),
        },
        geometry=[shapely.MultiPolygon([shapely.box(*g[5])]) for g in GRIDS],
        crs=4326,
    )


def populate_store(store: Store) -> None:
    """Write the sample areas and one active grid generation per community (ids 1, 2, 3).

    Written directly rather than through services.generations so these fixtures depend only on
    the Store contract.
    """
    now = pd.Timestamp.now(tz="UTC")
    grids = grids_frame()
    communities = sorted(grids["community_code"].unique())
    generation_of = {c: i + 1 for i, c in enumerate(communities)}
    generations = pd.DataFrame(
        {
            "generation_id": list(generation_of.values()),
            "community_code": communities,
            "status": GenerationStatus.ACTIVE.value,
            "version": 1,
            "created_at": now,
            "activated_at": now,
        }
    )
    grids["generation_id"] = grids["community_code"].map(generation_of)
    grids["valid_from"] = now
    with store.transaction() as tx:
        tx.insert(schema.AREAS, areas_frame())
        tx.insert(schema.GENERATIONS, generations)
        tx.insert(schema.GRIDS, grids)
