"""CircleMarkers: many points as one map element, their data as JSON that cannot close the script."""

from __future__ import annotations

import json
import re

import folium

from gridmap.portal.maps.assets import html_from_map
from gridmap.portal.maps.markers import CircleMarkers, CircleStyle, PointMarker

HOSTILE = "</script><img src=x onerror=alert(1)>&amp;"


def _rows(page: str) -> list[list]:
    """The JSON array of points the element wrote (the call's last argument)."""
    found = re.search(r"\}\)\((\w+), (\{.*?\}), (\[\[.*?\]\])\);", page, flags=re.S)
    assert found is not None
    return json.loads(found.group(3))


def test_points_are_data_and_one_loop_draws_them() -> None:
    m = folium.Map(location=(35.74, 114.04), zoom_start=12, tiles=None)
    group = folium.FeatureGroup(name="incidents").add_to(m)
    points = [PointMarker(lat=35.7 + i * 1e-3, lon=114.0 + i * 1e-3, title=f"t{i}", lines=(f"line {i}",),
                          marker_id=f"I-{i}") for i in range(300)]
    CircleMarkers(points, style=CircleStyle(class_name="gm-incident", radius=7)).add_to(group)
    page = html_from_map(m)
    rows = _rows(page)
    assert len(rows) == 300 and rows[7] == [35.707, 114.007, "t7", ["line 7"], "I-7"]
    assert page.count("L.circleMarker(") == 1  # one loop, not 300 markers' scripts
    assert f"}})({group.get_name()}," in page  # added to the feature group, so the layer control toggles them
    style = json.loads(re.search(r"\}\)\(\w+, (\{.*?\}), \[\[", page, flags=re.S).group(1))
    assert style["radius"] == 7 and style["className"] == "gm-incident" and style["pane"] == "markerPane"


def test_hostile_text_cannot_leave_the_script_and_is_put_into_text_nodes() -> None:
    m = folium.Map(location=(35.74, 114.04), zoom_start=12, tiles=None)
    CircleMarkers([PointMarker(lat=35.74, lon=114.04, title=HOSTILE, lines=(HOSTILE,), marker_id=HOSTILE)]).add_to(m)
    page = html_from_map(m)
    assert "</script><img" not in page and "<img src=x" not in page
    assert _rows(page) == [[35.74, 114.04, HOSTILE, [HOSTILE], HOSTILE]]  # the exact text, decoded as data
    script = page[page.index("function popupOf"):page.index("rows.forEach")]
    assert "innerHTML" not in script and script.count("textContent") == 2 and "createTextNode" in script


def test_no_points_draw_nothing_and_need_no_data() -> None:
    m = folium.Map(location=(35.74, 114.04), zoom_start=12, tiles=None)
    CircleMarkers([]).add_to(m)
    page = html_from_map(m)
    assert ", []);" in page and "L.circleMarker(" in page  # the loop is there and has nothing to draw
