"""The home map in a real browser: grid layer drawn, popups escaped, language switch works."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from gridmap.portal.maps.basemaps import basemap_from_settings

pytestmark = pytest.mark.browser

#: Screen position of a grid's centre, found through Leaflet (the map is a global ``var`` named
#: after the map div's id, as Folium writes it).
GRID_CENTRE_JS = """
(code) => {
  const map = window[document.querySelector('.folium-map').id];
  let found = null;
  map.eachLayer((layer) => {
    if (layer.feature && layer.feature.properties.code === code
        && layer._path && layer._path.classList.contains('gm-grid')) { found = layer; }
  });
  if (!found) { return null; }
  const point = map.latLngToContainerPoint(found.getBounds().getCenter());
  const box = map.getContainer().getBoundingClientRect();
  return {x: box.left + point.x, y: box.top + point.y};
}
"""


def test_home_map_draws_one_path_per_grid(browser_page, live_server) -> None:
    sample = live_server.sample
    base_grids = [g for g in sample.GRIDS if g[2] != "professional"]
    browser_page.goto("/")
    page = browser_page.page
    expect(page.locator("path.gm-grid")).to_have_count(len(base_grids))
    expect(page.locator("path.gm-grid-professional")).to_have_count(0)  # hidden overlay
    expect(page.locator("path.gm-community")).to_have_count(3)
    expect(page.locator("path.gm-street")).to_have_count(2)
    expect(page.locator("path.gm-district")).to_have_count(1)
    expect(page.get_by_test_id("count-grids")).to_have_text(str(len(base_grids)))
    expect(page.get_by_test_id("product-name")).to_have_text("网格化服务管理 · gridmap")
    # Out-of-band grids carry the red dashed outline in the drawn SVG.
    dashed = page.locator("path.gm-grid[stroke='#c0392b']")
    expect(dashed).to_have_count(len(sample.OUT_OF_BAND))
    # Leaflet and the legend come from our vendored copies and actually ran.
    expect(page.locator(".gm-legend")).to_contain_text("网格户数")
    expect(page.locator(".leaflet-control-layers")).to_contain_text("网格")


def test_clicking_a_grid_opens_its_popup_with_the_name_escaped(browser_page, live_server) -> None:
    hostile = live_server.sample.HOSTILE
    browser_page.goto("/")
    page = browser_page.page
    expect(page.locator("path.gm-grid").first).to_be_visible()
    centre = page.evaluate(GRID_CENTRE_JS, "410611001001001")
    assert centre is not None
    page.mouse.click(centre["x"], centre["y"])
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_be_visible()
    expect(page.locator(".leaflet-popup")).to_have_css("opacity", "1")  # fade-in done: a clear screenshot
    expect(popup).to_contain_text(hostile)  # shown as text...
    expect(popup).to_contain_text("410611001001001")
    assert popup.locator("img").count() == 0  # ...never as an element
    assert page.evaluate("document.querySelectorAll('.leaflet-popup-content img, .gm-legend img').length") == 0
    browser_page.assert_clean()  # no alert() dialog, no JS error


def test_language_switch_changes_the_ui_text(browser_page) -> None:
    browser_page.goto("/")
    page = browser_page.page
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator(".gm-counts")).to_contain_text("户数")
    page.get_by_test_id("lang-en").click()
    page.wait_for_url("**/?lang=en")
    browser_page.assert_clean()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("product-name")).to_have_text("Grid service management · gridmap")
    expect(page.locator(".gm-counts")).to_contain_text("Households")
    expect(page.locator(".leaflet-control-layers")).to_contain_text("Community boundaries")
    expect(page.locator(".gm-legend")).to_contain_text("Households per grid")
    browser_page.snapshot("english")
    # The choice is remembered: a plain reload stays English.
    browser_page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_test_id("lang-zh").click()
    page.wait_for_url("**/?lang=zh")
    expect(page.get_by_test_id("product-name")).to_have_text("网格化服务管理 · gridmap")


def test_without_internet_a_tile_basemap_fails_quietly(
    portal_server, page_opener, live_server, tmp_path, request
) -> None:
    """basemap=osm with every tile request aborted: all layers still drawn, no JS error."""
    settings = live_server.settings.replace(store_url=f"gpkg://{tmp_path / 'osm.gpkg'}", basemap="osm")
    origins = basemap_from_settings(settings).origins
    assert origins == ("https://tile.openstreetmap.org",)
    with portal_server(settings, live_server.sample) as osm_server, page_opener(
        osm_server.url, request.node.name, offline_origins=origins
    ) as browser_page:
        browser_page.goto("/")
        page = browser_page.page
        base_grids = [g for g in live_server.sample.GRIDS if g[2] != "professional"]
        expect(page.locator("path.gm-grid")).to_have_count(len(base_grids))
        expect(page.locator("img.leaflet-tile").first).to_be_attached()
        assert browser_page.blocked, "the map never asked for a tile"
        assert all(url.startswith("https://tile.openstreetmap.org/") for url in browser_page.blocked)
        background = page.evaluate("getComputedStyle(document.querySelector('.folium-map')).backgroundColor")
        assert background == "rgb(238, 241, 244)"  # PLAIN_BACKGROUND shows where the tiles are missing


def test_phone_screen_folds_layer_control_and_legend(browser_page, live_server) -> None:
    page = browser_page.page
    page.set_viewport_size({"width": 390, "height": 844})
    browser_page.goto("/")
    base_grids = [g for g in live_server.sample.GRIDS if g[2] != "professional"]
    expect(page.locator("path.gm-grid")).to_have_count(len(base_grids))
    expect(page.locator(".leaflet-control-layers")).not_to_have_class("leaflet-control-layers-expanded")
    details = page.locator("details.gm-legend-details")
    expect(details).not_to_have_attribute("open", "")
    page.locator(".gm-legend-title").click()  # a tap unfolds the legend again
    expect(details).to_have_attribute("open", "")
    expect(page.locator(".gm-legend")).to_contain_text("450–500户")
