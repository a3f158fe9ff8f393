"""Portal pages of the incidents (list, detail, form, import, assessment + CSV) through the test client.

What it proves: pages need a staff principal (or the reporter's token), filters select the right
rows, hostile text is escaped everywhere it is shown (tables, timeline, chart labels), the import
is all-or-nothing, and the CSV export holds the same numbers as the page.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient

from gridmap import schema
from gridmap.auth.accounts import create_token
from gridmap.auth.principal import PUBLIC
from gridmap.config import Settings
from gridmap.incidents.workflow import Action, ActionRequest
from gridmap.portal.app import close_app, create_app
from gridmap.services.incidents import IncidentService
from gridmap.store.base import Store
from tests.incidents import sample

A1, B1 = sample.INSIDE[sample.GRID_A1], sample.INSIDE[sample.GRID_B1]


@pytest.fixture
def app(incident_store: Store, settings: Settings) -> Iterator[Flask]:
    app = create_app(settings.replace(allow_anonymous_reports=True, secret_key="t"), store=incident_store)
    yield app
    close_app(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def command_key(incident_store: Store) -> str:
    return create_token(incident_store, role="command", area_code=sample.DISTRICT).api_key


def _report(store: Store, point: tuple[float, float], code: str = "sanitation", *, days_ago: float = 1,
            description: str = "垃圾") -> IncidentService:
    when = datetime.now(UTC) - timedelta(days=days_ago)
    svc = IncidentService(store, Settings(allow_anonymous_reports=True), clock=lambda: when)
    svc.report(PUBLIC, {"service_code": code, "lat": point[1], "long": point[0], "description": description})
    return svc


def test_list_needs_staff_and_filters(client: FlaskClient, incident_store: Store, command_key: str) -> None:
    _report(incident_store, A1, description=sample.HOSTILE)
    _report(incident_store, B1, "fire", days_ago=20)
    _report(incident_store, B1, "fire", days_ago=200)
    public = client.get("/incidents")
    assert public.status_code == 302 and "/login" in public.headers["Location"]
    page = client.get(f"/incidents?api_key={command_key}").get_data(as_text=True)
    assert page.count('data-testid="incident-row"') == 2  # default window: 30 days
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert client.get(f"/incidents?api_key={command_key}&days=365").get_data(as_text=True).count(
        'data-testid="incident-row"') == 3
    fire = client.get(f"/incidents?api_key={command_key}&category=fire").get_data(as_text=True)
    assert fire.count('data-testid="incident-row"') == 1 and "消防" in fire
    grid_only = client.get(f"/incidents?api_key={command_key}&area={sample.GRID_A1}").get_data(as_text=True)
    assert grid_only.count('data-testid="incident-row"') == 1
    worker_b = create_token(incident_store, role="worker", area_code=sample.COMM_B).api_key
    own = client.get(f"/incidents?api_key={worker_b}").get_data(as_text=True)
    assert own.count('data-testid="incident-row"') == 1  # scoped to community B
    assert client.get(f"/incidents?api_key={worker_b}&area={sample.COMM_A}").status_code == 403
    assert client.get(f"/incidents?api_key={command_key}&status=bogus").status_code == 400


def test_detail_with_timeline_for_staff_and_reporter(client: FlaskClient, incident_store: Store,
                                                     command_key: str) -> None:
    svc = IncidentService(incident_store, Settings(allow_anonymous_reports=True))
    out = svc.report(PUBLIC, {"service_code": "sanitation", "lat": A1[1], "long": A1[0], "description": "门口垃圾"})
    iid = out.incident["incident_id"]
    from gridmap.auth.principal import Principal
    from gridmap.model import Role

    boss = Principal("boss", Role.COMMAND, sample.DISTRICT)
    svc.act(boss, iid, ActionRequest(Action.COMMENT, note=sample.HOSTILE))
    assert client.get(f"/incidents/{iid}").status_code == 302  # to the login page
    elsewhere = create_token(incident_store, role="worker", area_code=sample.COMM_B).api_key
    assert client.get(f"/incidents/{iid}?api_key={elsewhere}").status_code == 404  # as if it did not exist
    staff = client.get(f"/incidents/{iid}?api_key={command_key}").get_data(as_text=True)
    assert staff.count('data-testid="event"') == 2 and "boss" in staff
    assert "<img src=x" not in staff and "&lt;img src=x onerror=alert(2)&gt;" in staff
    mine = client.get(f"/incidents/{iid}?token={out.token}").get_data(as_text=True)
    assert "门口垃圾" in mine and "boss" not in mine  # the reporter does not see staff names
    assert client.get(f"/incidents/{iid}?token=nope").status_code == 401


def test_report_form_page_lists_categories(client: FlaskClient) -> None:
    page = client.get("/incidents/new").get_data(as_text=True)
    assert 'data-testid="report-form"' in page and "环境卫生" in page and 'value="emergency"' in page
    assert "/open311/v2/requests.json" in page and 'data-testid="anonymous-off"' not in page


def test_import_csv_all_or_nothing(client: FlaskClient, incident_store: Store, command_key: str) -> None:
    good = f"category,lon,lat,description\n环境卫生,{A1[0]},{A1[1]},导入一\nfire,{B1[0]},{B1[1]},导入二\n"
    bad = good + f"ufo,{A1[0]},{A1[1]},坏的\nsanitation,{sample.OUTSIDE[0]},{sample.OUTSIDE[1]},界外\n"
    resp = client.post("/incidents/import", data={"api_key": command_key,
                                                  "file": (io.BytesIO(bad.encode()), "hotline.csv")})
    assert resp.status_code == 400 and incident_store.count(schema.INCIDENTS) == 0
    text = resp.get_data(as_text=True)
    assert "unknown_category" in text and "outside_service_area" in text
    resp = client.post("/incidents/import", data={"api_key": command_key,
                                                  "file": (io.BytesIO(good.encode()), "hotline.csv")})
    assert resp.status_code == 200 and 'data-testid="import-done"' in resp.get_data(as_text=True)
    stored = incident_store.read(schema.INCIDENTS).sort_values("description")
    assert stored["category"].tolist() == ["sanitation", "fire"]
    assert stored["grid_code"].tolist() == [sample.GRID_A1, sample.GRID_B1]
    assert incident_store.count(schema.INCIDENT_EVENTS) == 2 and stored["version"].tolist() == [1, 1]
    worker = create_token(incident_store, role="worker", area_code=sample.GRID_A1).api_key
    denied = client.post("/incidents/import", data={"api_key": worker,
                                                    "file": (io.BytesIO(good.encode()), "x.csv")})
    assert denied.status_code == 403


def test_assessment_page_charts_and_csv(client: FlaskClient, incident_store: Store, command_key: str) -> None:
    svc = _report(incident_store, A1)
    _report(incident_store, A1)
    _report(incident_store, B1, "fire")
    from gridmap.auth.principal import Principal
    from gridmap.model import Role

    cmd = Principal("cmd", Role.COMMAND, "")
    iid = str(svc.store.read(schema.INCIDENTS, where={"grid_code": sample.GRID_B1})["incident_id"].iloc[0])
    for action, params in [(Action.OPEN_CASE, {}), (Action.ASSIGN, {"department": sample.HOSTILE}),
                           (Action.START, {}), (Action.HANDLE, {"note": "ok"}), (Action.VERIFY, {}),
                           (Action.CLOSE, {}), (Action.EVALUATE, {"satisfaction": 5})]:
        svc.act(cmd, iid, ActionRequest(action, **params))
    assert client.get("/assessment").status_code == 302
    worker = create_token(incident_store, role="worker", area_code=sample.DISTRICT).api_key
    assert client.get(f"/assessment?api_key={worker}").status_code == 403
    page = client.get(f"/assessment?api_key={command_key}&unit=department").get_data(as_text=True)
    for chart in ("chart-bar", "chart-pie", "chart-trend"):
        assert f'data-testid="{chart}"' in page
    assert sample.HOSTILE not in page and "&lt;script&gt;" in page  # department name in table and bar label
    csv = client.get(f"/assessment.csv?api_key={command_key}&unit=grid")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    table = pd.read_csv(io.StringIO(csv.get_data(as_text=True).lstrip("\ufeff")), dtype={"unit": str})
    by_unit = table.set_index("unit")
    assert by_unit.loc[sample.GRID_A1, "received"] == 2 and by_unit.loc[sample.GRID_A1, "closed"] == 0
    assert by_unit.loc[sample.GRID_B1, "closure_rate"] == 1.0 and by_unit.loc[sample.GRID_B1, "score"] == 100.0
    assert table["rank"].tolist() == [1, 2] and table["unit"].tolist()[0] == sample.GRID_B1


def test_import_geojson_with_gcj02_coordinates(client: FlaskClient, incident_store: Store, command_key: str) -> None:
    import json

    from gridmap.crs import from_wgs84

    gx, gy = from_wgs84(B1[0], B1[1], "gcj02")
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(gx), float(gy)]},
         "properties": {"category": "公共设施", "description": "路灯不亮", "incident_id": "HOT-1"}}]}
    resp = client.post("/incidents/import", data={
        "api_key": command_key, "crs": "gcj02",
        "file": (io.BytesIO(json.dumps(collection, ensure_ascii=False).encode()), "hotline.geojson")})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    row = incident_store.read(schema.INCIDENTS).iloc[0]
    assert (row["incident_id"], row["category"], row["grid_code"]) == ("HOT-1", "public_facilities", sample.GRID_B1)
    assert abs(row.geometry.x - B1[0]) < 1e-5 and abs(row.geometry.y - B1[1]) < 1e-5  # stored in WGS84


def test_texts_exist_in_both_languages_with_the_same_placeholders() -> None:
    import string

    from gridmap.incidents.workflow import Action, Status
    from gridmap.portal.i18n.incidents import CATALOGUES

    zh, en = CATALOGUES["zh"], CATALOGUES["en"]
    assert set(zh) == set(en)

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    assert {k for k in zh if fields(zh[k]) != fields(en[k])} == set()
    assert {f"status.{s.value}" for s in Status} | {f"action.{a.value}" for a in Action} <= set(zh)


VECTOR_GRID_JS = "/static/vendor/leaflet.vectorgrid-1.3.0/Leaflet.VectorGrid.bundled.min.js"
TILED_JS = "/static/js/tiled.js"  # the shared gridmapTiled.outlines (also the resident page's)


def _map_config(page: str) -> dict[str, object]:
    import json
    import re

    found = re.search(r'<script type="application/json" id="ic-config">(.*?)</script>', page, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_incident_maps_take_a_citys_grids_from_tiles(incident_store: Store, settings: Settings,
                                                     command_key: str) -> None:  # fmt: skip
    """Above tiled_map_min_grids visible grids the context grids come from /tiles, counted in the caller's area.

    The sample has 4 grids, 2 in community B: with the threshold at 2 the district's command centre
    and the public (all 4) get tiles, a worker of community B (2) keeps the one GeoJSON request.
    """
    app = create_app(settings.replace(allow_anonymous_reports=True, secret_key="t", tiled_map_min_grids=2),
                     store=incident_store)  # fmt: skip
    try:
        client = app.test_client()
        worker_b = create_token(incident_store, role="worker", area_code=sample.COMM_B).api_key
        tiled = {"url": "/tiles/grids/{z}/{x}/{y}.mvt", "maxNativeZoom": 18, "className": "gm-tiled"}
        for url in (f"/incidents?api_key={command_key}", "/incidents/new"):
            page = client.get(url).get_data(as_text=True)
            config = _map_config(page)
            assert config["gridTiles"] == tiled and "gridsUrl" not in config, url
            assert VECTOR_GRID_JS in page and TILED_JS in page
            assert page.index(VECTOR_GRID_JS) < page.index(TILED_JS) < page.index("/static/js/incidents_common.js")
            assert not any(code in page for code in (sample.GRID_A2, sample.GRID_B2))  # no grid is embedded
        own = client.get(f"/incidents?api_key={worker_b}").get_data(as_text=True)
        assert _map_config(own)["gridsUrl"] == "/api/v1/areas?level=grid" and "gridTiles" not in _map_config(own)
        assert VECTOR_GRID_JS not in own and TILED_JS not in own
        # the tiles hold what the GeoJSON they replace holds, for each caller: all 4 for the public, B's 2 for B
        for key, expected in ((None, set(sample.INSIDE)), (command_key, set(sample.INSIDE)),
                              (worker_b, {sample.GRID_B1, sample.GRID_B2})):  # fmt: skip
            query = f"?api_key={key}" if key else ""
            geojson = client.get(f"/api/v1/areas?level=grid{query.replace('?', '&')}").get_json()
            assert {f["properties"]["code"] for f in geojson["features"]} == expected
            assert _tile_codes(client, query) == expected
    finally:
        close_app(app)


def _tile_codes(client: FlaskClient, query: str) -> set[str]:
    """Grid codes in the z 10 grids tiles over the sample (114.25-114.28 E straddles two tile columns)."""
    import math

    import mapbox_vector_tile

    n, codes = 2**10, set()
    y = int((1.0 - math.asinh(math.tan(math.radians(35.75))) / math.pi) / 2.0 * n)
    for x in sorted({int((lon + 180.0) / 360.0 * n) for lon in (114.25, 114.28)}):
        response = client.get(f"/tiles/grids/10/{x}/{y}.mvt{query}")
        assert response.status_code == 200 and response.mimetype == "application/vnd.mapbox-vector-tile"
        layer = mapbox_vector_tile.decode(response.data).get("grids", {"features": []})
        codes |= {f["properties"]["code"] for f in layer["features"]}
    return codes
