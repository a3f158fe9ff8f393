"""Encode one tile from rows already read (the GeoPackage path), with mapbox-vector-tile.

Why this way: the GeoPackage has no ST_AsMVT. The store reads the tile's buffered lon/lat box
through the R-tree; here the rows go to Web Mercator, are simplified to one tile unit and clipped
to the tile plus its 64-unit buffer (what ST_AsMVTGeom does in PostGIS), and are encoded into the
4096-unit tile space. Points below the layer's aggregation zoom are counted per cell.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pandas as pd
import shapely

from gridmap.tiles.grid import EXTENT, Tile
from gridmap.tiles.layers import TileLayer


def _value(value: Any) -> Any:
    """A property value MVT can carry (str, int, float, bool), or None to drop it."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return str(value) if not isinstance(value, int | float | str) else value


def _in_mercator(frame: gpd.GeoDataFrame, tile: Tile) -> np.ndarray:
    geoms = np.asarray(frame.geometry.to_crs(3857).to_numpy(), dtype=object)
    polygonal = np.array([g is not None and g.geom_type in ("Polygon", "MultiPolygon", "LineString",
                                                             "MultiLineString") for g in geoms])  # fmt: skip
    if polygonal.any():
        geoms[polygonal] = shapely.simplify(geoms[polygonal], tile.pixel_m, preserve_topology=True)
    return np.asarray(shapely.clip_by_rect(geoms, *tile.buffered_m()), dtype=object)


def _aggregated(frame: gpd.GeoDataFrame, tile: Tile, cell_px: int) -> list[dict[str, Any]]:
    points = shapely.get_coordinates(frame.geometry.to_crs(3857).to_numpy())
    cell = tile.size_m * cell_px / EXTENT
    keys = np.floor(points / cell).astype(np.int64)
    cells, counts = np.unique(keys, axis=0, return_counts=True)
    return [{"geometry": shapely.Point((cx + 0.5) * cell, (cy + 0.5) * cell), "properties": {"count": int(n)}}
            for (cx, cy), n in zip(cells, counts, strict=True)]  # fmt: skip


def tile_bytes(frame: gpd.GeoDataFrame, tile: Tile, layer: TileLayer) -> bytes:
    """The encoded tile of ``layer`` for these rows (b"" when there is nothing to draw)."""
    if frame.empty:
        return b""
    if layer.aggregate_below and tile.z < layer.aggregate_below:
        features = _aggregated(frame, tile, layer.cell_px)
    else:
        geoms = _in_mercator(frame, tile)
        props = [c for c in layer.properties if c in frame.columns]
        records = frame[props].to_dict("records")
        features = [
            {"geometry": g, "properties": {k: v for k, v in ((k, _value(v)) for k, v in r.items()) if v is not None}}
            for g, r in zip(geoms, records, strict=True) if g is not None and not g.is_empty
        ]  # fmt: skip
    if not features:
        return b""
    for feature in features:
        feature["geometry"] = _to_tile_units(feature["geometry"], tile)
    options = {"extents": EXTENT, "y_coord_down": True}
    return bytes(mapbox_vector_tile.encode([{"name": layer.name, "features": features}], default_options=options))


def _to_tile_units(geom: Any, tile: Tile) -> Any:
    """Web Mercator metres to the tile's 0..4096 space, y down (the encoder rounds to integers)."""
    x0, _, _, y1 = tile.bounds_m
    scale = EXTENT / tile.size_m
    return shapely.transform(geom, lambda xy: np.column_stack(((xy[:, 0] - x0) * scale, (y1 - xy[:, 1]) * scale)))


__all__ = ["tile_bytes"]
