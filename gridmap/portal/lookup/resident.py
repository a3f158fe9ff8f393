"""The resident page (居民查询): find my grid and my grid worker by address, location or a tap on the map.

Public, mobile-first (R-28, R-30, G-17: kiosks and phones). The page is a template plus
``static/js/resident.js`` talking to ``/api/v1/lookup``; everything it shows comes from the public
lookup answer (worker name, role, phone, photo, duties; nothing about residents). ``?grid=CODE`` (the
QR code on the printed grid card) opens the page on that grid, rendered into the page as JSON so the
first paint needs no extra request. Strings come from the portal catalogues (zh default, en).

The community outlines drawn for orientation are the caller's (all for the public, the account's
area when signed in): one ``/api/v1/areas?level=community`` GeoJSON for a district, but above
``Settings.tiled_map_min_grids`` visible grids (the switch of every portal map,
``portal.maps.tiled.city_tiles_root``) the ``/tiles/communities`` vector tiles, scoped by the same
rule: a city's 1,500-3,000 communities as one GeoJSON are megabytes on a resident's phone.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from gridmap import schema
from gridmap.codes import level_of_code
from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.model import AreaLevel
from gridmap.portal.auth import current_principal
from gridmap.portal.i18n.translator import current_language, translate
from gridmap.portal.lookup.api import lookup_service
from gridmap.portal.lookup.photos import with_public_photos
from gridmap.portal.maps.basemaps import Basemap, basemap_from_settings
from gridmap.portal.maps.tiled import city_tiles_root, tile_source
from gridmap.portal.state import portal_state

bp = Blueprint("resident", __name__)
_SYNTHETIC = schema.AREAS_SPEC.column("synthetic").name

#: Catalogue keys the script needs (sent to the browser as JSON in the page).
SCRIPT_MESSAGES: tuple[str, ...] = (
    "resident.grid", "resident.code", "resident.community", "resident.street", "resident.district",
    "resident.workers", "resident.leader", "resident.role.grid_leader", "resident.role.full_time",
    "resident.role.part_time", "resident.phone", "resident.duties", "resident.centre", "resident.centre_address",
    "resident.hours", "resident.overlays", "resident.candidates", "resident.no_match", "resident.outside",
    "resident.outside_far", "resident.locating", "resident.geo_denied", "resident.geo_unsupported",
    "resident.error", "resident.no_workers", "resident.photo_alt", "resident.searching", "resident.swapped",
    "resident.matched",
)


def _map_config(lang: str) -> dict[str, Any]:
    """Centre, basemap tiles and the context outlines for Leaflet. AMap tiles need GCJ-02 overlays; none then.

    The outlines switch to tiles on the grids visible to the caller, as both their requests are
    scoped (the browser sends the same session cookie with either), counted by the lookup index in
    memory: the number ``services.hierarchy_view.base_grid_count`` gives the other pages, without
    its store read (0.1-0.3 s at 60,000 grids) on every view of this public page.
    """
    state = portal_state()
    index = lookup_service().index()
    bounds = index.bounds
    principal = current_principal()
    visible = index.base_grid_count("" if principal.is_public else principal.area_code)
    basemap = basemap_from_settings(state.settings, lang=lang)
    tiles = [] if basemap.overlay_crs != "EPSG:4326" else [
        {"url": t.url, "attribution": t.attribution, "subdomains": t.subdomains or "abc", "maxZoom": t.max_zoom}
        for t in basemap.tiles
    ]
    return {
        "bounds": None if bounds is None else [[bounds[1], bounds[0]], [bounds[3], bounds[2]]],
        "tiles": tiles,
        "background": basemap.background,
        "lookupUrl": "/api/v1/lookup",
        **_context(visible, state.settings, basemap),
    }


def _context(visible_grids: int, settings: Settings, basemap: Basemap) -> dict[str, Any]:
    """The community outlines: ``contextTiles`` (a ``tile_source``) for a city, else ``contextUrl`` (one GeoJSON)."""
    root = city_tiles_root(visible_grids, settings, basemap, script_root=request.script_root)
    if root is None:
        return {"contextUrl": "/api/v1/areas?level=community"}
    return {"contextTiles": tile_source("communities", root)}


def _initial_grid() -> dict[str, Any] | None:
    code = request.args.get("grid", "").strip()
    if not code:
        return None
    if level_of_code(code) is not AreaLevel.GRID:
        raise ValidationError(f"grid={code!r}: a grid code has 15 digits")
    return with_public_photos({"ok": True, **lookup_service().result_for_grid(code).to_dict(include_geometry=True)})


@bp.get("/resident")
def resident_page() -> str:
    """The page; ``?grid=CODE`` preselects a grid (404 page for an unknown or retired grid)."""
    lang = current_language()
    return render_template(
        "lookup/resident.html",
        initial=_initial_grid(),
        config=_map_config(lang),
        messages={key: translate(key, lang) for key in SCRIPT_MESSAGES},
        synthetic=_shows_synthetic_data(),
    )


def _shows_synthetic_data() -> bool:
    """True when the areas are (partly) synthetic demo data: the page then says so (issue 2, item 8)."""
    areas = portal_state().store.read(schema.AREAS, columns=[_SYNTHETIC])
    return bool(len(areas)) and bool(areas[_SYNTHETIC].fillna(False).astype(bool).any())
