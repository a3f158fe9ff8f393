"""The hierarchy map of the caller's area, embedded for a district and tiled for a city.

Why one function for the home page and the dashboard: both show "the boundaries and grids I may
see", and both must stay small whatever the size of the city. The rows are counted first from an
attribute-only read (no geometry); above ``settings.tiled_map_min_grids`` visible grids only the
districts are embedded and streets, communities and grids come from ``/tiles`` (scoped there by
the same rules), unless the basemap needs GCJ-02 overlays (AMap), which tiles in WGS84 cannot give.
"""

from __future__ import annotations

from collections.abc import Callable

import folium
import pandas as pd
from flask import request

from gridmap.config import Settings
from gridmap.model import AreaLevel
from gridmap.portal.maps.basemaps import basemap_from_settings
from gridmap.portal.maps.hierarchy import hierarchy_map
from gridmap.portal.maps.tiled import city_tiles_root
from gridmap.services.hierarchy_view import (
    HierarchyCounts,
    current_areas,
    hierarchy_attributes,
    hierarchy_counts,
    hierarchy_frames,
)
from gridmap.store import Store

#: Keeps the rows of a frame (with a ``code`` column) that the caller may see.
Scope = Callable[[pd.DataFrame], pd.DataFrame]


def area_map(store: Store, settings: Settings, lang: str, scope: Scope) -> tuple[folium.Map, HierarchyCounts]:
    """The map of what ``scope`` lets through, and the counts for the page header."""
    basemap = basemap_from_settings(settings, lang=lang)
    area_rows, grid_rows = (scope(frame) for frame in hierarchy_attributes(store))
    counts = hierarchy_counts(area_rows, grid_rows)
    tiles_root = city_tiles_root(counts.grids, settings, basemap, script_root=request.script_root)  # SCRIPT_NAME
    if tiles_root is not None:  # a city: the districts embedded, everything below them from /tiles
        areas, grids = scope(current_areas(store, level=AreaLevel.DISTRICT)), None
    else:
        areas, grids = (scope(frame) for frame in hierarchy_frames(store))
    m = hierarchy_map(
        areas,
        grids,
        basemap=basemap,
        lang=lang,
        band=settings.household_band,
        band_of=settings.band_for_community,
        tiles_root=tiles_root,
    )
    return m, counts
