"""The metric working CRS for areas (m²) and distances (m), and GeoDataFrame storage helpers.

Why an automatic choice: stored geometry is lon/lat degrees, useless for m² and metres. A transverse
Mercator zone centred near the data keeps scale error tiny: within a 3-degree zone (±1.5° from the
central meridian) the scale factor is < 1.00035 (areas < 0.07 % off), within a 6-degree UTM zone
< 1.0010 at the edge (with UTM's 0.9996 scale). Inside mainland China we use the national CGCS2000
3-degree Gauss-Krüger CRS (EPSG:4534-4554, the "CM" variants whose eastings have no zone-number
prefix), which is what Chinese surveying and planning data use, so numbers match local documents;
elsewhere the WGS84 UTM zone (EPSG:326zz north / 327zz south). The zone is chosen from the centre
of the extent: meant for district- or city-sized data, not for a whole country at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeAlias, TypeVar

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gridmap.crs.china import in_mainland_china
from gridmap.crs.spec import storage_crs
from gridmap.crs.transform import looks_like_degrees
from gridmap.errors import ValidationError

if TYPE_CHECKING:
    from gridmap.config import Settings

Bounds: TypeAlias = tuple[float, float, float, float]
Extent: TypeAlias = Bounds | Sequence[float] | shapely.Geometry | gpd.GeoDataFrame | gpd.GeoSeries
FrameT = TypeVar("FrameT", gpd.GeoDataFrame, gpd.GeoSeries)

_GK_FIRST_EPSG = 4534  # CGCS2000 / 3-degree Gauss-Kruger CM 75E
_GK_FIRST_CM = 75
_GK_LAST_CM = 135  # EPSG:4554


def gauss_kruger_epsg(lon: float) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Krüger CM zone nearest ``lon`` (75E..135E)."""
    central = 3 * math.floor(lon / 3.0 + 0.5)
    central = min(max(central, _GK_FIRST_CM), _GK_LAST_CM)
    return _GK_FIRST_EPSG + (central - _GK_FIRST_CM) // 3


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone of a point (326zz north, 327zz south; no Norway exceptions)."""
    zone = min(max(math.floor((lon + 180.0) / 6.0) + 1, 1), 60)
    return (32600 if lat >= 0 else 32700) + zone


def working_crs_for(extent: Extent) -> pyproj.CRS:
    """A projected CRS in metres for metric work on ``extent``.

    ``extent`` is lon/lat bounds ``(min_lon, min_lat, max_lon, max_lat)``, a shapely geometry in
    lon/lat, or a GeoDataFrame/GeoSeries (any CRS it declares; lon/lat assumed if it has none).
    Mainland China -> CGCS2000 3-degree Gauss-Krüger CM zone; anywhere else -> UTM (see module doc).
    """
    lon, lat = _centre_lonlat(extent)
    return pyproj.CRS.from_epsg(working_epsg_at(lon, lat))


def working_epsg_at(lon: float, lat: float) -> int:
    """The EPSG code :func:`working_crs_for` picks at one lon/lat point, without building a CRS.

    For per-request work (a check-in's distance): ``CRS.from_epsg`` plus ``to_epsg`` cost more
    than the rest of the distance calculation together.
    """
    if bool(in_mainland_china(lon, lat)):
        return gauss_kruger_epsg(lon)
    return utm_epsg(lon, lat)


def _centre_lonlat(extent: Extent) -> tuple[float, float]:
    if isinstance(extent, gpd.GeoDataFrame | gpd.GeoSeries):
        bounds = _frame_bounds_lonlat(extent)
    elif isinstance(extent, shapely.Geometry):
        if shapely.is_empty(extent):
            raise ValidationError("working_crs_for: the geometry is empty; cannot pick a zone for it")
        bounds = _checked_bounds(tuple(float(v) for v in shapely.bounds(extent)), "geometry")
    else:
        values = tuple(float(v) for v in extent)
        if len(values) != 4:
            raise ValidationError(
                f"working_crs_for: bounds {extent!r} need 4 numbers (min_lon, min_lat, max_lon, max_lat)"
            )
        bounds = _checked_bounds(values, "bounds")
    min_x, min_y, max_x, max_y = bounds
    return (min_x + max_x) / 2.0, (min_y + max_y) / 2.0


def _checked_bounds(bounds: tuple[float, ...], what: str) -> Bounds:
    min_x, min_y, max_x, max_y = bounds
    if not all(math.isfinite(v) for v in bounds) or min_x > max_x or min_y > max_y:
        raise ValidationError(f"working_crs_for: {what} {bounds} are not valid bounds (min_x, min_y, max_x, max_y)")
    if not looks_like_degrees([min_x, max_x], [min_y, max_y]):
        raise ValidationError(
            f"working_crs_for: {what} {bounds} are not lon/lat degrees (|lon| <= 180, |lat| <= 90); pass lon/lat"
            " data or a GeoDataFrame that declares its CRS"
        )
    return min_x, min_y, max_x, max_y


def _frame_bounds_lonlat(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> Bounds:
    geoms = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    present = geoms[~(geoms.isna() | geoms.is_empty)]
    if present.empty:
        raise ValidationError(f"working_crs_for: all {len(geoms)} geometries are missing or empty; cannot pick a zone")
    raw = tuple(float(v) for v in present.total_bounds)
    if frame.crs is None or frame.crs.to_epsg() == 4326:
        return _checked_bounds(raw, "geometries (no CRS: assumed lon/lat)" if frame.crs is None else "geometries")
    to_lonlat = pyproj.Transformer.from_crs(frame.crs, "EPSG:4326", always_xy=True)
    lonlat = to_lonlat.transform_bounds(raw[0], raw[1], raw[2], raw[3])
    return _checked_bounds(tuple(float(v) for v in np.asarray(lonlat)), f"geometries (from {frame.crs.to_string()})")


def to_working(frame: FrameT, *, crs: pyproj.CRS | None = None) -> FrameT:
    """``frame`` projected to its metric working CRS (or to ``crs`` when given), e.g. before ``.area``."""
    if frame.crs is None:
        raise ValidationError(
            "to_working: the GeoDataFrame has no CRS; set the CRS it is in (e.g. .set_crs(4326)) before projecting"
        )
    return frame.to_crs(crs if crs is not None else working_crs_for(frame))


def to_storage(frame: FrameT, settings: Settings) -> FrameT:
    """``frame`` in the storage CRS (``settings.storage_epsg``: 4326 WGS84 or 4490 CGCS2000, lon/lat)."""
    if frame.crs is None:
        raise ValidationError(
            "to_storage: the GeoDataFrame has no CRS; set the CRS it is in (e.g. .set_crs(4547)) before storing"
        )
    epsg = storage_crs(settings).epsg
    return frame.to_crs(epsg=epsg)
