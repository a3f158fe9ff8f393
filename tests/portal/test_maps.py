"""hierarchy_map: layers per level, escaping, band styling, legend, bounds, CRS handling."""

from __future__ import annotations

import html
import json
import re

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely
from portal_sample import AREAS, GRIDS, HOSTILE, OUT_OF_BAND

from gridmap.config import BAND_PRESETS, Settings
from gridmap.errors import ValidationError
from gridmap.model import AreaLevel
from gridmap.portal.maps.assets import html_from_map
from gridmap.portal.maps.basemaps import basemap_from_settings
from gridmap.portal.maps.hierarchy import LAYER_CLASS, hierarchy_map
from gridmap.portal.maps.style import DEDICATED_COLOUR, VIOLATION_OUTLINE

NONE = basemap_from_settings(Settings())
URBAN = BAND_PRESETS["urban"]


def _geojson_layers(m: folium.Map) -> dict[str, folium.GeoJson]:
    return {child.layer_name: child for child in m._children.values() if isinstance(child, folium.GeoJson)}


def _by_code(layer: folium.GeoJson) -> dict[str, dict]:
    return {html.unescape(f["properties"]["code"]): f for f in layer.data["features"]}


def test_one_layer_per_level_with_the_right_features(areas_gdf, grids_gdf) -> None:
    m = hierarchy_map(areas_gdf, grids_gdf, basemap=NONE, lang="zh", band=URBAN)
    layers = _geojson_layers(m)
    assert list(layers) == ["区县边界", "街道边界", "社区边界", "网格", "专业网格"]
    for name, level in zip(layers, ("district", "street", "community"), strict=False):
        expected = {a[0] for a in AREAS if a[2] == level}
        assert set(_by_code(layers[name])) == expected
        assert layers[name].options["className"] == LAYER_CLASS[AreaLevel(level)]
    base = {g[0] for g in GRIDS if g[2] != "professional"}
    assert set(_by_code(layers["网格"])) == base
    assert set(_by_code(layers["专业网格"])) == {g[0] for g in GRIDS if g[2] == "professional"}
    assert layers["网格"].show and not layers["专业网格"].show  # overlay hidden until asked for


def test_user_strings_are_escaped_everywhere(areas_gdf, grids_gdf) -> None:
    m = hierarchy_map(areas_gdf, grids_gdf, basemap=NONE, lang="en", band=URBAN)
    grid = _by_code(_geojson_layers(m)["Grids"])["410611001001001"]
    assert grid["properties"]["name"] == html.escape(HOSTILE)
    page = html_from_map(m)
    assert HOSTILE not in page
    assert "<img" not in page
    # JSON in the page spells <, & and CJK as \uXXXX: decode, then the raw name must still be absent
    # (popups insert these strings as HTML) and the escaped one present.
    decoded = re.sub(r"\\u([0-9a-fA-F]{4})", lambda mt: chr(int(mt.group(1), 16)), page)
    assert HOSTILE not in decoded
    assert "&lt;img src=x onerror=alert(1)&gt;" in decoded
    assert f"九州路街道{html.escape(HOSTILE)}" in decoded


def test_out_of_band_and_dedicated_grids_are_styled_distinctly(areas_gdf, grids_gdf) -> None:
    m = hierarchy_map(areas_gdf, grids_gdf, basemap=NONE, lang="zh", band=URBAN)
    layer = _geojson_layers(m)["网格"]
    for code, feature in _by_code(layer).items():
        style = layer.style_function(feature)
        kind = next(g[2] for g in GRIDS if g[0] == code)
        households = next(g[4] for g in GRIDS if g[0] == code)
        if kind == "dedicated":
            assert style["fillColor"] == DEDICATED_COLOUR
            assert style["color"] != VIOLATION_OUTLINE  # the band does not apply to dedicated grids
        elif code in OUT_OF_BAND:
            assert style["color"] == VIOLATION_OUTLINE and style.get("dashArray"), code
            assert ("低于" if households < URBAN.min_households else "高于") in feature["properties"]["band"]
        else:
            assert URBAN.min_households <= households <= URBAN.max_households
            assert style["color"] != VIOLATION_OUTLINE, code
            assert "在区间内" in feature["properties"]["band"]


def test_households_colour_grows_with_households(areas_gdf, grids_gdf) -> None:
    m = hierarchy_map(areas_gdf, grids_gdf, basemap=NONE, lang="zh", band=URBAN)
    layer = _geojson_layers(m)["网格"]
    feats = _by_code(layer)
    fill_420 = layer.style_function(feats["410611001001001"])["fillColor"]
    fill_480 = layer.style_function(feats["410611002001001"])["fillColor"]
    fill_450 = layer.style_function(feats["410611001001002"])["fillColor"]
    # 420 and 450 sit in the same quarter of 300-500 (400-450]; 480 in the top quarter.
    assert fill_420 == fill_450 and fill_480 != fill_420


def test_legend_lists_band_violations_and_dedicated(areas_gdf, grids_gdf) -> None:
    page = html_from_map(hierarchy_map(areas_gdf, grids_gdf, basemap=NONE, lang="en", band=URBAN))
    legend = json.loads(re.search(r"div\.innerHTML = (\".*?\");", page).group(1))
    for text in ("Households per grid", "Below band (&lt;300)", "Above band (&gt;500)", "Dedicated grid",
                 "300–350 households", "450–500 households", "red dashes"):
        assert text in legend, text


@pytest.mark.parametrize(("lang", "notice"), [("zh", "演示数据为合成数据"), ("en", "Demo data is synthetic")])
def test_synthetic_data_is_labelled_on_the_map(areas_gdf, grids_gdf, lang: str, notice: str) -> None:
    real = html_from_map(hierarchy_map(areas_gdf.assign(synthetic=False), grids_gdf.assign(synthetic=False),
                                       basemap=NONE, lang=lang))
    assert "gm-synthetic" not in real
    areas = areas_gdf.assign(synthetic=areas_gdf["level"] != "district")  # a real outline, synthetic streets
    for grids in (grids_gdf.assign(synthetic=False), None):
        page = html_from_map(hierarchy_map(areas, grids, basemap=NONE, lang=lang))
        text = json.loads(re.search(r"div\.textContent = (\".*?\");", page).group(1))  # set as text, not HTML
        assert page.count("gm-synthetic") == 1 and notice in text


def test_map_fits_the_data_bounds(areas_gdf, grids_gdf) -> None:
    m = hierarchy_map(areas_gdf, grids_gdf, basemap=NONE, lang="zh")
    fit = next(c for c in m._children.values() if type(c).__name__ == "FitBounds")
    assert fit.bounds == [[pytest.approx(35.70), pytest.approx(114.00)], [pytest.approx(35.78), pytest.approx(114.12)]]


def test_empty_frames_give_an_empty_map_without_error(areas_gdf) -> None:
    m = hierarchy_map(areas_gdf.iloc[0:0], None, basemap=NONE, lang="zh")
    assert _geojson_layers(m) == {}
    assert not any(type(c).__name__ == "FitBounds" for c in m._children.values())


def test_frames_without_crs_are_rejected(areas_gdf) -> None:
    with pytest.raises(ValidationError, match="areas: the frame has no CRS"):
        hierarchy_map(areas_gdf.set_crs(None, allow_override=True), None, basemap=NONE, lang="zh")


def test_projected_frames_are_drawn_in_lon_lat(areas_gdf) -> None:
    m = hierarchy_map(areas_gdf.to_crs(3857), None, basemap=NONE, lang="zh")
    district = _by_code(_geojson_layers(m)["区县边界"])["410611"]
    minx, miny, maxx, maxy = shapely.geometry.shape(district["geometry"]).bounds
    assert (minx, miny, maxx, maxy) == pytest.approx((114.00, 35.70, 114.12, 35.78), abs=1e-6)


def test_amap_basemap_shifts_overlays_to_gcj02(areas_gdf) -> None:
    crs = pytest.importorskip("gridmap.crs")
    amap = basemap_from_settings(Settings(basemap="amap"))
    m = hierarchy_map(areas_gdf, None, basemap=amap, lang="zh")
    district = _by_code(_geojson_layers(m)["区县边界"])["410611"]
    drawn = shapely.geometry.shape(district["geometry"]).bounds
    lon, lat = crs.from_wgs84(114.00, 35.70, "gcj02")
    assert (drawn[0], drawn[1]) == pytest.approx((lon, lat), abs=2e-6)
    # GCJ-02 near 鹤壁 is a few hundred metres off WGS84: the shift really happened.
    assert abs(drawn[0] - 114.00) + abs(drawn[1] - 35.70) > 1e-3


def test_grids_without_band_use_the_data_range(grids_gdf) -> None:
    empty_areas = gpd.GeoDataFrame({"code": [], "name": [], "level": []}, geometry=[], crs=4326)
    m = hierarchy_map(empty_areas, grids_gdf, basemap=NONE, lang="zh", band=None)
    layer = _geojson_layers(m)["网格"]
    styles = [layer.style_function(f) for f in layer.data["features"]]
    assert not any(s["color"] == VIOLATION_OUTLINE for s in styles)


def test_display_geometries_drop_needless_vertices_but_stay_within_half_a_metre() -> None:
    from gridmap.portal.maps.hierarchy import DISPLAY_PRECISION_DEG, DISPLAY_SIMPLIFY_DEG, display_geometries

    straight = shapely.segmentize(shapely.box(114.0, 35.7, 114.01, 35.71), 1e-5)  # ~1 m steps, collinear
    assert shapely.get_num_coordinates(straight) > 1000
    rng = np.random.default_rng(7)
    wiggly = shapely.Polygon(
        [(114.0 + 0.01 * np.cos(t) + rng.uniform(-2e-5, 2e-5), 35.7 + 0.01 * np.sin(t)) for t in
         np.linspace(0, 2 * np.pi, 400, endpoint=False)]
    )
    shown_straight, shown_wiggly = display_geometries([straight, wiggly], NONE)
    assert shapely.get_num_coordinates(shown_straight) == 5  # only the corners are needed
    assert shapely.hausdorff_distance(shown_wiggly, wiggly) <= DISPLAY_SIMPLIFY_DEG + DISPLAY_PRECISION_DEG
    assert 50 < shapely.get_num_coordinates(shown_wiggly) <= 401  # real detail (~2 m) is kept


def test_each_grid_is_judged_by_its_own_community_band() -> None:
    """Villages (村, community part 200-399) use the rural band (P-5): 150 households is in band there."""
    settings = Settings()
    urban_cell, village_cell = shapely.box(114.30, 35.74, 114.31, 35.75), shapely.box(114.31, 35.74, 114.32, 35.75)
    grids = gpd.GeoDataFrame(
        {"code": ["410611001001001", "410611101201001"], "name": ["社区网格", "村网格"], "kind": ["base", "base"],
         "community_code": ["410611001001", "410611101201"], "households": [150, 150]},
        geometry=[urban_cell, village_cell], crs=4326,
    )
    areas = gpd.GeoDataFrame({"code": [], "name": [], "level": []}, geometry=[], crs=4326)
    m = hierarchy_map(areas, grids, basemap=NONE, lang="en", band=settings.household_band,
                      band_of=settings.band_for_community)
    layer = _geojson_layers(m)["Grids"]
    feats = _by_code(layer)
    urban_style = layer.style_function(feats["410611001001001"])
    village_style = layer.style_function(feats["410611101201001"])
    assert urban_style["color"] == VIOLATION_OUTLINE  # 150 < 300 in a 社区
    assert village_style["color"] != VIOLATION_OUTLINE  # 150 in 100..300 in a 村
    assert "Below" in feats["410611001001001"]["properties"]["band"]
    legend = json.loads(re.search(r"div\.innerHTML = (\".*?\");", html_from_map(m)).group(1))
    assert "Villages (村): band 100–300 households" in legend


def test_one_switch_decides_tiles_for_every_page() -> None:
    """city_tiles_root: strictly more grids than tiled_map_min_grids, on a WGS84 basemap only."""
    from gridmap.portal.maps.tiled import city_tiles_root

    settings = Settings(tiled_map_min_grids=100)
    assert city_tiles_root(100, settings, NONE) is None
    assert city_tiles_root(101, settings, NONE) == "/tiles"
    assert city_tiles_root(101, settings, NONE, script_root="/gridmap") == "/gridmap/tiles"
    amap = basemap_from_settings(settings.replace(basemap="amap"))
    assert city_tiles_root(10_000, settings, amap) is None  # AMap overlays need GCJ-02; tiles are WGS84


def test_tile_classes_group_codes_by_fill_and_label_and_embed_safely() -> None:
    from gridmap.portal.i18n.translator import Translator
    from gridmap.portal.maps.tiled import TileClasses, TiledClassLayer, TiledPopup, script_json

    classes = TileClasses.from_rows(["G1", "G2", "G3", "G4"], ["#a", "#b", "#a", "#a"], ["hot", "cold", "hot", "x"])
    assert classes.fills == ("#a", "#b", "#a") and classes.labels == ("hot", "cold", "x")
    assert classes.codes == (("G1", "G3"), ("G2",), ("G4",)) and len(classes) == 4
    assert script_json({"label": "</script><b>&"}) == '{"label":"\\u003c/script\\u003e\\u003cb\\u003e\\u0026"}'
    m = folium.Map()
    layer = TiledClassLayer("grids", classes, style={"weight": 1}, name="bins", root="/tiles")
    layer.add_to(m)
    TiledPopup(layer, m.get_name(), Translator("en"), fields=("name",), class_title="Bin").add_to(m)
    page = html_from_map(m)
    assert '"codes":[["G1","G3"],["G2"],["G4"]]' in page and "/tiles/grids/{z}/{x}/{y}.mvt" in page
    assert f"{layer.get_name()}_classes.labels[i]" in page and '"minZoom": 10' in page
    with pytest.raises(ValueError, match="no code property"):
        TiledClassLayer("incidents", classes, style={}, name="x")
    with pytest.raises(TypeError, match="TiledClassLayer"):
        from gridmap.portal.maps.tiled import tiled_area_layer

        TiledPopup(tiled_area_layer(AreaLevel.COMMUNITY, Translator("en")), m.get_name(), Translator("en"),
                   class_title="Bin")  # fmt: skip
