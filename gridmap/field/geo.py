"""Distances on the ground, in metres, for check-ins.

Why a projected CRS and not a haversine: the project measures everything metric in the working CRS
(CGCS2000 Gauss-Krüger in China, UTM elsewhere; :mod:`gridmap.crs.working`), so the distance a worker
is told ("you are 512 m from the point") is the same number a planner measures in QGIS on the
project's maps. Within one 3-degree zone the scale error is below 0.035 %, i.e. < 2 cm at 50 m.
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache

import pyproj

from gridmap.crs import working_epsg_at
from gridmap.errors import ValidationError

#: Held while the transformer cache is read or filled: without it, the server's threads all miss the
#: empty cache at the first burst of check-ins and each runs the same proj.db search (py-spy: 2.7 s of
#: CPU in two processes of 16 threads, 15 % of the server's CPU over 2,000 check-ins).
_CACHE_LOCK = threading.Lock()


def _transformer(epsg: int) -> pyproj.Transformer:
    """WGS84 lon/lat -> ``epsg``, built once per process (see ``_CACHE_LOCK``)."""
    with _CACHE_LOCK:
        return _pipeline_transformer(epsg)


@lru_cache(maxsize=64)
def _pipeline_transformer(epsg: int) -> pyproj.Transformer:
    """WGS84 lon/lat -> ``epsg`` as the bare PROJ pipeline of pyproj's own choice of operation.

    Why not the ``from_crs`` transformer itself: pyproj builds a transformer again in every thread
    that uses it, and for ``from_crs`` that means a new search of proj.db for the operation, about
    60 ms of CPU in each of the server's threads. The pipeline (the same operation, read from the
    ``from_crs`` transformer once) is rebuilt in a new thread in about 0.5 ms and gives the same
    coordinates.
    """
    chosen = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
    return pyproj.Transformer.from_pipeline(chosen.to_proj4())


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Ground distance between two WGS84 points, metres, in the working CRS of the first point."""
    tr = _transformer(working_epsg_at(lon1, lat1))  # the zone working_crs_for picks, without a CRS object
    x1, y1 = tr.transform(lon1, lat1)
    x2, y2 = tr.transform(lon2, lat2)
    return float(math.hypot(x2 - x1, y2 - y1))


def checked_lonlat(lon: object, lat: object, *, what: str) -> tuple[float, float]:
    """(lon, lat) as finite floats within WGS84 ranges, or a ValidationError naming ``what``."""
    try:
        x, y = float(lon), float(lat)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError(f"{what}: lon and lat must be numbers, got {lon!r}, {lat!r}") from None
    if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        raise ValidationError(f"{what}: ({x}, {y}) is not a WGS84 lon/lat position")
    return x, y
