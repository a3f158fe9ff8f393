"""Administration pages: the accounts of the admin's area (``/admin/users``) and the audit log (``/admin/audit``).

Scoping: an admin bound to area ``A`` lists, adds, disables and enables only accounts bound inside
``A`` (an account elsewhere answers exactly like a missing one: 404). The audit log spans the whole
installation (logins of every area, token changes), so only whole-installation admins (area "") read it.
Changes are POST forms with the CSRF token and are audited by ``gridmap.auth``.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, make_response, redirect, render_template, request, url_for

from gridmap.codes import level_of_code
from gridmap.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from gridmap.model import Role
from gridmap.portal.account.pages import MAX_DISPLAY_NAME_LENGTH, FormCheck
from gridmap.portal.auth import auth_state, current_principal, not_found, roles_required, rows_in_scope
from gridmap.portal.i18n.translator import DISPLAY_TIMEZONE, Translator, current_language
from gridmap.portal.state import portal_state
from gridmap.services.accounts import (
    MAX_PASSWORD_LENGTH,
    MAX_USERNAME_LENGTH,
    MIN_PASSWORD_LENGTH,
    add_account,
    audit,
    get_account,
    list_accounts,
    set_account_active,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE_SIZE = 50
#: Roles an admin may give to a new account (the public needs none).
ACCOUNT_ROLES: tuple[str, ...] = tuple(r.value for r in Role if r is not Role.PUBLIC)
_USERNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


# -- users ------------------------------------------------------------------------------------------


def _users_page(check: FormCheck, status: int, *, notice: str | None = None) -> Response:
    principal = current_principal()
    accounts = rows_in_scope(list_accounts(portal_state().store), principal, column="area_code")
    tr = Translator(current_language())
    body = render_template("admin/users.html", accounts=accounts.sort_values("username").to_dict("records"),
                           form=check, role_options=[(r, tr(f"role.{r}")) for r in ACCOUNT_ROLES], notice=notice)
    return make_response(body, status)


@bp.get("/users")
@roles_required(Role.ADMIN)
def users() -> Response:
    """The accounts bound inside the admin's area, and the form to add one."""
    notice = request.args.get("notice")
    return _users_page(FormCheck(values={"role": Role.WORKER.value}), 200,
                       notice=notice if notice in ("added", "disabled", "enabled") else None)


def _check_new_account(check: FormCheck) -> None:
    form = request.form
    name = check.text(form, "username", max_length=MAX_USERNAME_LENGTH).lower()
    if name and set(name) - _USERNAME_CHARS:
        check.fail("username", "form.invalid_username")
    check.text(form, "display_name", required=False, max_length=MAX_DISPLAY_NAME_LENGTH)
    role = check.text(form, "role", max_length=20)
    if role and role not in ACCOUNT_ROLES:
        check.fail("role", "form.invalid_choice")
    area = check.text(form, "area_code", required=role != Role.ADMIN.value, max_length=15)
    if area:
        try:
            level_of_code(area)
        except ValidationError:
            check.fail("area_code", "form.invalid_code")
        else:
            if not current_principal().covers(area):
                check.fail("area_code", "users.area_outside")
    elif not current_principal().covers(""):
        check.fail("area_code", "users.area_outside")  # only an installation admin may add one
    check.text(form, "password", max_length=MAX_PASSWORD_LENGTH, min_length=MIN_PASSWORD_LENGTH, strip=False)


@bp.post("/users")
@roles_required(Role.ADMIN)
def add_user() -> Response:
    """Add an account inside the admin's area (messages next to the fields on bad input)."""
    check = FormCheck()
    _check_new_account(check)
    password = request.form.get("password", "")
    check.values.pop("password", None)
    if not check.ok:
        return _users_page(check, 400)
    values = check.values
    try:
        add_account(portal_state().store, values["username"], role=values["role"], area_code=values["area_code"],
                    password=password, display_name=values["display_name"] or None, actor=current_principal().name)
    except ConflictError:
        check.fail("username", "users.exists")
    except NotFoundError:
        check.fail("area_code", "users.area_missing")
    if not check.ok:
        return _users_page(check, 400)
    return redirect(url_for("admin.users", notice="added"))  # type: ignore[return-value]


def _set_active(username: str, *, active: bool) -> Response:
    principal = current_principal()
    store = portal_state().store
    account = get_account(store, username)
    if account is None or not principal.covers(account.area_code):
        raise not_found("account")  # the same answer for missing and out-of-area accounts
    if account.username == principal.name and not active:
        raise PermissionDeniedError("you cannot disable your own account (ask another admin)")
    set_account_active(store, account.username, active=active, actor=principal.name)
    auth_state().forget_account(account.username)  # its sessions end now in every process
    return redirect(url_for("admin.users", notice="enabled" if active else "disabled"))  # type: ignore[return-value]


@bp.post("/users/<username>/disable")
@roles_required(Role.ADMIN)
def disable_user(username: str) -> Response:
    return _set_active(username, active=False)


@bp.post("/users/<username>/enable")
@roles_required(Role.ADMIN)
def enable_user(username: str) -> Response:
    return _set_active(username, active=True)


# -- audit log --------------------------------------------------------------------------------------


def _day(check: FormCheck, name: str) -> date | None:
    raw = check.text(request.args, name, required=False, max_length=10)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        check.fail(name, "form.invalid_date")
        return None


def _start_of(day: date) -> datetime:
    """Midnight of ``day`` in China time, as an aware datetime (the log stores UTC)."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(DISPLAY_TIMEZONE))


def action_label(tr: Translator, action: str) -> str:
    """The action in the reader's language (``audit.action.<code>``), or the code when it has no name yet."""
    key = f"audit.action.{action}"
    text = tr(key)
    return action if text == key else text


@bp.get("/audit", endpoint="audit")
@roles_required(Role.ADMIN)
def audit_log() -> Response:
    """Audit rows, newest first; filter by actor, action and days (China time), 50 per page."""
    principal = current_principal()
    if principal.area_code:
        raise PermissionDeniedError("the audit log spans every area: only an installation-wide admin reads it")
    store = portal_state().store
    tr = Translator(current_language())
    known_actions = audit.actions(store)
    check = FormCheck()
    actor = check.text(request.args, "actor", required=False, max_length=MAX_USERNAME_LENGTH + 1)
    action = check.text(request.args, "action", required=False, max_length=64)
    if action and action not in known_actions and not (action.endswith(".") and any(
            a.startswith(action) for a in known_actions)):
        check.fail("action", "form.invalid_choice")
    since, until = _day(check, "from"), _day(check, "to")
    page_raw = request.args.get("page", "1")
    page = int(page_raw) if page_raw.isdigit() and 0 < int(page_raw) < 1_000_000 else 1
    rows: list[dict[Any, Any]] = []
    total = 0
    if check.ok:
        result = audit.entries(
            store, actor=actor or None, action=action or None,
            since=_start_of(since) if since else None,
            until=_start_of(until) + timedelta(days=1) if until else None,
            offset=(page - 1) * AUDIT_PAGE_SIZE, limit=AUDIT_PAGE_SIZE,
        )
        rows, total = result.rows.to_dict("records"), result.total
        for row in rows:  # shown as text (autoescaped), Chinese kept readable
            detail = row.get("detail")
            row["detail_text"] = json.dumps(detail, ensure_ascii=False, default=str) if detail else ""
            row["action_label"] = action_label(tr, str(row.get("action") or ""))
    pages = max(1, math.ceil(total / AUDIT_PAGE_SIZE))
    args: dict[str, Any] = {k: v for k, v in check.values.items() if v}
    body = render_template(
        "admin/audit.html", rows=rows, total=total, page=min(page, pages),
        pages=pages, form=check,
        action_options=[("", tr("audit.all_actions")), *((a, action_label(tr, a)) for a in known_actions)],
        prev_url=url_for("admin.audit", page=page - 1, **args) if page > 1 else None,
        next_url=url_for("admin.audit", page=page + 1, **args) if page < pages else None,
    )
    return make_response(body, 200 if check.ok else 400)
