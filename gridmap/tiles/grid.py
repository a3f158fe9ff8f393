"""The XYZ tile grid of Web Mercator (EPSG:3857), as OSM, MapLibre and Leaflet number tiles.

Tile (z, x, y) covers 1/2^z of the world's width; y counts from the north. Bounds are in metres
of EPSG:3857 (for the encoders) and in lon/lat (for the store's bbox reads).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gridmap.errors import ValidationError

#: Half the width of the Web Mercator square (m).
ORIGIN_M = 20037508.342789244
MAX_ZOOM = 22
#: Tile coordinate space of an encoded tile, and the buffer kept around it (both in tile units).
EXTENT, BUFFER = 4096, 64


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    @property
    def bounds_m(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in EPSG:3857 metres."""
        size = 2 * ORIGIN_M / 2**self.z
        minx = -ORIGIN_M + self.x * size
        maxy = ORIGIN_M - self.y * size
        return minx, maxy - size, minx + size, maxy

    @property
    def size_m(self) -> float:
        return 2 * ORIGIN_M / 2**self.z

    def buffered_m(self, units: int = BUFFER) -> tuple[float, float, float, float]:
        pad = self.size_m * units / EXTENT
        x0, y0, x1, y1 = self.bounds_m
        return x0 - pad, y0 - pad, x1 + pad, y1 + pad

    def bounds_lonlat(self, units: int = BUFFER) -> tuple[float, float, float, float]:
        """The buffered tile as a lon/lat box (for the store's R-tree / GiST read)."""
        x0, y0, x1, y1 = self.buffered_m(units)
        lon0, lat0 = lonlat_from_mercator(x0, y0)
        lon1, lat1 = lonlat_from_mercator(x1, y1)
        return lon0, lat0, lon1, lat1

    @property
    def pixel_m(self) -> float:
        """One tile unit (1/4096 of the tile) in metres: the simplification tolerance of this zoom."""
        return self.size_m / EXTENT


def lonlat_from_mercator(x: float, y: float) -> tuple[float, float]:
    x = min(max(x, -ORIGIN_M), ORIGIN_M)
    y = min(max(y, -ORIGIN_M), ORIGIN_M)
    lon = x / ORIGIN_M * 180.0
    lat = math.degrees(2 * math.atan(math.exp(y / ORIGIN_M * math.pi)) - math.pi / 2)
    return lon, lat


def tile_from_path(z: int, x: int, y: int) -> Tile:
    """A validated tile; ValidationError naming the coordinate that is out of range."""
    if not 0 <= z <= MAX_ZOOM:
        raise ValidationError(f"tile zoom {z} is outside 0..{MAX_ZOOM}", code="bad_tile")
    top = 2**z - 1
    if not 0 <= x <= top or not 0 <= y <= top:
        raise ValidationError(f"tile {z}/{x}/{y}: x and y must be in 0..{top} at zoom {z}", code="bad_tile")
    return Tile(z, x, y)


__all__ = ["BUFFER", "EXTENT", "MAX_ZOOM", "Tile", "lonlat_from_mercator", "tile_from_path"]
