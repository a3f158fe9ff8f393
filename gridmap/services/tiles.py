"""Vector tiles for a caller: ``vector_tile(store, principal, layer, z, x, y)`` (issue 14).

Why a service: the portal's ``/tiles`` route and the benchmarks ask for the same thing, and the
area scoping must be decided in one place for both backends. PostGIS answers with one
``ST_AsMVT`` statement; the GeoPackage reads the tile's box through its R-tree and encodes with
mapbox-vector-tile. The ETag is a hash of the bytes, so a client's ``If-None-Match`` is answered
with 304 whenever nothing in the tile changed, whatever the backend.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import geopandas as gpd
import pandas as pd

from gridmap.auth.principal import Principal
from gridmap.errors import AuthenticationError
from gridmap.services.generations import active_generation_ids
from gridmap.store.base import Store
from gridmap.tiles.encode import tile_bytes
from gridmap.tiles.grid import Tile, tile_from_path
from gridmap.tiles.layers import TileLayer, tile_layer
from gridmap.tiles.postgis_sql import tile_statement

MEDIA_TYPE = "application/vnd.mapbox-vector-tile"


@dataclass(frozen=True)
class VectorTile:
    data: bytes
    #: Strong entity tag (unquoted): a hash of the bytes.
    etag: str
    #: True when the tile is the same for every caller (cacheable by shared caches).
    public: bool


def _prefix(principal: Principal, layer: TileLayer) -> str:
    """The area prefix the caller's rows must start with ('' = everything)."""
    if principal.is_public:
        if not layer.public:
            raise AuthenticationError(f"tile layer {layer.name!r} needs an API key or a session")
        return ""
    return principal.area_code


def _rows(store: Store, layer: TileLayer, tile: Tile, prefix: str) -> gpd.GeoDataFrame:
    where: dict[str, object] = {}
    if layer.level is not None:
        where["level"] = layer.level
    if layer.active_grids:
        where["generation_id"] = active_generation_ids(store) or [-1]
    frame = store.read(layer.layer, where=where or None, bbox=tile.bounds_lonlat())
    if layer.level is not None and len(frame):
        frame = frame[frame["valid_to"].isna() | (frame["valid_to"] > pd.Timestamp(datetime.now(UTC)))]
    if prefix and len(frame):
        codes = frame[layer.area_column].astype("string").fillna("")
        frame = frame[codes.str.startswith(prefix).to_numpy(dtype=bool)]
    assert isinstance(frame, gpd.GeoDataFrame)
    return frame


def vector_tile(store: Store, principal: Principal, layer_name: str, z: int, x: int, y: int) -> VectorTile:
    """The tile of ``layer_name`` at z/x/y as ``principal`` may see it (b"" below the layer's min zoom)."""
    layer = tile_layer(layer_name)
    tile = tile_from_path(z, x, y)
    prefix = _prefix(principal, layer)
    if tile.z < layer.min_zoom:
        data = b""
    elif _is_postgis(store):
        statement, params = tile_statement(layer, tile, srid=store.settings.storage_epsg, prefix=prefix)
        rows = store.query(statement, params)  # type: ignore[attr-defined]
        data = bytes(rows[0][0]) if rows else b""
    else:
        data = tile_bytes(_rows(store, layer, tile, prefix), tile, layer)
    return VectorTile(data, hashlib.sha256(data).hexdigest()[:32], public=principal.is_public)


def tile_min_zoom(layer_name: str) -> int:
    """The first zoom at which ``layer_name``'s tiles hold features (below it they are empty).

    For map clients (``minZoom``), so that a browser does not ask for tiles that are empty by rule.
    """
    return tile_layer(layer_name).min_zoom


def _is_postgis(store: Store) -> bool:
    from gridmap.store.postgis import PostGISStore

    return isinstance(store, PostGISStore)


__all__ = ["MEDIA_TYPE", "VectorTile", "tile_min_zoom", "vector_tile"]
