"""Point and geometry transforms between any two CrsSpecs (EPSG, GCJ-02, BD-09), vectorised.

Why one entry point: callers (import, lookup, incident intake, the AMap basemap) should not care
whether a conversion is a pyproj transform or a Chinese offset; they name two CRSs and get arrays
back. Everything is numpy-vectorised: a million points take ~0.2 s (pyproj), ~0.6-0.9 s (to GCJ-02 /
BD-09) or ~1.5-1.8 s (iterative inverse) on one core here; see benchmarks/crs.py.
"""

from __future__ import annotations

from typing import Any, overload

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import shapely

from gridmap.crs.china import FloatArray, china_offset_from_wgs84, wgs84_from_china_offset
from gridmap.crs.spec import WGS84, CrsSpec, as_crs_spec, transformer_between
from gridmap.errors import ValidationError


def _as_float_arrays(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    ax, ay = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return np.array(ax, dtype=np.float64), np.array(ay, dtype=np.float64)


def _lonlat_from(x: FloatArray, y: FloatArray, spec: CrsSpec) -> tuple[FloatArray, FloatArray]:
    if spec.offset is not None:
        return wgs84_from_china_offset(x, y, spec.offset)
    if spec.epsg is None or spec.epsg == 4326:
        return x, y
    lon, lat = transformer_between(spec.epsg, 4326).transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _xy_to(lon: FloatArray, lat: FloatArray, spec: CrsSpec) -> tuple[FloatArray, FloatArray]:
    if spec.offset is not None:
        return china_offset_from_wgs84(lon, lat, spec.offset)
    if spec.epsg is None or spec.epsg == 4326:
        return lon, lat
    x, y = transformer_between(4326, spec.epsg).transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _xy_between(x: FloatArray, y: FloatArray, src: CrsSpec, dst: CrsSpec) -> tuple[FloatArray, FloatArray]:
    if src == dst:
        return x, y
    if src.epsg is not None and dst.epsg is not None:
        tx, ty = transformer_between(src.epsg, dst.epsg).transform(x, y)
        return np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)
    lon, lat = _lonlat_from(x, y, src)
    return _xy_to(lon, lat, dst)


@overload
def transform_xy(x: float, y: float, crs_from: CrsSpec | str, crs_to: CrsSpec | str) -> tuple[float, float]: ...
@overload
def transform_xy(
    x: npt.ArrayLike, y: npt.ArrayLike, crs_from: CrsSpec | str, crs_to: CrsSpec | str
) -> tuple[FloatArray, FloatArray]: ...
def transform_xy(x: Any, y: Any, crs_from: CrsSpec | str, crs_to: CrsSpec | str) -> tuple[Any, Any]:
    """Convert coordinates between any two CRSs (vectorised; scalars in -> floats out).

    EPSG -> EPSG goes straight through pyproj; anything involving GCJ-02 / BD-09 goes through
    WGS84. Arrays keep their broadcast shape; NaN stays NaN.
    """
    ax, ay = _as_float_arrays(x, y)
    rx, ry = _xy_between(ax, ay, as_crs_spec(crs_from), as_crs_spec(crs_to))
    if rx.ndim == 0:
        return float(rx), float(ry)
    return rx, ry


@overload
def to_wgs84(x: float, y: float, crs: CrsSpec | str) -> tuple[float, float]: ...
@overload
def to_wgs84(x: npt.ArrayLike, y: npt.ArrayLike, crs: CrsSpec | str) -> tuple[FloatArray, FloatArray]: ...
def to_wgs84(x: Any, y: Any, crs: CrsSpec | str) -> tuple[Any, Any]:
    """(lon, lat) in WGS84 degrees from coordinates in ``crs``.

    GCJ-02 / BD-09 are inverted iteratively (round trip error < 1 mm inside mainland China;
    outside it they equal WGS84). CGCS2000 (EPSG:4490) differs from WGS84 by centimetres to about
    a metre depending on epoch, below what gridmap resolves; it still goes through pyproj so a
    future PROJ grid would be used.
    """
    return transform_xy(x, y, crs, WGS84)


@overload
def from_wgs84(lon: float, lat: float, crs: CrsSpec | str) -> tuple[float, float]: ...
@overload
def from_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, crs: CrsSpec | str) -> tuple[FloatArray, FloatArray]: ...
def from_wgs84(lon: Any, lat: Any, crs: CrsSpec | str) -> tuple[Any, Any]:
    """(x, y) in ``crs`` from WGS84 lon/lat degrees; e.g. shift overlays to GCJ-02 for AMap tiles.

    The GCJ-02 / BD-09 offset is applied only inside mainland China (:func:`in_mainland_china`).
    """
    return transform_xy(lon, lat, WGS84, crs)


def looks_like_degrees(x: npt.ArrayLike, y: npt.ArrayLike) -> bool:
    """True when every finite value fits lon/lat (|x| <= 180, |y| <= 90): metres-vs-degrees sniffing.

    Projected coordinates (UTM, Gauss-Krüger: hundreds of thousands of metres) fail at once; NaN is
    ignored (an all-NaN or empty input counts as degrees: nothing contradicts it); ±inf is not degrees.
    """
    ax, ay = _as_float_arrays(x, y)
    ok_x = np.isnan(ax) | (np.abs(ax) <= 180.0)
    ok_y = np.isnan(ay) | (np.abs(ay) <= 90.0)
    return bool(np.all(ok_x) and np.all(ok_y))


@overload
def transform_geometries(
    geoms: shapely.Geometry, crs_from: CrsSpec | str, crs_to: CrsSpec | str
) -> shapely.Geometry: ...
@overload
def transform_geometries(
    geoms: npt.ArrayLike, crs_from: CrsSpec | str, crs_to: CrsSpec | str
) -> npt.NDArray[np.object_]: ...
def transform_geometries(geoms: Any, crs_from: CrsSpec | str, crs_to: CrsSpec | str) -> Any:
    """Convert every vertex of shapely geometries between two CRSs (e.g. polygons drawn on AMap).

    Works for GCJ-02 / BD-09 too (shapely.transform with the vectorised point functions), which
    ``GeoSeries.to_crs`` cannot do. Accepts one geometry (returns one), an array/list (returns an
    object array; None stays None) or a GeoSeries (returns a GeoSeries on the same index). Z values are
    kept unchanged. A GeoSeries result in GCJ-02 / BD-09 is labelled EPSG:4326, the nearest CRS pyproj
    knows, because folium and geopandas need some lon/lat CRS; treat that label as display-only.
    A GeoSeries whose own CRS disagrees with ``crs_from`` is refused rather than silently mis-converted.
    """
    src, dst = as_crs_spec(crs_from), as_crs_spec(crs_to)

    def move(coords: FloatArray) -> FloatArray:
        out = np.array(coords, dtype=np.float64)  # (N, 2) or (N, 3); z is kept as it is
        out[:, 0], out[:, 1] = _xy_between(out[:, 0].copy(), out[:, 1].copy(), src, dst)
        return out

    if isinstance(geoms, gpd.GeoSeries):
        _check_series_crs(geoms, src)
        moved = shapely.transform(geoms.to_numpy(), move, include_z=True)
        out_epsg = dst.epsg if dst.epsg is not None else 4326
        return gpd.GeoSeries(moved, index=geoms.index, crs=f"EPSG:{out_epsg}", name=geoms.name)
    if isinstance(geoms, shapely.Geometry):
        return shapely.transform(geoms, move, include_z=True)
    arr = np.asarray(geoms, dtype=object)
    return np.asarray(shapely.transform(arr, move, include_z=True), dtype=object)


def _check_series_crs(series: gpd.GeoSeries, src: CrsSpec) -> None:
    if series.crs is None:
        return
    own = series.crs.to_epsg()
    expected = src.epsg if src.epsg is not None else 4326  # offset data may be labelled as plain lon/lat
    if own != expected:
        raise ValidationError(
            f"GeoSeries {series.name!r} is labelled {series.crs.to_string()} but crs_from is {src.name};"
            " fix the label or the crs_from argument so coordinates are not converted from the wrong system"
        )
