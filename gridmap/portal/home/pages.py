"""HTML pages. For now the home page: the whole hierarchy on one full-height map.

Pages stay thin: read through ``gridmap.services.hierarchy_view``, build the map with the pure builders in
``gridmap.portal.maps.hierarchy``, render a template that extends ``base.html``.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from gridmap.model import AreaLevel
from gridmap.portal.auth import current_principal, public_layer_rows
from gridmap.portal.i18n.translator import current_language
from gridmap.portal.maps.assets import fragments_from_map
from gridmap.portal.maps.basemaps import basemap_from_settings
from gridmap.portal.maps.hierarchy import hierarchy_map
from gridmap.portal.state import csp_nonce, portal_state
from gridmap.services.hierarchy_view import current_areas, hierarchy_attributes, hierarchy_counts, hierarchy_frames

bp = Blueprint("pages", __name__)


def static_root() -> str:
    """The URL prefix of /static for this request (honours a SCRIPT_NAME mount point)."""
    return url_for("static", filename="").rstrip("/")


@bp.get("/")
def home() -> str:
    """The hierarchy map (districts, streets, communities, active grids) with counts in the header.

    Scope-aware: the public sees the public layers everywhere, a signed-in account its own area.
    """
    state = portal_state()
    lang = current_language()
    basemap = basemap_from_settings(state.settings, lang=lang)
    principal = current_principal()  # the public sees every public layer, an account its own area
    area_rows, grid_rows = hierarchy_attributes(state.store)
    area_rows = public_layer_rows(area_rows, principal)
    grid_rows = public_layer_rows(grid_rows, principal)
    tiled = len(grid_rows) > state.settings.tiled_map_min_grids and basemap.overlay_crs == "EPSG:4326"
    if tiled:  # a city: the districts embedded, everything below them from /tiles
        areas = public_layer_rows(current_areas(state.store, level=AreaLevel.DISTRICT), principal)
        grids = None
    else:
        areas, grids = hierarchy_frames(state.store)
        areas, grids = public_layer_rows(areas, principal), public_layer_rows(grids, principal)
    m = hierarchy_map(
        areas,
        grids,
        basemap=basemap,
        lang=lang,
        band=state.settings.household_band,
        band_of=state.settings.band_for_community,
        tiles_root=request.script_root + "/tiles" if tiled else None,  # honours a SCRIPT_NAME mount point
    )
    fragments = fragments_from_map(m, static_url=static_root(), nonce=csp_nonce())
    return render_template(
        "index.html",
        map=fragments,
        counts=hierarchy_counts(area_rows, grid_rows),
        empty=len(area_rows) == 0 and len(grid_rows) == 0,
    )
