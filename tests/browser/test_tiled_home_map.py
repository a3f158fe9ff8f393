"""The home map of a city: streets, communities and grids drawn from /tiles, the page itself small.

The switch is ``Settings.tiled_map_min_grids``; with 0 the sample hierarchy (7 base grids) is
already "a city", so the same data can be checked against the embedded map's numbers.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import MVT, SCREEN_POINT_JS

pytestmark = pytest.mark.browser



def test_city_home_map_draws_grids_from_vector_tiles(portal_server, page_opener, live_server, tmp_path,
                                                     request) -> None:  # fmt: skip
    settings = live_server.settings.replace(store_url=f"gpkg://{tmp_path / 'city.gpkg'}", tiled_map_min_grids=0)
    sample = live_server.sample
    base_grids = [g for g in sample.GRIDS if g[2] != "professional"]
    with portal_server(settings, sample) as city, page_opener(city.url, request.node.name) as browser_page:
        page = browser_page.page
        tiles: list[Any] = []
        page.on("response", lambda r: tiles.append(r) if "/tiles/" in r.url else None)
        response = browser_page.goto("/")
        html = response.text()
        for code, *_ in base_grids:  # nothing below the districts is embedded in the page
            assert code not in html
        assert "/tiles/grids/{z}/{x}/{y}.mvt" in html and "/tiles/communities/{z}/{x}/{y}.mvt" in html
        expect(page.get_by_test_id("count-grids")).to_have_text(str(len(base_grids)))  # counts still exact
        expect(page.locator("path.gm-district")).to_have_count(1)
        # VectorGrid drew every grid, filled (outlines of streets and communities are not): a grid cut
        # by a tile edge is drawn once per tile, so at least one path per grid.
        page.wait_for_function("(n) => document.querySelectorAll(\"svg.leaflet-tile path[fill-opacity='0.55']\")"
                               ".length >= n", arg=len(base_grids))
        grid_tiles = [t for t in tiles if "/tiles/grids/" in t.url]
        assert grid_tiles and all(t.status in (200, 204) for t in grid_tiles)
        assert any(t.status == 200 and t.headers.get("content-type") == MVT for t in grid_tiles)
        # A click on the hostile-named grid opens a popup that shows the name as text, never as markup.
        hostile = next(g for g in base_grids if g[1] == sample.HOSTILE)
        minx, miny, maxx, maxy = hostile[5]
        point = page.evaluate(SCREEN_POINT_JS, [(minx + maxx) / 2, (miny + maxy) / 2])
        page.mouse.click(point["x"], point["y"])
        popup = page.locator(".leaflet-popup-content")
        expect(popup).to_contain_text(sample.HOSTILE)
        expect(popup).to_contain_text(hostile[0])
        assert page.locator(".leaflet-popup-content img").count() == 0
        assert len(html.encode()) < 200_000
        # The sector overlay (professional grid) is not painted over the base grids.
        professional = next(g for g in sample.GRIDS if g[2] == "professional")
        assert page.locator("svg.leaflet-tile path[fill-opacity='0.55']").count() >= len(base_grids)
        over = page.evaluate(SCREEN_POINT_JS, [professional[5][2] - 0.01, professional[5][3] - 0.01])
        page.mouse.click(over["x"], over["y"])
        newest = popup.last  # the previous popup may still be fading out
        base_below = next(g for g in base_grids if g[0] == "410611002001002")  # 天山社区第二网格, same spot
        expect(newest).to_contain_text(base_below[1])
        expect(newest).not_to_contain_text(professional[1])
