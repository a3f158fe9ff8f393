"""The planner API on both stores: roles and areas, preview/save/409 with drafts, approve, activate, filing."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from gridmap import schema
from gridmap.auth.passwords import hash_password
from gridmap.codes import grid_code
from gridmap.portal.app import close_app, create_app
from tests.planner import sample as sm

PASSWORD = "planner-password-1"
_HASH = hash_password(PASSWORD)
ACCOUNTS = [("plan_a", "planner", sm.STREET), ("plan_b", "planner", sm.STREET), ("plan_far", "planner", "410611002"),
            ("cmd", "command", sm.STREET)]  # fmt: skip
API = "/api/v1/planner"
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def _code(seq: int) -> str:
    return grid_code(sm.COMMUNITY, seq)


@pytest.fixture
def app(store, settings):
    sm.seed_community(store)
    sm.activate_layout(store)
    now = pd.Timestamp.now(tz="UTC")
    with store.transaction() as tx:
        tx.insert(schema.ACCOUNTS, pd.DataFrame([{"username": u, "role": r, "area_code": a, "password_hash": _HASH,
                                                  "active": True, "created_at": now} for u, r, a in ACCOUNTS]))
    portal = create_app(settings.replace(secret_key="planner-tests", rate_limit_login_per_min=0,
                                         rate_limit_public_read_per_s=0, rate_limit_public_write_per_min=0),
                        store=store)  # fmt: skip
    yield portal
    close_app(portal)


class Client:
    """A signed-in test client that sends the session's CSRF token with every unsafe request."""

    def __init__(self, app, username: str | None) -> None:
        self.http = app.test_client()
        self.csrf = ""
        if username is not None:
            page = self.http.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            done = self.http.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
            assert done.status_code in (302, 303), done.get_data(as_text=True)[:300]
            self.csrf = _CSRF.search(self.http.get("/dashboard").get_data(as_text=True)).group(1)

    def get(self, path: str, **kw):
        return self.http.get(path, **kw)

    def post(self, path: str, body=None, *, csrf: bool = True):
        headers = {"X-CSRF-Token": self.csrf} if csrf and self.csrf else {}
        return self.http.post(path, json=body if body is not None else {}, headers=headers)


def test_who_may_edit(app):
    state = f"{API}/communities/{sm.COMMUNITY}/state"
    assert Client(app, None).get(state).status_code == 401
    assert Client(app, "cmd").get(state).status_code == 403  # a command-centre account is not a planner
    far = Client(app, "plan_far")
    assert far.get(state).status_code == 403  # another street's planner
    assert far.post(f"{API}/generations/1/approve").status_code == 404  # same answer as a missing generation:
    missing = far.post(f"{API}/generations/99/approve")
    assert missing.status_code == 404
    assert far.post(f"{API}/generations/1/approve").get_json()["error"]["message"] == "generation 1 not found"
    assert missing.get_json()["error"]["message"] == "generation 99 not found"
    bad = Client(app, "plan_a").get(f"{API}/communities/4106110010/state")
    assert bad.status_code == 400


def test_state_preview_save_and_a_stale_save(app, store):
    sm.demolish(store, [(0, 2), (0, 3), (2, 2), (2, 3), (0, 0), (0, 1), (2, 0), (2, 1)])
    alice, bob = Client(app, "plan_a"), Client(app, "plan_b")
    opened = alice.get(f"{API}/communities/{sm.COMMUNITY}/state").get_json()
    assert opened["base"]["generation_id"] == 1 and opened["base"]["status"] == "active"
    assert len(opened["grids"]["features"]) == 6 and len(opened["blocks"]["features"]) == sm.COLS * sm.ROWS
    props = {f["properties"]["code"]: f["properties"] for f in opened["grids"]["features"]}
    assert props[_code(1)]["households"] == 180 and props[_code(1)]["flags"] == ["under_min"]  # recounted now
    assert opened["out_of_band"] == 4 and opened["savable"] is False
    bob_view = bob.get(f"{API}/communities/{sm.COMMUNITY}/state").get_json()["base"]

    edits = [{"op": "merge", "grids": [_code(1), _code(2)]}]
    preview = alice.post(f"{API}/communities/{sm.COMMUNITY}/preview", {"generation_id": 1, "edits": edits})
    body = preview.get_json()
    assert preview.status_code == 200 and body["savable"] is True and body["base_out_of_band"] == 4
    assert {c["name"]: c["ok"] for c in body["certificate"]["checks"]}["households_in_band"] is False  # 4, 5 still
    assert len(body["grids"]["features"]) == 5
    no_csrf = alice.post(f"{API}/communities/{sm.COMMUNITY}/save",
                         {"generation_id": 1, "token": opened["base"]["token"], "edits": edits}, csrf=False)
    assert no_csrf.status_code == 403 and no_csrf.get_json()["error"]["code"] == "csrf_failed"
    saved = alice.post(f"{API}/communities/{sm.COMMUNITY}/save",
                       {"generation_id": 1, "token": opened["base"]["token"], "edits": edits, "note": "合并一、二"})
    assert saved.status_code == 201 and saved.get_json()["generation_id"] == 2

    stale = bob.post(f"{API}/communities/{sm.COMMUNITY}/save",
                     {"generation_id": 1, "token": bob_view["token"], "edits": [{"op": "merge",
                                                                                 "grids": [_code(4), _code(5)]}]})
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    draft_id = error["details"]["draft_id"]
    assert error["code"] == "stale_version" and draft_id in error["message"]
    mine = bob.get(f"{API}/drafts/{draft_id}")
    assert mine.status_code == 200 and mine.get_json()["draft"]["edits"][0]["grids"] == [_code(4), _code(5)]
    assert alice.get(f"{API}/drafts/{draft_id}").status_code == 404  # another planner's draft: not found
    listed = bob.get(f"{API}/communities/{sm.COMMUNITY}/drafts").get_json()["drafts"]
    assert [d["draft_id"] for d in listed] == [draft_id]
    invalid = alice.post(f"{API}/communities/{sm.COMMUNITY}/preview",
                         {"generation_id": 2, "edits": [{"op": "merge", "grids": [_code(1), _code(6)]}]})
    assert invalid.status_code == 400 and "do not share a boundary" in invalid.get_json()["error"]["message"]


def test_approve_activate_and_file(app, store):
    alice = Client(app, "plan_a")
    sm.add_buildings(store, [(2, 0)], households=60)
    plan = alice.post(f"{API}/communities/{sm.COMMUNITY}/rebalance", {"commit": True}).get_json()
    assert plan["ok"] and plan["committed"] and plan["blocks_moved"] >= 1
    gen = plan["generation_id"]
    early = alice.post(f"{API}/generations/{gen}/activate")
    assert early.status_code == 409  # staged: it must be approved first
    assert alice.post(f"{API}/generations/{gen}/approve", {"version": 1}).get_json()["status"] == "approved"
    again = alice.post(f"{API}/generations/{gen}/approve", {"version": 1})
    assert again.status_code == 409
    active = alice.post(f"{API}/generations/{gen}/activate", {"version": 2})
    assert active.status_code == 200, active.get_json()
    assert active.get_json()["retired"] == 1 and active.get_json()["relink"]["counts"]["unresolved"] == 0
    statuses = dict(zip(*[store.read(schema.GENERATIONS)[c] for c in ("generation_id", "status")], strict=True))
    assert statuses == {1: "retired", gen: "active"}
    listed = alice.get(f"{API}/communities/{sm.COMMUNITY}/generations").get_json()["generations"]
    assert [(g["generation_id"], g["status"]) for g in listed] == [(1, "retired"), (gen, "active")]
    pdf = alice.get(f"{API}/generations/{gen}/filing.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert f"{sm.COMMUNITY}_g{gen}.pdf" in pdf.headers["Content-Disposition"]
    gpkg = alice.get(f"{API}/generations/{gen}/filing.gpkg")
    assert gpkg.status_code == 200 and gpkg.data[:16] == b"SQLite format 3\x00"


def test_pages_need_a_planner(app):
    assert Client(app, None).get("/planner").status_code in (302, 303)  # to the login page
    assert Client(app, "cmd").get("/planner").status_code == 403
    alice = Client(app, "plan_a")
    index = alice.get("/planner")
    html = index.get_data(as_text=True)
    assert index.status_code == 200 and sm.COMMUNITY_NAME in html and 'data-testid="generation-1"' in html
    editor = alice.get(f"/planner/{sm.COMMUNITY}")
    assert editor.status_code == 200 and 'id="pl-map"' in editor.get_data(as_text=True)
    assert Client(app, "plan_far").get(f"/planner/{sm.COMMUNITY}").status_code == 403


def test_planner_texts_have_the_same_keys_and_placeholders():
    import string

    from gridmap.portal.i18n.planner import CATALOGUES

    zh, en = CATALOGUES["zh"], CATALOGUES["en"]
    assert set(zh) == set(en)
    fields = string.Formatter()
    for key in zh:
        assert {f for _, f, _, _ in fields.parse(zh[key]) if f} == {f for _, f, _, _ in fields.parse(en[key]) if f}, key


def test_openapi_describes_every_planner_route(app):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    routes = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("planner_api."):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            routes[path] = {m.lower() for m in rule.methods or ()} - {"head", "options"}
    assert len(routes) == 10
    for path, methods in routes.items():
        assert path in doc["paths"] and methods <= set(doc["paths"][path]), path


def test_the_editor_map_is_bounded_by_its_community(app, store):
    """Why the planner never switches to tiles: its state holds one community, whatever else the store holds.

    A neighbour (the same lattice shifted east, with its own buildings and staged grids) is in the
    store: the state of the sample community holds none of it, and asking for the neighbour's
    generation through the sample community is a 404.
    """
    from shapely import affinity

    from gridmap.services.generations import stage_generation

    neighbour = sm.STREET + "002"
    shift = sm.COLS * sm.DX + 0.001
    grids = sm.grids_from_layout(sm.LAYOUT_2X2)
    grids["code"] = [neighbour + c[-3:] for c in grids["code"]]
    grids["community_code"] = neighbour
    grids = grids.set_geometry(grids.geometry.translate(xoff=shift))
    areas = sm.areas_frame()
    areas = areas[areas["code"] == sm.COMMUNITY].assign(code=neighbour, name="邻居社区")
    areas = areas.set_geometry(areas.geometry.translate(xoff=shift))
    buildings = sm.buildings_frame().assign(community_code=neighbour)
    buildings = buildings.set_geometry(buildings.geometry.map(lambda g: affinity.translate(g, xoff=shift)))
    buildings["building_id"] = ["N" + str(b) for b in buildings["building_id"]]
    with store.transaction() as tx:
        tx.insert(schema.AREAS, areas)
        tx.insert(schema.BUILDINGS, buildings)
        other_gen = stage_generation(tx, neighbour, grids, created_by="setup")
    alice = Client(app, "plan_a")
    state = alice.get(f"{API}/communities/{sm.COMMUNITY}/state").get_json()
    assert [f["properties"]["code"] for f in state["community"]["features"]] == [sm.COMMUNITY]
    assert {f["properties"]["code"] for f in state["grids"]["features"]} == {_code(s) for s in range(1, 7)}
    assert len(state["blocks"]["features"]) == sm.COLS * sm.ROWS
    east = max(x for f in state["blocks"]["features"] for x in _xs(f["geometry"]))
    assert east <= sm.W + sm.COLS * sm.DX + 1e-9  # no block of the neighbour
    foreign = alice.get(f"{API}/communities/{sm.COMMUNITY}/state?generation={other_gen}")
    assert foreign.status_code == 404
    assert alice.get(f"{API}/communities/{neighbour}/state?generation={other_gen}").status_code == 200


def _xs(geometry: dict) -> list[float]:
    import shapely.geometry

    return [x for x, _ in shapely.get_coordinates(shapely.geometry.shape(geometry))]
