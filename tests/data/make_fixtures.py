"""Regenerate the small synthetic hierarchy fixtures in tests/data (deterministic, no network).

Run: ``.venv/bin/python tests/data/make_fixtures.py``. See tests/data/README.md for provenance.
The layout is a made-up district around Hebi (鹤壁, 114.29E 35.75N) with the real county code
410611 (淇滨区) but invented streets and communities: two streets side by side, each split into a
south and a north community, all edges shared exactly.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

HERE = Path(__file__).parent
WEST, MID, EAST = 114.20, 114.30, 114.40
SOUTH, CENTRE, NORTH = 35.70, 35.75, 35.80


def _box(x0: float, y0: float, x1: float, y1: float) -> shapely.MultiPolygon:
    return shapely.MultiPolygon([shapely.box(x0, y0, x1, y1)])


def districts() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["410611"], "name": ["淇滨区"]}, geometry=[_box(WEST, SOUTH, EAST, NORTH)], crs="EPSG:4326"
    )


def streets() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["410611001", "410611002"], "name": ["西城街道", "东城街道"]},
        geometry=[_box(WEST, SOUTH, MID, NORTH), _box(MID, SOUTH, EAST, NORTH)],
        crs="EPSG:4326",
    )


def communities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["410611001001", "410611001002", "410611002001", "410611002002"],
            "name": ["西城南社区", "西城北社区", "东城南社区", "东城北社区"],
            "households": [1200, 900, 1500, 800],
        },
        geometry=[
            _box(WEST, SOUTH, MID, CENTRE),
            _box(WEST, CENTRE, MID, NORTH),
            _box(MID, SOUTH, EAST, CENTRE),
            _box(MID, CENTRE, EAST, NORTH),
        ],
        crs="EPSG:4326",
    )


def main() -> None:
    for name, frame in (("districts", districts()), ("streets", streets()), ("communities", communities())):
        path = HERE / f"hebi_{name}.geojson"
        path.unlink(missing_ok=True)
        frame.to_file(path, driver="GeoJSON")


if __name__ == "__main__":
    main()
