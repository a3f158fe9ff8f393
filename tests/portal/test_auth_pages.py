"""Account, users and audit pages: field messages on bad input, hostile strings escaped, labels,
skip link, language, contrast of the palette, audit filters and pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from auth_sample import ACCOUNTS, HOSTILE_NAME, PASSWORD, csrf_of, login, seed_accounts
from flask import Flask
from flask.testing import FlaskClient

from gridmap import schema
from gridmap.config import Settings
from gridmap.portal.app import close_app, create_app
from gridmap.portal.home.dashboard import NAV_ITEMS
from gridmap.store.base import Store

WEB = Path(__file__).resolve().parents[2] / "web"


@pytest.fixture
def accounts_store(sample_store: Store) -> Store:
    seed_accounts(sample_store)
    return sample_store


@pytest.fixture
def app(portal_settings: Settings, accounts_store: Store) -> Iterator[Flask]:
    app = create_app(portal_settings, store=accounts_store)
    yield app
    close_app(app)


class Form(HTMLParser):
    """Collects inputs/selects (id, type, attributes), labels (for) and the order of body elements."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labels: set[str] = set()
        self.first_body_child: tuple[str, dict[str, str | None]] | None = None
        self._in_body = False
        self.ids: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids[str(a["id"])] = a
        if tag == "body":
            self._in_body = True
            return
        if self._in_body and self.first_body_child is None:
            self.first_body_child = (tag, a)
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append({"tag": tag, **a})
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))


def parse(html: str) -> Form:
    form = Form()
    form.feed(html)
    return form


def field_error(html: str, name: str) -> str | None:
    match = re.search(rf'<p class="gm-field-error" id="e-{name}"[^>]*>([^<]*)</p>', html)
    return match.group(1) if match else None


# -- forms: messages next to the field -----------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password", "field", "zh", "en"),
    [
        ("", PASSWORD, "username", "此项必填。", "This field is required."),
        ("x" * 65, PASSWORD, "username", "最多64个字符。", "At most 64 characters."),
        ("cmd_ty", "", "password", "此项必填。", "This field is required."),
        ("cmd_ty", "p" * 1025, "password", "最多1024个字符。", "At most 1024 characters."),
    ],
)
def test_login_form_rejects_bad_input_next_to_the_field(
    client: FlaskClient, username: str, password: str, field: str, zh: str, en: str
) -> None:
    for lang, message in (("zh", zh), ("en", en)):
        client.get(f"/login?lang={lang}")
        response = login(client, username, password)
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert field_error(html, field) == message
        control = parse(html).ids[f"f-{field}"]
        assert control["aria-invalid"] == "true" and f"e-{field}" in str(control["aria-describedby"])
        assert password not in html or not password  # a password is never sent back
    with client.session_transaction() as session:
        assert "uid" not in session


def test_account_page_changes_the_password(client: FlaskClient) -> None:
    login(client, "cmd_xy")
    token = csrf_of(client)

    def change(current: str, new: str, confirm: str) -> tuple[int, str]:
        response = client.post("/account/password", data={"csrf_token": token, "current_password": current,
                                                           "new_password": new, "confirm_password": confirm})
        return response.status_code, response.get_data(as_text=True)

    status, html = change("", "new-password-1", "new-password-1")
    assert status == 400 and field_error(html, "current_password") == "此项必填。"
    status, html = change(PASSWORD, "short", "short")
    assert status == 400 and field_error(html, "new_password") == "至少8个字符。"
    status, html = change(PASSWORD, "new-password-1", "new-password-2")
    assert status == 400 and field_error(html, "confirm_password") == "两次输入的密码不一致。"
    status, html = change("wrong-password", "new-password-1", "new-password-1")
    assert status == 400 and field_error(html, "current_password") == "当前密码不正确。"
    assert "new-password-1" not in html
    status, _ = change(PASSWORD, "new-password-1", "new-password-1")
    assert status == 302
    assert 'data-testid="password-changed"' in client.get("/account?changed=1").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert login(client, "cmd_xy").status_code == 401
    assert login(client, "cmd_xy", "new-password-1").status_code == 302


def _add(client: FlaskClient, **fields: str) -> tuple[int, str]:
    data = {"csrf_token": csrf_of(client), "username": "new.user", "display_name": "新用户", "role": "worker",
            "area_code": "410611001001001", "password": "a-good-password", **fields}
    response = client.post("/admin/users", data=data)
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"username": ""}, "username", "此项必填。"),
        ({"username": "Bad Name!"}, "username", "只能使用小写字母、数字和 _ . -"),
        ({"username": "u" * 65}, "username", "最多64个字符。"),
        ({"display_name": "名" * 101}, "display_name", "最多100个字符。"),
        ({"role": "emperor"}, "role", "请从列表中选择。"),
        ({"role": "public"}, "role", "请从列表中选择。"),
        ({"area_code": "41061x"}, "area_code", "区域编码应为6、9、12或15位数字。"),
        ({"area_code": "410611002001"}, "area_code", "该区域不在您的辖区内。"),  # another street
        ({"area_code": "410611001009"}, "area_code", "该区域不存在。"),
        ({"area_code": ""}, "area_code", "此项必填。"),
        ({"password": "short"}, "password", "至少8个字符。"),
        ({"username": "cmd_ty"}, "username", "该用户名已存在。"),
    ],
)
def test_add_user_rejects_bad_input_next_to_the_field(
    client: FlaskClient, accounts_store: Store, fields: dict[str, str], field: str, message: str
) -> None:
    login(client, "admin_jz")
    before = len(accounts_store.read(schema.ACCOUNTS))
    status, html = _add(client, **fields)
    assert status == 400
    assert field_error(html, field) == message
    assert "a-good-password" not in html
    assert len(accounts_store.read(schema.ACCOUNTS)) == before


def test_add_disable_enable_a_user(app: Flask, client: FlaskClient, accounts_store: Store) -> None:
    login(client, "admin_jz")
    status, _ = _add(client)
    assert status == 302
    worker = app.test_client()
    assert login(worker, "new.user", "a-good-password").status_code == 302
    assert worker.get("/dashboard").status_code == 200
    token = csrf_of(client)
    assert client.post("/admin/users/new.user/disable", data={"csrf_token": token}).status_code == 302
    assert worker.get("/dashboard").status_code == 302  # its session ended at once
    assert client.post("/admin/users/new.user/enable", data={"csrf_token": token}).status_code == 302
    assert client.post("/admin/users/admin_jz/disable", data={"csrf_token": token}).status_code == 403  # not oneself
    actions = accounts_store.read(schema.AUDIT_LOG)["action"].tolist()
    assert [a for a in actions if a.startswith("account.")] == ["account.add", "account.disable", "account.enable"]


# -- hostile strings ----------------------------------------------------------------------------


def test_hostile_display_name_is_text_everywhere(client: FlaskClient) -> None:
    login(client, "cmd_ty")  # display name is HOSTILE_NAME
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    for path in ("/account", "/dashboard"):
        html = client.get(path).get_data(as_text=True)
        assert HOSTILE_NAME not in html
    assert escaped in client.get("/account").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    login(client, "root")
    users = client.get("/admin/users").get_data(as_text=True)
    assert HOSTILE_NAME not in users and escaped in users


def test_hostile_login_name_is_escaped_in_the_audit_viewer(client: FlaskClient) -> None:
    hostile = '"><img src=x onerror=alert(3)>'
    assert login(client, hostile, "whatever-password").status_code == 401
    login(client, "root")
    html = client.get("/admin/audit").get_data(as_text=True)
    assert hostile not in html and "onerror=alert(3)>" not in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(3)&gt;" in html


# -- accessibility basics -----------------------------------------------------------------------

PAGES = {"root": ("/admin/users", "/admin/audit", "/account", "/dashboard"), None: ("/login", "/", "/resident")}


@pytest.mark.parametrize("user", list(PAGES))
def test_every_control_has_a_label_and_the_skip_link_comes_first(client: FlaskClient, user: str | None) -> None:
    if user:
        login(client, user)
    for path in PAGES[user]:
        html = client.get(path).get_data(as_text=True)
        form = parse(html)
        unlabelled = [c for c in form.controls if c.get("id") not in form.labels and not c.get("aria-label")]
        assert unlabelled == [], (path, unlabelled)
        assert form.first_body_child == ("a", {"class": "gm-skip", "href": "#main"}), path
        assert form.ids["main"]["tabindex"] == "-1"
        assert re.search(r'<html lang="zh-CN">', html)


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_text_colours_meet_wcag_aa_contrast() -> None:
    css = (WEB / "static/css/gridmap.css").read_text() + (WEB / "static/css/portal-ui.css").read_text()
    var = dict(re.findall(r"(--gm-[a-z-]+):\s*(#[0-9a-fA-F]{6})", css))
    white, page_bg, current_nav, error_bg, table_head = "#ffffff", "#f7f9fa", "#e8f1f8", "#fdedec", "#eef2f5"
    pairs = [
        (var["--gm-ink"], white), (var["--gm-ink"], page_bg), (var["--gm-ink"], table_head),
        (var["--gm-muted"], white), (var["--gm-muted"], page_bg),
        (var["--gm-blue"], white), (var["--gm-blue"], current_nav), (white, var["--gm-blue"]),
        (var["--gm-error"], white), (var["--gm-error"], error_bg), (var["--gm-ok-ink"], var["--gm-ok-bg"]),
        (white, var["--gm-ink"]),  # the focused skip link
    ]
    low = [(fg, bg, round(contrast(fg, bg), 2)) for fg, bg in pairs if contrast(fg, bg) < 4.5]
    assert low == []
    assert contrast(var["--gm-focus"], white) >= 3.0  # focus ring: non-text contrast


# -- navigation ---------------------------------------------------------------------------------


def _nav(html: str) -> list[str]:
    return re.findall(r'data-testid="nav-([a-z_.]+)"', html)


def test_navigation_follows_the_role(app: Flask, client: FlaskClient) -> None:
    registered = set(app.view_functions)
    public = _nav(client.get("/").get_data(as_text=True))
    assert public == [i.endpoint for i in NAV_ITEMS if i.roles is None and i.endpoint in registered]
    assert "dashboard.dashboard" not in public and 'data-testid="login-link"' in client.get("/").get_data(as_text=True)
    login(client, "root")
    admin = _nav(client.get("/").get_data(as_text=True))
    assert {"dashboard.dashboard", "admin.users", "admin.audit"} <= set(admin)
    client.post("/logout", data={"csrf_token": csrf_of(client)})
    login(client, "worker_ts")
    worker = _nav(client.get("/").get_data(as_text=True))
    assert "dashboard.dashboard" in worker and "admin.users" not in worker and "admin.audit" not in worker


@pytest.mark.parametrize("username", [u for u, *_ in ACCOUNTS])
def test_each_role_has_its_dashboard_title(client: FlaskClient, username: str) -> None:
    role = next(r for u, r, *_ in ACCOUNTS if u == username)
    login(client, username)
    zh = client.get("/dashboard").get_data(as_text=True)
    en = client.get("/dashboard?lang=en").get_data(as_text=True)
    from gridmap.portal.i18n.messages_en import MESSAGES as EN
    from gridmap.portal.i18n.messages_zh import MESSAGES as ZH

    assert f'data-testid="dashboard-title">{ZH["dashboard.title." + role]}<' in zh  # zh is the default
    assert f'data-testid="dashboard-title">{EN["dashboard.title." + role]}<' in en
    assert f'data-role="{role}"' in zh


# -- audit viewer -------------------------------------------------------------------------------


def _seed_audit(store: Store, n: int) -> datetime:
    start = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in China
    rows = pd.DataFrame([{"at": pd.Timestamp(start + timedelta(hours=6 * i)), "actor": f"user{i % 3}",
                          "action": ("login.success", "login.failure", "account.add")[i % 3], "target": f"t{i}",
                          "detail": {"i": i, "名": "值"}} for i in range(n)])
    with store.transaction() as tx:
        tx.insert(schema.AUDIT_LOG, rows)
    return start


def _rows(html: str) -> list[str]:
    """(time, actor, action code, action label) per row."""
    return re.findall(r'<tr data-testid="audit-row">\s*<td>([^<]*)</td><td>([^<]*)</td>'
                      r'<td title="[^"]*" data-action="([^"]*)">([^<]*)</td>', html)


def test_audit_viewer_filters_and_pages(client: FlaskClient, accounts_store: Store) -> None:
    _seed_audit(accounts_store, 120)
    login(client, "root")  # adds its own login.success row
    first = client.get("/admin/audit").get_data(as_text=True)
    assert "第1页,共3页(共121条)" in first and len(_rows(first)) == 50
    assert _rows(first)[0][1] == "root"  # newest first
    third = client.get("/admin/audit?page=3").get_data(as_text=True)
    assert len(_rows(third)) == 21 and _rows(third)[-1][1] == "user0"
    assert '"名": "值"' in third.replace("&#34;", '"')  # detail shown as readable JSON text
    by_actor = client.get("/admin/audit?actor=user1").get_data(as_text=True)
    assert "共40条" in by_actor and {r[1] for r in _rows(by_actor)} == {"user1"}
    family = client.get("/admin/audit?action=login.").get_data(as_text=True)
    assert "共81条" in family and {r[2] for r in _rows(family)} == {"login.success", "login.failure"}
    assert {(r[2], r[3]) for r in _rows(family)} == {("login.success", "登录成功"), ("login.failure", "登录失败")}
    assert '<option value="account.add">添加账号</option>' in first  # the filter lists actions by name too
    # Days are China-time days: entries at 10:00, 16:00, 22:00 (+08:00) fall on the 1st, 04:00 on the 2nd.
    day = client.get("/admin/audit?from=2025-03-01&to=2025-03-01").get_data(as_text=True)
    assert "共3条" in day
    assert "2025年3月1日 22:00:00" in day  # entry 2 at 14:00 UTC
    english = client.get("/admin/audit?from=2025-03-01&to=2025-03-01&lang=en").get_data(as_text=True)
    assert "Mar 1, 2025, 10:00:00\u202fPM" in english  # CLDR puts a narrow no-break space before PM
    assert "Page 1 of 1 (3 entries)" in english
    assert {r[3] for r in _rows(english)} == {"Signed in", "Failed sign-in", "Account added"}
    next_link = re.search(r'href="([^"]+)" rel="next"', family)  # 81 rows: 2 pages, the filter kept
    assert next_link and "action=login." in next_link.group(1) and "page=2" in next_link.group(1)


@pytest.mark.parametrize(("query", "field", "message"), [
    ("from=2025-13-01", "from", "日期格式应为 年-月-日,如 2025-11-21。"),
    ("to=yesterday", "to", "日期格式应为 年-月-日,如 2025-11-21。"),
    ("action=drop.table", "action", "请从列表中选择。"),
    ("actor=" + "a" * 70, "actor", "最多65个字符。"),
])
def test_audit_viewer_rejects_bad_filters_next_to_the_field(
    client: FlaskClient, query: str, field: str, message: str
) -> None:
    login(client, "root")
    response = client.get(f"/admin/audit?{query}")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert field_error(html, field) == message and _rows(html) == []


def test_audit_viewer_is_for_installation_admins(client: FlaskClient) -> None:
    login(client, "admin_jz")
    assert client.get("/admin/audit").status_code == 403
    home, board = client.get("/").get_data(as_text=True), client.get("/dashboard").get_data(as_text=True)
    assert "admin.users" in _nav(home) and "admin.audit" not in _nav(home)  # no link to a page that says 403
    assert 'href="/admin/audit"' not in board


def test_an_action_without_a_name_yet_is_shown_by_its_code(client: FlaskClient, accounts_store: Store) -> None:
    with accounts_store.transaction() as tx:
        tx.insert(schema.AUDIT_LOG, pd.DataFrame([{"at": pd.Timestamp.now(tz="UTC"), "actor": "x",
                                                   "action": "future.thing", "target": None, "detail": None}]))
    login(client, "root")
    rows = _rows(client.get("/admin/audit?action=future.thing").get_data(as_text=True))
    assert [(r[2], r[3]) for r in rows] == [("future.thing", "future.thing")]


def test_new_pages_use_only_vendored_assets(client: FlaskClient) -> None:
    """No page of this part loads anything from another origin (maps included: basemap none)."""
    pages = {"/login": client.get("/login").get_data(as_text=True)}
    login(client, "root")
    for path in ("/dashboard", "/account", "/admin/users", "/admin/audit"):
        pages[path] = client.get(path).get_data(as_text=True)
    for path, html in pages.items():
        external = re.findall(r'(?:src|href)="((?:https?:)?//[^"]+)"', html)
        assert external == [], (path, external)
    assert '/static/vendor/leaflet-1.9.3/leaflet.js' in pages["/dashboard"]
    assert '/static/js/live.js' in pages["/dashboard"]
