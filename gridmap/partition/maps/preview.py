"""A Folium preview of a partition result, for a planner to eyeball before anything is staged.

Base grids are filled by households (pale = few, dark = many, on the band's scale); dedicated grids
get their own colour with a dashed outline; grids outside the band are outlined red; lines between
grids that follow no road (cuts made by splitting a block) are drawn dashed. Every popup and tooltip
shows code, name, households and flags; every user-supplied string is escaped with ``html.escape``
because names come from input files. Pure: data in, ``folium.Map`` out (the CLI writes it to HTML
with the vendored offline assets; no tile layer is added, so nothing is fetched from the internet).
"""

from __future__ import annotations

import html
from typing import Any

import branca.colormap as cm
import folium
import geopandas as gpd
import shapely
from branca.element import Figure
from shapely.geometry import mapping

from gridmap.model import GridKind
from gridmap.partition.engine import PartitionResult

BAND_VIOLATION_COLOUR = "#d7191c"
DEDICATED_COLOUR = "#7b3294"
OUTLINE_COLOUR = "#333333"
CUT_COLOUR = "#000000"
_OUT_OF_BAND = ("under_min", "over_max")


def escape(value: Any) -> str:
    """HTML-escape a user string; also backticks and ``$`` because Folium pastes popup and tooltip
    HTML into JavaScript template literals, where `` ` `` or ``${`` would break out."""
    return html.escape(str(value)).replace("`", "&#96;").replace("$", "&#36;")


def _popup_html(row: Any) -> str:
    """Code, name, households, kind and flag messages of a grid, escaped."""
    flags = "".join(f"<li>{escape(f.get('message', f.get('code', '')))}</li>" for f in row["flags"] or [])
    parts = [
        f"<b>{escape(row['name'])}</b>",
        escape(row["code"]),
        f"households: {escape(row['households'])}",
        f"kind: {escape(row['kind'])}" + (f" ({escape(row['subtype'])})" if row["subtype"] else ""),
    ]
    text = "<br>".join(parts)
    return text + (f"<ul>{flags}</ul>" if flags else "")


def _style(row: Any, colormap: cm.LinearColormap) -> dict[str, Any]:
    """Fill by households for base grids; distinct fill for dedicated; red outline out of band."""
    codes = {f.get("code") for f in row["flags"] or []}
    dedicated = row["kind"] == GridKind.DEDICATED.value
    out_of_band = bool(codes.intersection(_OUT_OF_BAND))
    return {
        "fillColor": DEDICATED_COLOUR if dedicated else colormap(float(row["households"] or 0)),
        "fillOpacity": 0.55,
        "color": BAND_VIOLATION_COLOUR if out_of_band else (DEDICATED_COLOUR if dedicated else OUTLINE_COLOUR),
        "weight": 3 if out_of_band else 1.5,
        "dashArray": "6 4" if dedicated else None,
    }


def map_from_result(result: PartitionResult, *, title: str | None = None) -> folium.Map:
    """A Folium map of ``result`` (grids in the storage CRS, lon/lat)."""
    grids = result.grids.to_crs(4326)
    minx, miny, maxx, maxy = (float(v) for v in grids.total_bounds)
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], tiles=None, zoom_start=15, control_scale=True)
    colormap = cm.LinearColormap(
        ["#ffffcc", "#41b6c4", "#253494"], vmin=0, vmax=max(result.band.max, 1), caption="households per grid"
    )
    layer = folium.FeatureGroup(name="grids")
    for _, row in grids.iterrows():
        style = _style(row, colormap)
        feature = folium.GeoJson(
            mapping(row.geometry),
            style_function=lambda _feature, style=style: style,
            tooltip=folium.Tooltip(escape(f"{row['name']} · {row['households']}")),
        )
        feature.add_child(folium.Popup(_popup_html(row), max_width=320))
        layer.add_child(feature)
    layer.add_to(m)
    _add_cut_lines(m, result.grid_edges)
    colormap.add_to(m)
    root = m.get_root()
    if title and isinstance(root, Figure):
        root.html.add_child(folium.Element(f"<h3 style='margin:4px'>{escape(title)}</h3>"))
    folium.LayerControl().add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def _add_cut_lines(m: folium.Map, edges: gpd.GeoDataFrame) -> None:
    """Dashed lines where grids meet off-road (cut through a block), so reviewers check them."""
    if len(edges) == 0:
        return
    cuts = edges[edges["road_class"].isna()].to_crs(4326)
    group = folium.FeatureGroup(name="cuts off roads")
    for geom in cuts.geometry:
        for part in shapely.get_parts(shapely.line_merge(geom) if geom.geom_type != "LineString" else geom):
            if part.geom_type != "LineString":
                continue
            coords = [[y, x] for x, y in part.coords]
            folium.PolyLine(coords, color=CUT_COLOUR, weight=2, dash_array="4 6", opacity=0.9).add_to(group)
    group.add_to(m)
