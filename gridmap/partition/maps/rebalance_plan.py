"""A before/after Folium map of a rebalance plan, for the planner who decides whether to stage it.

Three layers: the grids **before** (dashed outlines), the grids **after** (filled by households on the
band's scale; new grids outlined blue, grids still outside the band outlined red) and the **moved
blocks** (orange). Tooltips show code, name, households and what happened to the grid. Every string
from data is escaped (``preview.escape``). Pure: plan in, ``folium.Map`` out; no tile layer, so an HTML
file written with the vendored assets opens offline.
"""

from __future__ import annotations

from typing import Any

import branca.colormap as cm
import folium
import geopandas as gpd
from branca.element import Figure
from shapely.geometry import mapping

from gridmap.partition.maps.preview import escape
from gridmap.partition.rebalance.plan import MOVED, NEW_CODE, OLD_CODE, RebalancePlan

BEFORE_COLOUR = "#555555"
NEW_COLOUR = "#2166ac"
OUT_OF_BAND_COLOUR = "#d7191c"
MOVED_COLOUR = "#ff7f00"


def _status_of(plan: RebalancePlan) -> dict[str, dict[str, Any]]:
    return {str(g["code"]): g for g in plan.report["grids"]}


def _after_style(row: Any, status: dict[str, Any], colormap: cm.LinearColormap, band_ok: bool) -> dict[str, Any]:
    new = status.get("status") == "new"
    colour = OUT_OF_BAND_COLOUR if not band_ok else (NEW_COLOUR if new else BEFORE_COLOUR)
    return {"fillColor": colormap(float(row["households"] or 0)), "fillOpacity": 0.5, "color": colour,
            "weight": 3 if (new or not band_ok) else 1.5}  # fmt: skip


def map_from_plan(plan: RebalancePlan, *, title: str | None = None) -> folium.Map:
    """Before, after and moved blocks of ``plan`` on one map (lon/lat)."""
    before = plan.before.to_crs(4326)
    after = plan.after.to_crs(4326)
    minx, miny, maxx, maxy = (float(v) for v in after.total_bounds)
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], tiles=None, zoom_start=15, control_scale=True)
    colormap = cm.LinearColormap(["#ffffcc", "#41b6c4", "#253494"], vmin=0, vmax=max(plan.band.max, 1),
                                 caption="households per grid (after)")  # fmt: skip
    statuses = _status_of(plan)
    layer_before = folium.FeatureGroup(name="before", show=True)
    for _, row in before.iterrows():
        folium.GeoJson(
            mapping(row.geometry),
            style_function=lambda _f: {"fill": False, "color": BEFORE_COLOUR, "weight": 2, "dashArray": "6 4"},
            tooltip=folium.Tooltip(escape(f"before: {row['code']} {row['name']} · {row['households']}")),
        ).add_to(layer_before)
    layer_after = folium.FeatureGroup(name="after")
    for _, row in after.iterrows():
        status = statuses.get(str(row["code"]), {})
        band_ok = status.get("in_band_after") is not False
        style = _after_style(row, status, colormap, band_ok)
        text = (f"after: {row['code']} {row['name']} · {row['households']} households"
                f" ({status.get('status', row['kind'])})")  # fmt: skip
        folium.GeoJson(mapping(row.geometry), style_function=lambda _f, s=style: s,
                       tooltip=folium.Tooltip(escape(text))).add_to(layer_after)  # fmt: skip
        spot = row.geometry.representative_point()
        folium.Marker([spot.y, spot.x], icon=folium.DivIcon(
            html=f"<div class='gm-rebalance-label' style='font:12px sans-serif;text-align:center;"
                 f"transform:translate(-50%,-50%);white-space:nowrap'>{escape(str(row['code'])[-3:])}<br>"
                 f"{escape(row['households'])}</div>")).add_to(layer_after)  # fmt: skip
    layer_after.add_to(m)
    layer_before.add_to(m)
    _moved_layer(plan.units).add_to(m)
    colormap.add_to(m)
    root = m.get_root()
    if title and isinstance(root, Figure):
        root.html.add_child(folium.Element(f"<h3 style='margin:4px'>{escape(title)}</h3>"))
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def _moved_layer(units: gpd.GeoDataFrame) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="moved blocks")
    moved = units.loc[units[MOVED]].to_crs(4326)
    for _, row in moved.iterrows():
        text = f"{row['households']} households: {row[OLD_CODE]} → {row[NEW_CODE]}"
        folium.GeoJson(
            mapping(row.geometry),
            style_function=lambda _f: {"fillColor": MOVED_COLOUR, "fillOpacity": 0.6, "color": MOVED_COLOUR,
                                       "weight": 1},
            tooltip=folium.Tooltip(escape(text)),
        ).add_to(group)
    return group
