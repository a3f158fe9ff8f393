"""Account upkeep next to ``accounts``: look one up, disable/enable it, change its password, list tokens,
and log sign-in attempts.

Kept apart from ``gridmap.auth.accounts`` (creation, authentication, tokens) so the portal and the CLI
share one implementation of each change, and each change writes its audit row in the same transaction.
Core code: no Flask, no click.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from gridmap import audit, schema
from gridmap.auth.accounts import authenticate
from gridmap.auth.passwords import hash_password
from gridmap.errors import NotFoundError, ValidationError
from gridmap.model import Role
from gridmap.store.base import Store

#: Longest username the login form and the audit log accept (the account rule allows 64).
MAX_USERNAME_LENGTH = 64
#: Longest password accepted anywhere: scrypt's cost grows with the input, so bound it (characters).
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True)
class AccountInfo:
    """What the portal needs to know about an account on every request (never the password hash)."""

    username: str
    display_name: str
    role: Role
    area_code: str
    active: bool
    lang: str | None


#: The stored columns AccountInfo is made of (never the password hash).
ACCOUNT_INFO_COLUMNS = ("username", "display_name", "role", "area_code", "active", "lang")


def _text(value: object) -> str | None:
    """A stored text value, None for NULL (which pandas may hand back as None, NaN or pd.NA)."""
    return None if value is None or value is pd.NA or (isinstance(value, float) and value != value) else str(value)


def normalise_username(username: str) -> str:
    """The stored form of a username: trimmed and lower case (the rule of ``accounts.add_account``)."""
    return username.strip().lower()


def get_account(store: Store, username: str) -> AccountInfo | None:
    """The account named ``username``, or None when there is none.

    Plain rows, not a frame: the portal asks on every request whose cached copy is older than a few
    seconds, and a one-row DataFrame costs more than the query.
    """
    rows = store.read_records(schema.ACCOUNTS, where={"username": normalise_username(username)},
                              columns=ACCOUNT_INFO_COLUMNS)
    if not rows:
        return None
    row = rows[0]
    return AccountInfo(
        username=str(row["username"]),
        display_name=_text(row["display_name"]) or str(row["username"]),
        role=Role(str(row["role"])),
        area_code=_text(row["area_code"]) or "",
        active=bool(row["active"]),
        lang=_text(row["lang"]),
    )


def set_account_active(store: Store, username: str, *, active: bool, actor: str | None) -> None:
    """Disable (or re-enable) an account; a disabled account cannot sign in and its sessions end."""
    name = normalise_username(username)
    with store.transaction() as tx:
        changed = tx.update(schema.ACCOUNTS, {"username": name}, {"active": active})
        if changed != 1:
            raise NotFoundError(f"no account {name}")
        audit.record(tx, "account.enable" if active else "account.disable", actor=actor, target=name)


def change_password(store: Store, username: str, *, old_password: str, new_password: str, actor: str | None) -> None:
    """Set a new password after checking the old one (AuthenticationError when it is wrong)."""
    if len(new_password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"password must have at most {MAX_PASSWORD_LENGTH} characters")
    authenticate(store, username, old_password)
    name = normalise_username(username)
    new_hash = hash_password(new_password)  # raises ValidationError for too short passwords
    with store.transaction() as tx:
        tx.update(schema.ACCOUNTS, {"username": name}, {"password_hash": new_hash})
        audit.record(tx, "account.password", actor=actor, target=name)


def list_tokens(store: Store) -> pd.DataFrame:
    """API tokens without their hashes (id, role, area, label, created, revoked)."""
    return store.read(schema.API_TOKENS).drop(columns=["token_hash"])


def audit_login(store: Store, username: str, *, success: bool, client: str | None, reason: str | None = None) -> None:
    """Log one sign-in attempt. The password is never logged; the name is cut to the longest legal one."""
    name = username.strip()[: MAX_USERNAME_LENGTH + 1] or None
    detail: dict[str, str] = {}
    if client:
        detail["client"] = client
    if reason:
        detail["reason"] = reason
    with store.transaction() as tx:
        audit.record(tx, "login.success" if success else "login.failure", actor=name, target=name, detail=detail)


def audit_logout(store: Store, username: str, *, client: str | None) -> None:
    """Log a sign-out (so the audit shows when each session ended on purpose)."""
    with store.transaction() as tx:
        audit.record(tx, "logout", actor=username, target=username, detail={"client": client} if client else None)
