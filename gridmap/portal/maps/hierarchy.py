"""Pure Folium map builders: frames in, ``folium.Map`` out (no Flask, no store, no request).

Security rule: every string that comes from data (names, codes...) is ``html.escape``-d before it
enters a feature's properties, because Folium's GeoJsonTooltip/GeoJsonPopup insert property values
into the page as HTML. The raw value never reaches the page, so a name like
``<img src=x onerror=alert(1)>`` shows as text.

Coordinates: frames come from the store in lon/lat (EPSG:4326, or 4490 which equals it at metre
level). Overlays are drawn in the basemap's datum (GCJ-02 for AMap, see ``basemaps``) and rounded
to 1e-6 degrees (about 0.1 m) to keep the embedded GeoJSON small.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from jinja2 import Template
from shapely.geometry import mapping

from gridmap.config import HouseholdBand
from gridmap.errors import ValidationError
from gridmap.model import ADMIN_LEVELS, AreaLevel, GridKind
from gridmap.portal.i18n.translator import Translator
from gridmap.portal.maps.basemaps import Basemap, add_basemap
from gridmap.portal.maps.style import (
    LEVEL_STYLES,
    CompactOnSmallScreens,
    HouseholdScale,
    Legend,
    SyntheticNotice,
    grid_style,
    legend_html,
    scale_from_households,
)
from gridmap.portal.maps.tiled import TiledPopup, tiled_area_layer, tiled_grid_layer
from gridmap.schema import AREAS_SPEC, GRIDS_SPEC

# Column names, checked against the schema contract at import time.
CODE, NAME, LEVEL, HOUSEHOLDS = (AREAS_SPEC.column(c).name for c in ("code", "name", "level", "households"))
KIND = GRIDS_SPEC.column("kind").name
SYNTHETIC = AREAS_SPEC.column("synthetic").name
COMMUNITY_CODE = GRIDS_SPEC.column("community_code").name
#: The band of a community (or grid) code, e.g. ``Settings.band_for_community``.
BandOf = Callable[[str | None], HouseholdBand]
#: Stands for "dedicated grids present" in the set of bands a grid layer reports to the legend.
DEDICATED_MARK = HouseholdBand("dedicated", 1, 1, 1)
#: CSS class of every SVG path of a layer, so pages and browser tests can find them.
LAYER_CLASS: Mapping[AreaLevel, str] = MappingProxyType(
    {**{level: f"gm-area gm-{level.value}" for level in ADMIN_LEVELS}, AreaLevel.GRID: "gm-grid"}
)
PROFESSIONAL_CLASS = "gm-grid-professional"
#: Leaflet panes: grids under the boundary lines (overlayPane is 400, markers 600). The boundary pane
#: lets clicks through except on the lines themselves, so a click inside a grid reaches the grid.
GRID_PANE, BOUNDARY_PANE = "gm-grids", "gm-boundaries"
PANE_Z_INDEX: Mapping[str, int] = MappingProxyType({GRID_PANE: 410, BOUNDARY_PANE: 420})
#: Rounding of displayed coordinates, degrees (1e-6 degrees is about 0.1 m).
DISPLAY_PRECISION_DEG = 1e-6
#: Vertices closer than this to the simplified line are dropped for display, degrees (about 0.5 m,
#: under a pixel up to zoom 18); the embedded GeoJSON is mostly coordinates, so this is its size.
DISPLAY_SIMPLIFY_DEG = 4.5e-6
#: Centre and zoom of an empty map (mainland China).
EMPTY_CENTRE_LATLON = (35.0, 105.0)
EMPTY_ZOOM = 4
_ID = "__gm_id"


def escape_text(value: Any, *, unknown: str = "—") -> str:
    """A data value as escaped HTML text; None, NaN and pandas NA become ``unknown``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return unknown
    if isinstance(value, float) and math.isnan(value):
        return unknown
    return html.escape(str(value), quote=True)


def _households(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _lonlat_frame(frame: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """The frame in lon/lat degrees; 4490 (CGCS2000) is taken as equal to 4326 (metre level)."""
    if frame.crs is None:
        raise ValidationError(f"{what}: the frame has no CRS; the portal needs lon/lat (EPSG:4326 or 4490)")
    epsg = frame.crs.to_epsg()
    if epsg in (4326, 4490):
        return frame
    return frame.to_crs(4326)


def display_geometries(geoms: Sequence[Any] | np.ndarray, basemap: Basemap) -> np.ndarray:
    """Stored lon/lat geometries as drawn on ``basemap``: shifted to GCJ-02 for AMap, simplified, rounded."""
    arr = np.asarray(geoms, dtype=object)
    if basemap.overlay_crs != "EPSG:4326" and len(arr):
        from gridmap.crs import transform_geometries  # only the AMap basemap needs it

        arr = np.asarray(transform_geometries(arr, "EPSG:4326", basemap.overlay_crs), dtype=object)
    arr = shapely.simplify(arr, DISPLAY_SIMPLIFY_DEG, preserve_topology=True)
    return np.asarray(shapely.set_precision(arr, DISPLAY_PRECISION_DEG, mode="pointwise"), dtype=object)


def _feature_collection(geoms: np.ndarray, props: list[dict[str, Any]]) -> dict[str, Any]:
    features = [
        {"type": "Feature", "id": f"f{i}", "properties": p, "geometry": mapping(g)}
        for i, (g, p) in enumerate(zip(geoms, props, strict=True))
        if g is not None and not g.is_empty
    ]
    return {"type": "FeatureCollection", "features": features}


def _style_by_id(styles: dict[str, dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda feature: styles[feature["id"]]


def _area_layer(
    frame: gpd.GeoDataFrame, level: AreaLevel, basemap: Basemap, tr: Translator
) -> folium.GeoJson:
    geoms = display_geometries(frame.geometry.values, basemap)
    unknown = tr("value.unknown")
    props = [
        {
            CODE: escape_text(row.get(CODE), unknown=unknown),
            NAME: escape_text(row.get(NAME), unknown=unknown),
            HOUSEHOLDS: tr.number(_households(row.get(HOUSEHOLDS))),
        }
        for row in frame.drop(columns=frame.geometry.name).to_dict("records")
    ]
    fields = [NAME, CODE, HOUSEHOLDS]
    aliases = [html.escape(tr(f"field.{f}")) for f in fields]
    return folium.GeoJson(
        _feature_collection(geoms, props),
        name=html.escape(tr(f"layer.{level.value}")),
        style_function=lambda _f, s=LEVEL_STYLES[level]: dict(s),
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True),
        className=LAYER_CLASS[level],
        pane=BOUNDARY_PANE,
        smooth_factor=0.5,
    )


def _grid_layer(
    frame: gpd.GeoDataFrame,
    basemap: Basemap,
    tr: Translator,
    *,
    band: HouseholdBand | None,
    band_of: BandOf | None = None,
    professional: bool,
) -> tuple[folium.GeoJson, set[HouseholdBand]]:
    """The grid layer; also returns the bands in use (for the legend; dedicated grids count as a band-less kind).

    With ``band_of`` each grid is judged by its own community's band (villages have a smaller one,
    P-5) and coloured by where it falls in that band; otherwise every grid by ``band``.
    """
    households = [_households(v) for v in frame.get(HOUSEHOLDS, [None] * len(frame))]
    shared_scale = scale_from_households(households, band=band)
    scales: dict[HouseholdBand, HouseholdScale] = {}
    used: set[HouseholdBand] = set()
    kinds = [str(k) for k in frame.get(KIND, [GridKind.BASE.value] * len(frame))]
    geoms = display_geometries(frame.geometry.values, basemap)
    unknown = tr("value.unknown")
    props: list[dict[str, Any]] = []
    styles: dict[str, dict[str, Any]] = {}
    records = frame.drop(columns=frame.geometry.name).to_dict("records")
    for i, (row, hh, kind) in enumerate(zip(records, households, kinds, strict=True)):
        dedicated = kind == GridKind.DEDICATED.value
        row_band = band_of(str(row.get(COMMUNITY_CODE) or row.get(CODE) or "")) if band_of else band
        if row_band is None:
            scale = shared_scale
        else:
            scale = scales.setdefault(row_band, scale_from_households([], band=row_band))
            if not (dedicated or professional):
                used.add(row_band)
        violation = None if dedicated or professional else scale.violation(hh)
        styles[f"f{i}"] = grid_style(scale.colour(hh), dedicated=dedicated, violation=violation is not None,
                                     professional=professional)
        props.append(
            {
                CODE: escape_text(row.get(CODE), unknown=unknown),
                NAME: escape_text(row.get(NAME), unknown=unknown),
                HOUSEHOLDS: tr.number(hh),
                KIND: html.escape(tr(f"kind.{kind}") if kind in GridKind._value2member_map_ else kind),
                "band": html.escape(_band_text(tr, row_band, violation, dedicated=dedicated or professional)),
            }
        )
    layer = _grid_geojson(_feature_collection(geoms, props), styles, tr, professional=professional)
    if any(k == GridKind.DEDICATED.value for k in kinds):
        used.add(DEDICATED_MARK)
    return layer, used


def _grid_geojson(collection: dict[str, Any], styles: dict[str, dict[str, Any]], tr: Translator, *,
                  professional: bool) -> folium.GeoJson:
    """The Folium layer of prepared grid features: per-feature style, tooltip (name, households), popup."""
    fields = [NAME, CODE, HOUSEHOLDS, KIND, "band"]
    aliases = [html.escape(tr(f"field.{f}")) for f in fields]
    tooltip_fields = [NAME, HOUSEHOLDS]
    tooltip_aliases = [html.escape(tr(f"field.{f}")) for f in tooltip_fields]
    return folium.GeoJson(
        collection,
        name=html.escape(tr("layer.professional" if professional else "layer.grid")),
        style_function=_style_by_id(styles),
        highlight_function=lambda _f: {"weight": 3, "fillOpacity": 0.75},
        tooltip=folium.GeoJsonTooltip(fields=tooltip_fields, aliases=tooltip_aliases, sticky=True),
        popup=folium.GeoJsonPopup(fields=fields, aliases=aliases),
        className=PROFESSIONAL_CLASS if professional else LAYER_CLASS[AreaLevel.GRID],
        pane=GRID_PANE,
        show=not professional,
        smooth_factor=0.5,
    )


def _band_text(tr: Translator, band: HouseholdBand | None, violation: str | None, *, dedicated: bool) -> str:
    if band is None or dedicated:
        return tr("band.none")
    params = {"min": tr.number(band.min_households), "max": tr.number(band.max_households)}
    return tr(f"band.{violation}" if violation else "band.in", **params)


def _any_synthetic(*frames: gpd.GeoDataFrame | None) -> bool:
    """True when any row of the frames is labelled ``synthetic`` (demo data)."""
    return any(f is not None and SYNTHETIC in f.columns and f[SYNTHETIC].fillna(False).astype(bool).any()
               for f in frames)


def _bounds(frames: Sequence[gpd.GeoDataFrame], basemap: Basemap) -> list[list[float]] | None:
    boxes = [f.total_bounds for f in frames if len(f) and not f.geometry.is_empty.all()]
    if not boxes:
        return None
    arr = np.array(boxes)
    corners = shapely.box(arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max())
    minx, miny, maxx, maxy = display_geometries([corners], basemap)[0].bounds
    return [[miny, minx], [maxy, maxx]]


def hierarchy_map(
    areas_gdf: gpd.GeoDataFrame,
    grids_gdf: gpd.GeoDataFrame | None = None,
    *,
    basemap: Basemap,
    lang: str,
    band: HouseholdBand | None = None,
    band_of: BandOf | None = None,
    tiles_root: str | None = None,
) -> folium.Map:
    """A map with a layer per level (district, streets, communities, grids) and a legend.

    With ``tiles_root`` (e.g. ``/tiles``) only ``areas_gdf`` (the districts, a few polygons) is
    embedded; streets, communities and grids come from the vector tiles under it, so the page stays
    small whatever the size of the city (``grids_gdf`` is then ignored).

    ``areas_gdf`` has the ``areas`` layer columns (code, name, level, households); ``grids_gdf`` the
    ``grids`` columns (code, name, kind, households). Grids are coloured by households, and with a
    ``band`` the grids outside it are outlined in red dashes (``band_of(code)`` gives each community its
    own band, e.g. ``Settings.band_for_community``: villages 100-300); professional grids (sector overlays)
    go to their own layer, hidden at first because they overlap the base grids by design.
    The map fits the data's bounds; with no data it shows mainland China.
    """
    tr = Translator(lang)
    areas = _lonlat_frame(areas_gdf, "areas")
    grids = _lonlat_frame(grids_gdf, "grids") if grids_gdf is not None else None
    m = folium.Map(location=EMPTY_CENTRE_LATLON, zoom_start=EMPTY_ZOOM, tiles=None)
    add_basemap(m, basemap)
    for pane, z_index in PANE_Z_INDEX.items():
        folium.map.CustomPane(pane, z_index=z_index, pointer_events=False).add_to(m)
    _MapChrome(m.get_name(), basemap.background).add_to(m)
    for level in ADMIN_LEVELS:
        part = areas[areas[LEVEL] == level.value] if len(areas) else areas
        if len(part):
            _area_layer(part, level, basemap, tr).add_to(m)
    if tiles_root is not None:
        _add_tiled_layers(m, tr, band=band, root=tiles_root)
    elif grids is not None and len(grids):
        is_prof = grids.get(KIND, gpd.pd.Series("", index=grids.index)) == GridKind.PROFESSIONAL.value
        base_layer, used = _grid_layer(grids[~is_prof], basemap, tr, band=band, band_of=band_of, professional=False)
        base_layer.add_to(m)
        if is_prof.any():
            _grid_layer(grids[is_prof], basemap, tr, band=band, band_of=band_of, professional=True)[0].add_to(m)
        main = band if band is not None else next((b for b in used if b is not DEDICATED_MARK), None)
        scale = scale_from_households([_households(v) for v in grids.get(HOUSEHOLDS, [])], band=main)
        others = sorted((b for b in used if b is not DEDICATED_MARK and b != main), key=lambda b: b.min_households)
        Legend(legend_html(scale, tr, has_dedicated=DEDICATED_MARK in used, other_bands=others)).add_to(m)
    if _any_synthetic(areas, grids):
        SyntheticNotice(tr("footer.synthetic")).add_to(m)
    control = folium.LayerControl(collapsed=False, position="topright")
    control.add_to(m)
    CompactOnSmallScreens(control).add_to(m)
    bounds = _bounds([f for f in (areas, grids) if f is not None], basemap)
    if bounds is not None:
        m.fit_bounds(bounds)
    return m


def _add_tiled_layers(m: folium.Map, tr: Translator, *, band: HouseholdBand | None, root: str) -> None:
    """Streets, communities and grids from vector tiles, a click popup for grids, the band's legend."""
    for level in (AreaLevel.STREET, AreaLevel.COMMUNITY):
        tiled_area_layer(level, tr, root=root).add_to(m)
    scale = scale_from_households([], band=band)
    grids = tiled_grid_layer(scale, tr, root=root)
    grids.add_to(m)
    TiledPopup(grids, m.get_name(), tr).add_to(m)
    Legend(legend_html(scale, tr, has_dedicated=False)).add_to(m)


class _MapChrome(folium.MacroElement):
    """Background colour (what shows where no tiles are: offline, or basemap none) and a metric scale."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>#{{ this.map_name }} { background: {{ this.colour }}; }</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, metric: true}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, map_name: str, colour: str) -> None:
        super().__init__()
        self._name = "GridmapChrome"
        self.map_name = map_name
        self.colour = colour
