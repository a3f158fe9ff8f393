"""Analysis pages (研判分析, A-31..A-34, G-5, E-34): heatmap, hotspots, coverage and per-area statistics.

Each page is a GET form (so a result can be bookmarked and shared), an offline Folium map and a
table. The same request parsing, roles and area scope as the API (``analysis_api``): analysts,
command-centre staff and planners see their own area only; ``?area=`` narrows it.

Page size: the heat page never embeds more than ``heat.DEFAULT_BUDGET_POINTS`` points (incidents
summed into H3 cells above that), so 200,000 incidents still make a page of about 1-2 MB. For a
city (more than ``Settings.tiled_map_min_grids`` base grids in the analysed area, the switch of
every portal map) no grid or community geometry is embedded: choropleths of grids, communities
or streets come from ``/tiles`` with only each cell's class in the page, and the heat pages draw
the community outlines from tiles. Not switched, because no tile layer holds them: H3 and square
cells (computed per request) and estates on the statistics page; they stay embedded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from folium.map import Layer
from werkzeug.wrappers.response import Response as WerkzeugResponse

from gridmap import schema
from gridmap.model import AreaLevel
from gridmap.portal.analysis.api import (
    ANALYSIS_ROLES,
    analysis_area,
    analysis_principal,
    flag,
    hotspot_options,
    integer,
    period_arg,
    stats_level,
    web_cell_spec,
    window_args,
)
from gridmap.portal.analysis.cache import TtlCache
from gridmap.portal.analysis.maps import (
    BIN_COLOURS,
    NO_PATTERN_COLOUR,
    OUTLINE_STYLE,
    TiledCells,
    choropleth_map,
    emerging_colour,
    heat_map,
    quantile_colours,
    weekly_heat_map,
)
from gridmap.portal.auth import roles_required
from gridmap.portal.i18n.analysis import analysis_text
from gridmap.portal.i18n.incidents import incident_text
from gridmap.portal.i18n.translator import Translator, current_language
from gridmap.portal.maps.assets import MapFragments, fragments_from_map
from gridmap.portal.maps.basemaps import Basemap, basemap_from_settings
from gridmap.portal.maps.tiled import city_tiles_root, tiled_area_layer
from gridmap.portal.state import csp_nonce, portal_state
from gridmap.services.analysis import (
    COUNT_COLUMNS,
    TIME_COLUMN,
    HeatFrames,
    HeatLayers,
    communities_in_scope,
    coverage_from_store,
    emerging_from_store,
    filter_incidents,
    grids_in_scope,
    grids_without_worker,
    heat_layers,
    hotspots_from_store,
    incidents_in_scope,
    statistics_csv,
    stats_from_store,
    weekly_heat_frames,
)
from gridmap.services.hierarchy_view import base_grid_count

bp = Blueprint("analysis", __name__, url_prefix="/analysis")
HEAT_CACHE_KEY = "gridmap.analysis_heat_cache"
#: Rows shown in a result table (the API and CSV have them all).
TABLE_ROWS = 500
SUBNAV = ("heat_page", "hotspots_page", "coverage_page", "stats_page")
_SUBNAV_KEYS = {"heat_page": "nav.heat", "hotspots_page": "nav.hotspots", "coverage_page": "nav.coverage",
                "stats_page": "nav.stats"}
CELL_CHOICES = ("grids", "communities", "h3:8", "h3:9", "square:250", "square:500")
#: Incident columns the heat page reads (plus reported_at for a window or the weekly view).
HEAT_COLUMNS: tuple[str, ...] = ("category",)
#: The tile layer holding the cells of a hotspot cell kind / a statistics level (others have none: embedded).
CELL_TILE_LAYERS = {"grids": "grids", "communities": "communities"}
LEVEL_TILE_LAYERS = {"grid": "grids", "community": "communities", "street": "streets"}


@bp.app_context_processor
def _texts() -> dict[str, Any]:
    lang = current_language()
    return {"at": lambda key, **params: analysis_text(key, lang, **params)}


def _text(key: str, **params: Any) -> str:
    return analysis_text(key, current_language(), **params)


def _page(template: str, *, m: Any | None, **context: Any) -> str:
    """Render ``template`` with the map's fragments, the sub-navigation and the form's current values."""
    fragments = fragments_from_map(m, static_url=url_for("static", filename="").rstrip("/"), nonce=csp_nonce()) \
        if m is not None else MapFragments("", "", "")
    keep = {"area": request.args["area"]} if request.args.get("area") else {}
    subnav = [{"url": url_for(f"analysis.{name}", **keep), "label": _text(_SUBNAV_KEYS[name]),  # type: ignore[arg-type]
               "current": request.endpoint == f"analysis.{name}", "endpoint": name} for name in SUBNAV]
    return render_template(template, map=fragments, subnav=subnav, args=request.args, **context)


def _basemap() -> Basemap:
    return basemap_from_settings(portal_state().settings, lang=current_language())


def _tiles_root(store: Any, area: str) -> str | None:
    """``/tiles`` when the analysed area is a city (``city_tiles_root``: the home map's switch), else None."""
    return city_tiles_root(base_grid_count(store, area), portal_state().settings, _basemap(),
                           script_root=request.script_root)  # fmt: skip


def _tiled(store: Any, area: str, layer: str | None, codes: Any, labels: list[str], class_title: str
           ) -> TiledCells | None:  # fmt: skip
    """How to draw a choropleth from tiles (None: embed it), for cells of tile ``layer`` (None: no tiles)."""
    root = _tiles_root(store, area) if layer is not None else None
    if root is None or layer is None:
        return None
    return TiledCells(root, layer, [str(c) for c in codes], labels, class_title, Translator(current_language()))


def _bounds(frame: gpd.GeoDataFrame) -> tuple[float, ...] | None:
    if frame.empty:
        return None
    return tuple(float(v) for v in frame.total_bounds)


@bp.get("/")
@roles_required(*ANALYSIS_ROLES)
def index() -> WerkzeugResponse:
    return redirect(url_for("analysis.hotspots_page", **request.args.to_dict()))  # type: ignore[arg-type]


@dataclass(frozen=True)
class HeatData:
    """What the heat page shows, prepared once per area, filters and view (and cached, see analysis_cache)."""

    categories: list[str]
    incidents: int
    layers: HeatLayers | None
    frames: HeatFrames | None
    outline: gpd.GeoDataFrame
    bounds: tuple[float, ...] | None


def _heat_cache() -> TtlCache[HeatData]:
    cache = current_app.extensions.setdefault(HEAT_CACHE_KEY, TtlCache())
    assert isinstance(cache, TtlCache)
    return cache


def _prepare_heat(store: Any, area: str, window: dict[str, Any], view: str) -> HeatData:
    timed = view == "weekly" or window["start"] is not None or window["end"] is not None
    everything = incidents_in_scope(store, area_code=area, columns=HEAT_COLUMNS + ((TIME_COLUMN,) if timed else ()))
    categories = sorted(str(c) for c in everything["category"].dropna().unique())  # not a per-row Python loop
    incidents = filter_incidents(everything, source="incidents", **window)
    outline = communities_in_scope(store, area)
    bounds = _bounds(outline) if not outline.empty else _bounds(incidents)
    if view == "weekly":
        return HeatData(categories, len(incidents), None, weekly_heat_frames(incidents), outline, bounds)
    return HeatData(categories, len(incidents), heat_layers(incidents), None, outline, bounds)


@bp.get("/heat")
@roles_required(*ANALYSIS_ROLES)
def heat_page() -> str:
    """Heat layers by category (or the weekly animation) of the caller's area in the chosen window."""
    area = analysis_area(analysis_principal())
    store = portal_state().store
    window = window_args()
    view = "weekly" if request.args.get("view") == "weekly" else "layers"
    key = (area, tuple(window["categories"] or ()), window["start"], window["end"], view)
    data = _heat_cache().get_or_compute(key, store.count(schema.INCIDENTS),
                                        lambda: _prepare_heat(store, area, window, view))
    outline = _tiled_outline(store, area)
    if data.frames is not None:
        m = weekly_heat_map(data.frames, basemap=_basemap(), bounds=data.bounds, outline=data.outline,
                            outline_layer=outline)  # fmt: skip
        resolution = max((f.resolution or 0 for f in data.frames.frames), default=0) or None
    else:
        assert data.layers is not None
        m = heat_map(data.layers, basemap=_basemap(), text=_text, bounds=data.bounds, outline=data.outline,
                     outline_layer=outline)  # fmt: skip
        resolution = data.layers.all.resolution
    return _page("analysis/heat.html", m=m, view=view, categories=data.categories, incidents=data.incidents,
                 resolution=resolution)


def _tiled_outline(store: Any, area: str) -> Layer | None:
    """For a city, the area's community outlines from tiles (the same communities as ``communities_in_scope``)."""
    root = _tiles_root(store, area)
    if root is None:
        return None
    prefix = area[: AreaLevel.COMMUNITY.code_length] if len(area) == AreaLevel.GRID.code_length else area
    return tiled_area_layer(AreaLevel.COMMUNITY, Translator(current_language()), root=root, style=OUTLINE_STYLE,
                            code_prefix=prefix, control=False)  # fmt: skip


def _bin_label(b: int) -> str:
    return _text(f"bin.{int(b)}")


def _number(value: Any, decimals: int) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return Translator(current_language()).number(float(value), decimals=decimals)


def _emerging_view(store: Any, area: str) -> tuple[Any, Any, dict[str, Any]]:
    """(map, table rows frame, summary) of the emerging-hotspot categories."""
    result = emerging_from_store(store, cells=web_cell_spec(), period=period_arg(), area_code=area, **window_args())
    frame = result.frame
    pattern = [_text(f"emerging.{c}") for c in frame["category"]]
    fields = {_text("hot.name"): list(frame["name"]), _text("hot.category"): pattern,
              _text("hot.trend"): [_number(v, 2) for v in frame["trend_tau"]]}
    legend = [(emerging_colour(c), _text(f"emerging.{c}")) for c in dict.fromkeys(frame["category"])]
    tiled = _tiled(store, area, CELL_TILE_LAYERS.get(web_cell_spec().kind), frame["cell_id"], pattern,
                   _text("hot.category"))  # fmt: skip
    m = choropleth_map(frame, fills=[emerging_colour(c) for c in frame["category"]], fields=fields,
                       basemap=_basemap(), legend_title=_text("legend.emerging"), legend_rows=legend,
                       layer_name=_text("legend.emerging"), tiled=tiled)  # fmt: skip
    rows = frame.assign(pattern=pattern).sort_values("trend_tau", ascending=False)
    return m, rows, result.summary


def _hotspot_view(store: Any, area: str) -> tuple[Any, Any, dict[str, Any]]:
    """(map, table rows frame, summary) of Gi* or local Moran's I bins."""
    spec = web_cell_spec()
    result = hotspots_from_store(store, cells=spec, options=hotspot_options(), area_code=area, **window_args())
    frame = result.frame
    labels = [_bin_label(b) for b in frame["bin"]]
    fields = {_text("hot.name"): list(frame["name"]), _text("hot.bin"): labels,
              _text("hot.incidents"): [_number(v, 0) for v in frame["incidents"]],
              _text("hot.z"): [_number(v, 2) for v in frame["z"]],
              _text("hot.p"): [_number(v, 4) for v in frame["p"]]}
    legend = [(BIN_COLOURS[b], _bin_label(b)) for b in range(3, -4, -1)]
    tiled = _tiled(store, area, CELL_TILE_LAYERS.get(spec.kind), frame["cell_id"], labels, _text("hot.bin"))
    m = choropleth_map(frame, fills=[BIN_COLOURS[int(b)] for b in frame["bin"]], fields=fields, basemap=_basemap(),
                       legend_title=_text("legend.bins"), legend_rows=legend, layer_name=_text("legend.bins"),
                       tiled=tiled)  # fmt: skip
    rows = frame.assign(bin_label=labels).sort_values("z", ascending=False, na_position="last")
    return m, rows, result.summary


@bp.get("/hotspots")
@roles_required(*ANALYSIS_ROLES)
def hotspots_page() -> str:
    """Choropleth and table of Gi*/local Moran bins, or of emerging-hotspot categories (``emerging=1``)."""
    area = analysis_area(analysis_principal())
    store = portal_state().store
    emerging = flag("emerging", default=False)
    categories = sorted(set(incidents_in_scope(store, area_code=area, columns=HEAT_COLUMNS)["category"]
                            .dropna().astype(str)))
    m, rows, summary = _emerging_view(store, area) if emerging else _hotspot_view(store, area)
    return _page("analysis/hotspots.html", m=m, emerging=emerging, summary=summary, categories=categories,
                 rows=rows.head(TABLE_ROWS).drop(columns="geometry").to_dict("records"), cell_choices=CELL_CHOICES,
                 fmt=_number)


#: Coverage tables: (title key, report attribute, [(column, label key), ...]).
COVERAGE_TABLES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("cov.no_worker", "grids_without_worker",
     (("code", "cov.code"), ("name", "cov.name"), ("households", "cov.households"))),
    ("cov.streets", "streets",
     (("street_code", "cov.code"), ("street_name", "cov.name"), ("workers", "cov.workers"),
      ("households", "cov.households"), ("households_per_worker", "cov.per_worker"), ("min_per_worker", "cov.min"),
      ("max_per_worker", "cov.max"), ("gini", "cov.gini"), ("households_without_worker", "cov.without_worker"))),
    ("cov.uncovered", "uncovered",
     (("code", "cov.code"), ("name", "cov.name"), ("area_m2", "cov.area_m2"), ("uncovered_m2", "cov.uncovered_m2"),
      ("uncovered_share", "cov.uncovered_share"))),
    ("cov.access_by_community", "access_by_community",
     (("code", "cov.code"), ("households", "cov.households"), ("households_within", "cov.within"),
      ("share_within", "cov.share"))),
    ("cov.key_units", "key_units",
     (("name", "cov.unit"), ("unit_type", "cov.type"), ("responsible_person", "cov.responsible"),
      ("grid_code", "cov.grid"), ("grid_workers", "cov.grid_workers"), ("grid_worker_phones", "cov.phones"))),
)
_WORKER_COLOURS = {True: "#7fcdbb", False: "#d62f27"}


def _worker_map(store: Any, area: str) -> Any:
    """Grids of the area, red where no active worker serves them (None when there are no grids)."""
    grids = grids_in_scope(store, area)
    if grids.empty:
        return None
    missing = set(grids_without_worker(grids, store.read(schema.WORKERS))["code"])
    served = [c not in missing for c in grids["code"]]
    labels = {True: _text("cov.map_with_worker"), False: _text("cov.map_no_worker")}
    fields = {_text("cov.name"): list(grids["name"]), _text("cov.code"): list(grids["code"]),
              _text("cov.grid_workers"): [labels[s] for s in served]}
    tiled = _tiled(store, area, "grids", grids["code"], [labels[s] for s in served], _text("cov.grid_workers"))
    return choropleth_map(grids, fills=[_WORKER_COLOURS[s] for s in served], fields=fields, basemap=_basemap(),
                          legend_title=_text("cov.no_worker"), layer_name=_text("cov.no_worker"),
                          legend_rows=[(_WORKER_COLOURS[s], labels[s]) for s in (False, True)], tiled=tiled)


@bp.get("/coverage")
@roles_required(*ANALYSIS_ROLES)
def coverage_page() -> str:
    """Coverage tables and a map of the grids with and without an active worker."""
    area = analysis_area(analysis_principal())
    store = portal_state().store
    method = "line" if request.args.get("method") == "line" else "network"
    distance = integer("distance", default=1000, lo=1, hi=50_000)
    report = coverage_from_store(store, area_code=area, distance_m=float(distance), method=method)
    access, tr = report.access, Translator(current_language())
    share = access.get("share_within")
    access_text = _text("cov.access", m=tr.number(distance), within=tr.number(round(access["households_within"])),
                        total=tr.number(round(access["households"])),
                        share=tr.percent(share) if share is not None and np.isfinite(share) else "—")
    return _page("analysis/coverage.html", m=_worker_map(store, area), report=report, distance=distance,
                 method=method, access_text=access_text, tables=_coverage_tables(report), fmt=_number)


def _coverage_tables(report: Any) -> list[dict[str, Any]]:
    """Title, column labels and rows per table; values are plain data, escaped by Jinja."""
    out = []
    for key, attribute, columns in COVERAGE_TABLES:
        frame: pd.DataFrame = getattr(report, attribute)
        present = [(c, label) for c, label in columns if c in frame.columns]
        data = frame[[c for c, _ in present]].head(TABLE_ROWS)
        out.append({"key": attribute, "title": _text(key), "columns": [_text(label) for _, label in present],
                    "rows": data.astype(object).where(data.notna(), None).values.tolist()})
    return out


@bp.get("/stats")
@roles_required(*ANALYSIS_ROLES)
def stats_page() -> str:
    """Per-area statistics as a choropleth of one measure and a table (CSV link for all of it)."""
    area = analysis_area(analysis_principal())
    state = portal_state()
    level = stats_level()
    measure = request.args.get("measure", "households")
    if measure not in COUNT_COLUMNS:
        measure = "households"
    result = stats_from_store(state.store, state.settings, level=level, area_code=area)
    frame = result.frame
    m = None
    if not frame.empty:
        fills, legend = quantile_colours(frame[measure].to_numpy(dtype=float))
        fields = {_text("col.name"): list(frame["name"]), _text("col.code"): list(frame["code"]),
                  **{_text(f"measure.{c}"): [_number(v, 0) for v in frame[c]] for c in COUNT_COLUMNS}}
        ranges = {**dict(legend), NO_PATTERN_COLOUR: "—"}  # a class is a value range of the legend
        tiled = _tiled(state.store, area, LEVEL_TILE_LAYERS.get(level), frame["code"], [ranges[f] for f in fills],
                       _text(f"measure.{measure}"))  # fmt: skip
        m = choropleth_map(frame, fills=fills, fields=fields, basemap=_basemap(),
                           legend_title=_text(f"measure.{measure}"), legend_rows=legend,
                           layer_name=_text(f"measure.{measure}"), tiled=tiled)  # fmt: skip
    table = result.table()
    breakdown = [c for c in table.columns if ":" in str(c)]
    lang = current_language()
    labels = {c: incident_text(f"status.{c.split(':', 1)[1]}", lang) if c.startswith("status:")
              else c.split(":", 1)[1] for c in breakdown}
    return _page("analysis/stats.html", m=m, level=level, measure=measure, measures=COUNT_COLUMNS,
                 rows=table.head(TABLE_ROWS).to_dict("records"), breakdown=breakdown, labels=labels,
                 totals=result.totals(),
                 outside=result.outside, fmt=_number)


@bp.get("/stats.csv")
@roles_required(*ANALYSIS_ROLES)
def stats_csv() -> Response:
    """The whole statistics table as CSV (UTF-8 with BOM so that Excel reads the Chinese names)."""
    area = analysis_area(analysis_principal())
    state = portal_state()
    result = stats_from_store(state.store, state.settings, level=stats_level(), area_code=area)
    return Response("\ufeff" + statistics_csv(result), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="stats-{result.level}.csv"'})
