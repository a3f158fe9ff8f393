"""Area scoping in pages and API: each account sees exactly what its area code covers, and nothing
tells an account whether something exists outside its area.

Expected values are computed here from the sample lists with the documented rule (code prefix; an
incident's code is its most precise known one), never copied from the portal's output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from auth_sample import (
    ACCOUNTS,
    HOSTILE_CATEGORY,
    INCIDENTS,
    OPEN_STATUSES,
    UNHANDLED,
    WORKERS,
    csrf_of,
    incident_scope,
    login,
    seed_accounts,
    seed_workers_and_incidents,
)
from flask import Flask
from flask.testing import FlaskClient
from portal_sample import AREAS, GRIDS

from gridmap.auth.accounts import create_token
from gridmap.auth.principal import Principal
from gridmap.config import Settings
from gridmap.errors import AuthenticationError, NotFoundError
from gridmap.model import Role
from gridmap.portal.app import close_app, create_app
from gridmap.portal.auth import require_visible, rows_in_scope
from gridmap.portal.home.dashboard import area_numbers
from gridmap.portal.maps.tiled import script_json
from gridmap.store.base import Store

AREA_OF = {u: a for u, _, a, _ in ACCOUNTS}
BASE_GRIDS = [g for g in GRIDS if g[2] != "professional"]


@pytest.fixture
def scoped_store(sample_store: Store) -> Store:
    seed_accounts(sample_store)
    seed_workers_and_incidents(sample_store, {g[0]: g[5] for g in GRIDS})
    return sample_store


@pytest.fixture
def app(portal_settings: Settings, scoped_store: Store) -> Iterator[Flask]:
    app = create_app(portal_settings, store=scoped_store)
    yield app
    close_app(app)


def _codes(client: FlaskClient, query: str = "", **kwargs: object) -> list[str]:
    response = client.get(f"/api/v1/areas{query}", **kwargs)
    assert response.status_code == 200
    return sorted(f["properties"]["code"] for f in response.get_json()["features"])


@pytest.mark.parametrize("username", [u for u, *_ in ACCOUNTS])
def test_areas_api_returns_what_the_account_covers(client: FlaskClient, username: str) -> None:
    area = AREA_OF[username]
    login(client, username)
    assert _codes(client) == sorted(a[0] for a in AREAS if a[0].startswith(area))
    assert _codes(client, "?level=grid") == sorted(g[0] for g in GRIDS if g[0].startswith(area))
    assert _codes(client, "?level=community") == sorted(
        a[0] for a in AREAS if a[2] == "community" and a[0].startswith(area))


def test_the_public_sees_every_public_layer(client: FlaskClient) -> None:
    assert _codes(client) == sorted(a[0] for a in AREAS)
    assert _codes(client, "?level=grid") == sorted(g[0] for g in GRIDS)


def test_a_token_is_scoped_like_an_account(client: FlaskClient, scoped_store: Store) -> None:
    key = create_token(scoped_store, role="analyst", area_code="410611002", actor="test").api_key
    headers = {"Authorization": f"Bearer {key}"}
    assert _codes(client, "?level=grid", headers=headers) == sorted(g[0] for g in GRIDS if g[0].startswith("410611002"))


def _count(page: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]*)<', page)
    assert match, testid
    return match.group(1)


def test_home_map_and_counts_follow_the_account(client: FlaskClient) -> None:
    login(client, "cmd_xy")
    page = client.get("/").get_data(as_text=True)
    area = AREA_OF["cmd_xy"]
    assert _count(page, "count-communities") == "1"
    assert _count(page, "count-streets") == "0"
    assert _count(page, "count-grids") == str(sum(1 for g in BASE_GRIDS if g[0].startswith(area)))
    for code, *_ in GRIDS:  # the map draws the account's grids only
        assert (code in page) == code.startswith(area), code


def expected_numbers(area: str) -> dict[str, str]:
    covered = [i for i in INCIDENTS if incident_scope(i).startswith(area)]
    open_ = [i for i in covered if i[2] in OPEN_STATUSES]
    overdue = [i for i in open_ if i[2] in UNHANDLED and i[6] is not None and i[6] < 0]
    communities = [a for a in AREAS if a[2] == "community" and a[0].startswith(area)]
    grids = [g for g in BASE_GRIDS if g[0].startswith(area)]
    households = sum(a[4] for a in communities) if communities else sum(g[4] for g in grids)
    return {
        "stat-households": f"{households:,}",
        "stat-grids": str(len(grids)),
        "stat-workers": str(sum(1 for _, g, active in WORKERS if active and g.startswith(area))),
        "stat-open": str(len(open_)),
        "stat-overdue": str(len(overdue)),
    }


@pytest.mark.parametrize("username", [u for u, *_ in ACCOUNTS])
def test_dashboard_numbers_are_those_of_the_account_area(client: FlaskClient, username: str) -> None:
    login(client, username)
    page = client.get("/dashboard").get_data(as_text=True)
    got = {key: _count(page, key) for key in expected_numbers("")}
    assert got == expected_numbers(AREA_OF[username])


def test_area_numbers_for_the_whole_installation(scoped_store: Store) -> None:
    numbers = area_numbers(scoped_store, Principal("root", Role.ADMIN, ""))
    assert numbers.open_incidents == sum(1 for i in INCIDENTS if i[2] in OPEN_STATUSES) == 6
    assert numbers.overdue == 2 and numbers.workers == 4


def test_dashboard_map_shows_only_incidents_in_the_area_escaped(client: FlaskClient) -> None:
    login(client, "cmd_ty")
    page = client.get("/dashboard").get_data(as_text=True)
    area = AREA_OF["cmd_ty"]
    for row in INCIDENTS:
        shown = incident_scope(row).startswith(area) and row[2] in OPEN_STATUSES
        assert (row[0] in page) == shown, row[0]
    # The category is in the page only as script data (JSON, "<" as \u003c) that the map puts into
    # text nodes: never as markup (the popup text itself is checked in tests/browser/test_roles.py).
    assert HOSTILE_CATEGORY not in page and "<img src=x" not in page
    assert script_json(HOSTILE_CATEGORY) in page and page.count("onerror=alert(2)") == 1


def test_rows_in_scope_is_a_prefix_test() -> None:
    import pandas as pd

    frame = pd.DataFrame({"code": ["410611001001001", "410611001002001", None, "41061100100"]})
    ty = Principal("x", Role.WORKER, "410611001001")
    assert rows_in_scope(frame, ty)["code"].tolist() == ["410611001001001"]
    assert len(rows_in_scope(frame, Principal("r", Role.ADMIN, ""))) == 4
    assert rows_in_scope(frame, Principal("public", Role.PUBLIC, "", via="anonymous")).empty


# -- no existence oracle ------------------------------------------------------------------------


def test_require_visible_answers_the_same_for_missing_and_elsewhere() -> None:
    ty = Principal("cmd_ty", Role.COMMAND, "410611001001")
    with pytest.raises(NotFoundError) as elsewhere:
        require_visible(ty, "410611001002001", what="incident")
    missing = NotFoundError("incident not found")  # what a view raises when the id is unknown
    assert (elsewhere.value.http_status, elsewhere.value.code, elsewhere.value.message) == (
        missing.http_status, missing.code, missing.message)
    require_visible(ty, "410611001001002", what="incident")
    with pytest.raises(AuthenticationError):
        require_visible(Principal("public", Role.PUBLIC, "", via="anonymous"), "410611001001002", what="incident")


def test_disabling_an_account_outside_the_area_looks_like_a_missing_one(client: FlaskClient) -> None:
    login(client, "admin_jz")  # bound to street 410611001
    token = csrf_of(client)
    elsewhere = client.post("/admin/users/worker_ts/disable", data={"csrf_token": token})  # exists, in 410611002
    missing = client.post("/admin/users/nobody_here/disable", data={"csrf_token": token})
    assert elsewhere.status_code == missing.status_code == 404
    # Identical apart from the requested name itself (echoed in the page's language-switch links).
    assert elsewhere.get_data(as_text=True).replace("worker_ts", "NAME") == missing.get_data(as_text=True).replace(
        "nobody_here", "NAME")
    api_style = {"Accept": "application/json", "X-CSRF-Token": token}
    a = client.post("/admin/users/worker_ts/disable", headers=api_style).get_json()
    b = client.post("/admin/users/nobody_here/disable", headers=api_style).get_json()
    assert a == b == {"ok": False, "error": {"code": "not_found", "message": "account not found"}}


def test_users_list_of_an_area_admin_is_its_area(client: FlaskClient) -> None:
    login(client, "admin_jz")
    page = client.get("/admin/users").get_data(as_text=True)
    listed = set(re.findall(r'<tr data-testid="user-([a-z0-9_.-]+)"', page))
    assert listed == {u for u, *_ in ACCOUNTS if AREA_OF[u].startswith(AREA_OF["admin_jz"]) and AREA_OF[u]}


def test_pages_need_sign_in_and_the_right_role(client: FlaskClient) -> None:
    for path in ("/dashboard", "/account", "/admin/users", "/admin/audit"):
        assert client.get(path).headers["Location"] == f"/login?next={path}"
        assert client.get(path, headers={"Accept": "application/json"}).status_code == 401
    login(client, "cmd_ty")
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/dashboard").status_code == 200
