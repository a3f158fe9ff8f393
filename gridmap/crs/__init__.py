"""Coordinate systems: parse user CRS names, convert to/from WGS84, pick a metric working CRS.

Why this package exists: gridmap stores every geometry as lon/lat in EPSG:4326 (or EPSG:4490,
CGCS2000), but data arrives in other systems. Files and GPS come in WGS84, CGCS2000 or a projected
CRS; coordinates copied from AMap/Gaode or Tencent are in GCJ-02 and from Baidu in BD-09, two
non-linear offsets of WGS84 by roughly 100-700 m that apply only in mainland China. Convert at the
edges (input and display) and nowhere else; do metric work (areas in m², distances in metres) in
the projected CRS that :func:`working_crs_for` picks.

Conventions: x is longitude / easting, y is latitude / northing, always. pyproj transformers are
built with ``always_xy=True`` because the EPSG registry orders EPSG:4326 and EPSG:4490 as lat,lon
and the CGCS2000 Gauss-Krüger CRSs as northing,easting.

Modules: ``spec`` (CrsSpec, parse_crs), ``china`` (mainland polygon, GCJ-02/BD-09 maths),
``transform`` (point and geometry transforms), ``working`` (metric working CRS, storage helpers).

Core: imports only pyproj, numpy and shapely; every layer may import it.
"""

from gridmap.crs.china import in_mainland_china, mainland_outline
from gridmap.crs.spec import (
    ACCEPTED_FORMS,
    BD09,
    CGCS2000,
    GCJ02,
    WGS84,
    ChinaOffset,
    CrsSpec,
    as_crs_spec,
    parse_crs,
    storage_crs,
    transformer_between,
)
from gridmap.crs.transform import from_wgs84, looks_like_degrees, to_wgs84, transform_geometries, transform_xy
from gridmap.crs.working import (
    gauss_kruger_epsg,
    to_storage,
    to_working,
    utm_epsg,
    working_crs_for,
    working_epsg_at,
)

__all__ = [
    "ACCEPTED_FORMS",
    "BD09",
    "CGCS2000",
    "GCJ02",
    "WGS84",
    "ChinaOffset",
    "CrsSpec",
    "as_crs_spec",
    "from_wgs84",
    "gauss_kruger_epsg",
    "in_mainland_china",
    "looks_like_degrees",
    "mainland_outline",
    "parse_crs",
    "storage_crs",
    "to_storage",
    "to_wgs84",
    "to_working",
    "transform_geometries",
    "transform_xy",
    "transformer_between",
    "utm_epsg",
    "working_crs_for",
    "working_epsg_at",
]
