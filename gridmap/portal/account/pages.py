"""Sign in, sign out and the account page (``/login``, ``/logout``, ``/account``).

Forms are checked here field by field and re-rendered with the message next to the field (400),
because a form error belongs beside its input, not on an error page. Everything else (401, 403, 429,
CSRF) goes through ``gridmap.portal.errors``. Every sign-in attempt that reaches the password check is
audited (success or failure, the client address, never the password); so are sign-outs and password
changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Blueprint, Response, make_response, redirect, render_template, request, url_for

from gridmap.errors import AuthenticationError, ValidationError
from gridmap.portal.auth import auth_state, client_ip, current_principal, login_required, login_user, logout_user
from gridmap.portal.csrf import rotate_csrf
from gridmap.portal.i18n.translator import LANG_COOKIE, LANG_COOKIE_MAX_AGE_S, LANGUAGES, current_language, translate
from gridmap.portal.ratelimit import rate_limited
from gridmap.portal.state import portal_state
from gridmap.services.accounts import (
    MAX_PASSWORD_LENGTH,
    MAX_USERNAME_LENGTH,
    MIN_PASSWORD_LENGTH,
    AccountInfo,
    audit_login,
    audit_logout,
    authenticate,
    change_password,
    get_account,
)

bp = Blueprint("account", __name__)

#: Where a signed-in user lands when the login form named no page to return to.
LANDING_ENDPOINT = "dashboard.dashboard"
MAX_DISPLAY_NAME_LENGTH = 100


@dataclass
class FormCheck:
    """Values and per-field error messages of one submitted form."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def text(
        self, form: Mapping[str, str], name: str, *, required: bool = True, max_length: int, min_length: int = 0,
        strip: bool = True,
    ) -> str:
        """A text field: kept for re-display (passwords excepted by the caller), error when empty or too long."""
        raw = form.get(name, "")
        value = raw.strip() if strip else raw
        self.values[name] = value
        lang = current_language()
        if not value:
            if required:
                self.errors[name] = translate("form.required", lang)
        elif len(value) > max_length:
            self.errors[name] = translate("form.too_long", lang, max=max_length)
        elif len(value) < min_length:
            self.errors[name] = translate("form.too_short", lang, min=min_length)
        return value

    def fail(self, name: str, key: str, **params: object) -> None:
        self.errors.setdefault(name, translate(key, current_language(), **params))

    @property
    def ok(self) -> bool:
        return not self.errors


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site (no scheme, no host, no ``//``), else None: no open redirect."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(c in target for c in "\r\n\\"):
        return None
    return target


def _landing(next_target: str | None) -> str:
    return safe_next(next_target) or url_for(LANDING_ENDPOINT)


def _login_page(check: FormCheck, status: int, *, message: str | None = None) -> Response:
    body = render_template("account/login.html", form=check, message=message, next=safe_next(check.values.get("next")))
    return make_response(body, status)


@bp.get("/login")
def login() -> Response:
    """The sign-in form (a signed-in user goes straight to the landing page)."""
    if not current_principal().is_public:
        return redirect(_landing(request.args.get("next")))  # type: ignore[return-value]
    check = FormCheck(values={"next": request.args.get("next", "")})
    return _login_page(check, 200)


@bp.post("/login")
@rate_limited("login")
def login_post() -> Response:
    """Check the form, then the password; audit the attempt; start a fresh session."""
    form = request.form
    check = FormCheck()
    username = check.text(form, "username", max_length=MAX_USERNAME_LENGTH)
    password = check.text(form, "password", max_length=MAX_PASSWORD_LENGTH, strip=False)
    check.values["password"] = ""  # never sent back
    check.values["next"] = form.get("next", "")
    if not check.ok:
        return _login_page(check, 400)
    store = portal_state().store
    try:
        principal = authenticate(store, username, password)
    except AuthenticationError:
        known = get_account(store, username)
        reason = "unknown_user" if known is None else ("disabled" if not known.active else "wrong_password")
        audit_login(store, username, success=False, client=client_ip(), reason=reason)
        return _login_page(check, 401, message=translate("login.failed", current_language()))
    account = get_account(store, principal.name)
    assert account is not None  # authenticate just read it
    login_user(account)
    rotate_csrf()
    audit_login(store, account.username, success=True, client=client_ip())
    response = redirect(_landing(check.values["next"]))
    if account.lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, str(account.lang), max_age=LANG_COOKIE_MAX_AGE_S, httponly=True,
                            samesite="Lax", secure=request.is_secure)
    return response  # type: ignore[return-value]


@bp.post("/logout")
def logout() -> Response:
    """End the session (POST with the CSRF token: a link on another site cannot sign anyone out)."""
    principal = current_principal()
    if principal.via == "session":
        audit_logout(portal_state().store, principal.name, client=client_ip())
    logout_user()
    return redirect(url_for("pages.home"))  # type: ignore[return-value]


def _account_info() -> AccountInfo:
    principal = current_principal()
    account = auth_state().account(principal.name) if principal.via == "session" else None
    if account is None:  # a token has no account page
        raise ValidationError("the account page is for people signed in with a password, not for API tokens")
    return account


def _account_page(check: FormCheck, status: int, *, changed: bool = False) -> Response:
    body = render_template("account/account.html", account=_account_info(), form=check, changed=changed)
    return make_response(body, status)


@bp.get("/account")
@login_required
def account() -> Response:
    """Who am I (role, area) and the change-password form."""
    return _account_page(FormCheck(), 200, changed=request.args.get("changed") == "1")


@bp.post("/account/password")
@login_required
def account_password() -> Response:
    """Change the password: current one checked, new one twice, rules as for new accounts."""
    info = _account_info()
    form = request.form
    check = FormCheck()
    current = check.text(form, "current_password", max_length=MAX_PASSWORD_LENGTH, strip=False)
    new = check.text(form, "new_password", max_length=MAX_PASSWORD_LENGTH, min_length=MIN_PASSWORD_LENGTH,
                     strip=False)
    confirm = check.text(form, "confirm_password", max_length=MAX_PASSWORD_LENGTH, strip=False)
    check.values = {}  # no password is ever sent back
    if check.ok and new != confirm:
        check.fail("confirm_password", "form.mismatch")
    if not check.ok:
        return _account_page(check, 400)
    try:
        change_password(portal_state().store, info.username, old_password=current, new_password=new,
                        actor=info.username)
    except AuthenticationError:
        check.fail("current_password", "account.wrong_password")
        return _account_page(check, 400)
    return redirect(url_for("account.account", changed="1"))  # type: ignore[return-value]
