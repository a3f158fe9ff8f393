"""Sign-in, sessions, API keys, CSRF and rate limits of the portal (Flask test client, GeoPackage store)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from auth_sample import ACCOUNTS, PASSWORD, csrf_from, csrf_of, login, seed_accounts
from flask import Flask
from flask.testing import FlaskClient

from gridmap import schema
from gridmap.auth.accounts import create_token, revoke_token
from gridmap.auth.manage import set_account_active
from gridmap.config import Settings
from gridmap.portal.app import close_app, create_app
from gridmap.portal.auth import SESSION_AUTH_AT, SESSION_ID, _TtlCache, auth_state
from gridmap.portal.ratelimit import LIMITER_KEY, RateLimiter, Rule, rules_from_settings
from gridmap.store.base import Store

COMMUNITY = "410611001001"  # 桃园社区 (cmd_ty)


class FakeClock:
    """A clock the test moves by hand: rate limits and caches without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def accounts_store(sample_store: Store) -> Store:
    seed_accounts(sample_store)
    return sample_store


@pytest.fixture
def app(portal_settings: Settings, accounts_store: Store) -> Iterator[Flask]:
    app = create_app(portal_settings, store=accounts_store)
    yield app
    close_app(app)


def _audit(store: Store) -> list[dict]:
    return store.read(schema.AUDIT_LOG).sort_values("fid").to_dict("records")


# -- sign in ------------------------------------------------------------------------------------


def test_login_starts_a_scoped_session_and_lands_on_the_dashboard(client: FlaskClient) -> None:
    assert client.get("/dashboard").headers["Location"] == "/login?next=/dashboard"
    response = login(client, "cmd_ty")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("gridmap_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # served over http here
    grids = client.get("/api/v1/areas?level=grid").get_json()["features"]
    assert grids and all(f["properties"]["code"].startswith(COMMUNITY) for f in grids)


def test_session_cookie_is_secure_when_the_portal_is_served_over_https(
    portal_settings: Settings, accounts_store: Store
) -> None:
    app = create_app(portal_settings.replace(public_base_url="https://grid.example.cn"), store=accounts_store)
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    response = client.post("/login", base_url="https://localhost",
                           data={"username": "cmd_ty", "password": PASSWORD, "csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_wrong_password_is_a_401_form_error_and_audited_without_the_password(
    client: FlaskClient, accounts_store: Store
) -> None:
    response = login(client, "cmd_ty", "not-the-password-123")
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "用户名或密码错误" in page and 'data-testid="login-error"' in page
    assert "not-the-password-123" not in page
    login(client, "nobody", "whatever-password")
    rows = _audit(accounts_store)
    assert [(r["action"], r["actor"], r["detail"]["reason"]) for r in rows] == [
        ("login.failure", "cmd_ty", "wrong_password"), ("login.failure", "nobody", "unknown_user")]
    assert all(r["detail"]["client"] == "127.0.0.1" for r in rows)
    assert "not-the-password-123" not in repr(rows) and "whatever-password" not in repr(rows)
    login(client, "cmd_ty")
    assert _audit(accounts_store)[-1]["action"] == "login.success"


def test_the_same_message_for_unknown_user_and_wrong_password(client: FlaskClient) -> None:
    unknown = login(client, "nobody", "whatever-password")
    wrong = login(client, "cmd_ty", "whatever-password")
    assert unknown.status_code == wrong.status_code == 401
    strip = lambda html: html.split('name="csrf_token"')[0] + html.split('name="username"')[1].split("</form>")[1]  # noqa: E731
    assert strip(unknown.get_data(as_text=True)) == strip(wrong.get_data(as_text=True))


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_login_never_redirects_off_site(client: FlaskClient, target: str) -> None:
    response = login(client, "cmd_ty", next=target)
    assert response.headers["Location"] == "/dashboard"


def test_login_returns_to_a_local_page(client: FlaskClient) -> None:
    assert login(client, "root", next="/admin/audit?page=1").headers["Location"] == "/admin/audit?page=1"


def test_login_rotates_the_session_and_its_csrf_token(client: FlaskClient) -> None:
    anonymous_token = csrf_from(client.get("/login").get_data(as_text=True))
    login(client, "cmd_ty")
    with client.session_transaction() as session:
        first_sid = session[SESSION_ID]
    signed_in_token = csrf_of(client)
    assert signed_in_token != anonymous_token
    # The pre-login token no longer works for a state-changing request.
    assert client.post("/logout", data={"csrf_token": anonymous_token}).status_code == 403
    # Signing in again (another account, same browser) gives a new session id and token too.
    again = client.post("/login", data={"username": "cmd_xy", "password": PASSWORD, "csrf_token": signed_in_token})
    assert again.status_code == 302
    with client.session_transaction() as session:
        assert session[SESSION_ID] != first_sid and session["uid"] == "cmd_xy"
    assert csrf_of(client) not in (signed_in_token, anonymous_token)


def test_logout_ends_the_session_and_a_copied_cookie_stops_working(app: Flask, accounts_store: Store) -> None:
    client = app.test_client()
    login(client, "cmd_ty")
    stolen = client.get_cookie("gridmap_session").value
    response = client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/dashboard").status_code == 302
    replay = app.test_client()
    replay.set_cookie("gridmap_session", stolen)
    assert replay.get("/dashboard").headers["Location"].startswith("/login")
    assert [r["action"] for r in _audit(accounts_store)][-1] == "logout"


def test_logout_needs_post_with_the_token(client: FlaskClient) -> None:
    login(client, "cmd_ty")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 403
    assert client.get("/dashboard").status_code == 200  # still signed in


def test_a_session_expires_after_its_lifetime(client: FlaskClient, portal_settings: Settings) -> None:
    login(client, "cmd_ty")
    with client.session_transaction() as session:
        session[SESSION_AUTH_AT] = time.time() - portal_settings.session_lifetime_min * 60 - 1
    assert client.get("/dashboard").headers["Location"].startswith("/login")


def test_disabling_an_account_ends_its_sessions_after_the_cache_time(app: Flask, accounts_store: Store) -> None:
    clock = FakeClock()
    state = auth_state(app)
    state.accounts = _TtlCache(5.0, clock=clock)
    client = app.test_client()
    login(client, "cmd_ty")
    assert client.get("/dashboard").status_code == 200
    set_account_active(accounts_store, "cmd_ty", active=False, actor="test")  # e.g. from the CLI
    clock.now += 4.9
    assert client.get("/dashboard").status_code == 200  # cached a moment longer
    clock.now += 0.2
    assert client.get("/dashboard").headers["Location"].startswith("/login")
    assert login(client, "cmd_ty").status_code == 401
    assert _audit(accounts_store)[-1]["detail"]["reason"] == "disabled"


# -- API keys -----------------------------------------------------------------------------------


def test_bearer_header_and_api_key_parameter_scope_the_api(client: FlaskClient, accounts_store: Store) -> None:
    issued = create_token(accounts_store, role="command", area_code=COMMUNITY, actor="test")
    for response in (
        client.get("/api/v1/areas?level=grid", headers={"Authorization": f"Bearer {issued.api_key}"}),
        client.get(f"/api/v1/areas?level=grid&api_key={issued.api_key}"),
    ):
        codes = [f["properties"]["code"] for f in response.get_json()["features"]]
        assert codes and all(c.startswith(COMMUNITY) for c in codes)
    everything = [f["properties"]["code"] for f in client.get("/api/v1/areas?level=grid").get_json()["features"]]
    assert len(everything) > len(codes)


@pytest.mark.parametrize("key", ["gm_nothere_secret", "not-a-key", "gm__"])
def test_a_bad_api_key_is_401_not_the_public(client: FlaskClient, key: str) -> None:
    response = client.get("/api/v1/areas", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"


def test_a_revoked_key_stops_working(app: Flask, accounts_store: Store) -> None:
    auth_state(app).tokens = _TtlCache(0.0)  # no caching: revocation is seen at once
    issued = create_token(accounts_store, role="analyst", area_code="410611", actor="test")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {issued.api_key}"}
    assert client.get("/api/v1/areas", headers=headers).status_code == 200
    revoke_token(accounts_store, issued.token_id, actor="test")
    assert client.get("/api/v1/areas", headers=headers).status_code == 401


def test_a_token_cannot_use_the_account_page(client: FlaskClient, accounts_store: Store) -> None:
    issued = create_token(accounts_store, role="command", area_code=COMMUNITY, actor="test")
    response = client.get("/account", headers={"Authorization": f"Bearer {issued.api_key}"})
    assert response.status_code == 400


# -- CSRF ---------------------------------------------------------------------------------------

BATCH = {"points": [[114.01, 35.75]]}


def test_cookie_authenticated_json_post_needs_the_csrf_header(client: FlaskClient) -> None:
    login(client, "cmd_ty")
    refused = client.post("/api/v1/lookup/batch", json=BATCH)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "csrf_failed"
    wrong = client.post("/api/v1/lookup/batch", json=BATCH, headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    ok = client.post("/api/v1/lookup/batch", json=BATCH, headers={"X-CSRF-Token": csrf_of(client)})
    assert ok.status_code == 200 and ok.get_json()["codes"] == ["410611001001001"]


def test_token_and_anonymous_api_posts_need_no_csrf_token(client: FlaskClient, accounts_store: Store) -> None:
    assert client.post("/api/v1/lookup/batch", json=BATCH).status_code == 200  # no ambient authority
    issued = create_token(accounts_store, role="command", area_code=COMMUNITY, actor="test")
    response = client.post("/api/v1/lookup/batch", json=BATCH, headers={"Authorization": f"Bearer {issued.api_key}"})
    assert response.status_code == 200


def test_anonymous_form_posts_need_the_token(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": "cmd_ty", "password": PASSWORD})
    assert response.status_code == 403
    assert "csrf_failed" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "uid" not in session


def test_signed_in_pages_carry_the_token_for_scripts(client: FlaskClient) -> None:
    assert 'name="csrf-token"' not in client.get("/").get_data(as_text=True)  # no session for the public
    login(client, "cmd_ty")
    page = client.get("/").get_data(as_text=True)
    assert f'<meta name="csrf-token" content="{csrf_of(client)}">' in page


# -- rate limits --------------------------------------------------------------------------------


def test_token_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"r": Rule("r", rate_per_s=2.0, burst=3)}, clock=clock)
    assert [limiter.hit("r", "a") for _ in range(3)] == [None, None, None]
    assert limiter.hit("r", "a") == pytest.approx(0.5)  # one token takes 1/2 s
    assert limiter.hit("r", "b") is None  # another client has its own bucket
    clock.now += 0.5
    assert limiter.hit("r", "a") is None
    assert limiter.hit("r", "a") == pytest.approx(0.5)
    clock.now += 100
    assert [limiter.hit("r", "a") for _ in range(4)][-1] is not None  # refills to the burst, not beyond


def test_token_bucket_is_exact_under_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    limiter = RateLimiter({"r": Rule("r", rate_per_s=1e-9, burst=100)}, clock=FakeClock())
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: limiter.hit("r", "ip"), range(400)))
    assert sum(r is None for r in results) == 100


def test_bucket_memory_is_bounded() -> None:
    limiter = RateLimiter({"r": Rule("r", rate_per_s=1.0, burst=1)}, clock=FakeClock(), max_buckets=10)
    for i in range(50):
        limiter.hit("r", f"10.0.0.{i}")
    assert len(limiter._buckets) == 10


def test_login_is_rate_limited_per_client_with_retry_after(portal_settings: Settings, accounts_store: Store) -> None:
    settings = portal_settings.replace(rate_limit_login_per_min=3)
    app = create_app(settings, store=accounts_store)
    clock = FakeClock()
    app.extensions[LIMITER_KEY] = RateLimiter(rules_from_settings(settings), clock=clock)
    client = app.test_client()
    assert [login(client, "cmd_ty", "wrong-password-1").status_code for _ in range(3)] == [401, 401, 401]
    limited = login(client, "cmd_ty")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "20"  # 3/min: one every 20 s
    other = app.test_client()
    page = other.get("/login", environ_base={"REMOTE_ADDR": "10.1.2.3"}).get_data(as_text=True)
    response = other.post("/login", environ_base={"REMOTE_ADDR": "10.1.2.3"},
                          data={"username": "cmd_ty", "password": PASSWORD, "csrf_token": csrf_from(page)})
    assert response.status_code == 302  # another address is not affected
    clock.now += 20
    assert login(client, "cmd_ty").status_code == 302


def test_anonymous_reads_and_writes_are_limited_but_sessions_are_not(
    portal_settings: Settings, accounts_store: Store
) -> None:
    settings = portal_settings.replace(rate_limit_public_read_per_s=2, rate_limit_public_write_per_min=1)
    app = create_app(settings, store=accounts_store)
    app.extensions[LIMITER_KEY] = RateLimiter(rules_from_settings(settings), clock=FakeClock())
    client = app.test_client()
    statuses = [client.get("/api/v1/health").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # burst = 2 s worth
    body = client.get("/api/v1/health").get_json()
    assert body["error"]["code"] == "rate_limited" and body["error"]["details"]["retry_after_s"] == 1
    assert client.get("/static/css/gridmap.css").status_code == 200  # static files are free
    assert [client.post("/api/v1/lookup/batch", json=BATCH).status_code for _ in range(2)] == [200, 429]
    signed_in = app.test_client()
    signed_in.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    assert login(signed_in, "cmd_ty").status_code == 302  # GET /login used this address's read budget
    assert all(signed_in.get("/api/v1/health").status_code == 200 for _ in range(10))


def test_bad_credentials_count_as_anonymous_traffic(portal_settings: Settings, accounts_store: Store) -> None:
    settings = portal_settings.replace(rate_limit_public_read_per_s=1)
    app = create_app(settings, store=accounts_store)
    app.extensions[LIMITER_KEY] = RateLimiter(rules_from_settings(settings), clock=FakeClock())
    client = app.test_client()
    headers = {"Authorization": "Bearer gm_guess_guess"}
    assert [client.get("/api/v1/areas", headers=headers).status_code for _ in range(3)] == [401, 401, 429]


def test_rules_follow_settings_and_zero_switches_a_rule_off() -> None:
    rules = rules_from_settings(Settings(rate_limit_login_per_min=0, rate_limit_public_read_per_s=50))
    assert "login" not in rules
    assert rules["read"] == Rule("read", 50.0, 100.0)
    assert rules["write"].rate_per_s == pytest.approx(Settings().rate_limit_public_write_per_min / 60)


def test_every_sample_account_can_sign_in(client: FlaskClient) -> None:
    for username, *_ in ACCOUNTS:
        assert login(client, username).headers["Location"] == "/dashboard"
        client.post("/logout", data={"csrf_token": csrf_of(client)})


@pytest.mark.parametrize(("hops", "expected"), [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_client_address_trusts_x_forwarded_for_only_behind_configured_proxies(
    portal_settings: Settings, accounts_store: Store, hops: int, expected: str
) -> None:
    app = create_app(portal_settings.replace(trusted_proxy_hops=hops), store=accounts_store)
    client = app.test_client()
    headers = {"X-Forwarded-For": "203.0.113.9"}
    page = client.get("/login", headers=headers).get_data(as_text=True)
    client.post("/login", headers=headers,
                data={"username": "cmd_ty", "password": "wrong-password", "csrf_token": csrf_from(page)})
    assert _audit(accounts_store)[-1]["detail"]["client"] == expected  # also the rate-limit key
