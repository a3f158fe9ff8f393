"""The tile layers: what each ``/tiles/{layer}/...`` tile holds and who may see it.

Public layers (the boundaries: streets, communities, the active grids) go to everyone; a signed-in
caller gets the part in their own area, as on every other API. Scoped layers (buildings, incidents,
the workers' latest positions) need a key or session and hold only rows whose area column lies in
the caller's area. Below ``min_zoom`` a tile is empty (a city's 800,000 buildings are not drawn at
zoom 8); incidents below ``aggregate_below`` are counted per cell of ``cell_px`` tile pixels
instead of sent one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

from gridmap import schema
from gridmap.errors import NotFoundError


@dataclass(frozen=True)
class TileLayer:
    name: str
    #: The store layer it reads.
    layer: str
    #: Properties put into each feature (besides the geometry).
    properties: tuple[str, ...]
    #: The column whose area code scopes a row.
    area_column: str
    public: bool
    min_zoom: int = 0
    #: For areas: which level; for grids: only the active generations.
    level: str | None = None
    active_grids: bool = False
    #: Below this zoom, points are aggregated into counts per cell (0: never).
    aggregate_below: int = 0
    cell_px: int = 64


TILE_LAYERS: dict[str, TileLayer] = {t.name: t for t in (
    TileLayer("streets", schema.AREAS, ("code", "name", "households"), "code", True, 6, level="street"),
    TileLayer("communities", schema.AREAS, ("code", "name", "households", "parent_code"), "code", True, 8,
              level="community"),
    TileLayer("grids", schema.GRIDS, ("code", "name", "kind", "households", "community_code"), "code", True, 10,
              active_grids=True),
    TileLayer("buildings", schema.BUILDINGS, ("building_id", "name", "floors", "households", "community_code"),
              "community_code", False, 14),
    TileLayer("incidents", schema.INCIDENTS, ("incident_id", "category", "status", "urgent", "grid_code"),
              "community_code", False, 8, aggregate_below=15),
    TileLayer("positions", schema.LATEST_POSITIONS, ("worker_id", "grid_code", "fix_time"), "grid_code", False, 8),
)}  # fmt: skip


def tile_layer(name: str) -> TileLayer:
    found = TILE_LAYERS.get(name)
    if found is None:
        raise NotFoundError(f"no tile layer {name!r}; tile layers: {', '.join(TILE_LAYERS)}", code="unknown_layer")
    return found


__all__ = ["TILE_LAYERS", "TileLayer", "tile_layer"]
