"""Accounts (portal users) and API tokens, kept in the store.

A token's secret is shown once at creation and only its SHA-256 is stored; a leaked database
therefore leaks no usable key. Tokens look like ``gm_<id>_<secret>`` so that the id can be shown
in listings and logs without the secret.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from gridmap import audit, schema
from gridmap.auth.passwords import hash_password, verify_password
from gridmap.auth.principal import Principal
from gridmap.codes import level_of_code
from gridmap.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from gridmap.model import Role
from gridmap.store.base import Store

_USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_.-")


def _now() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC))


def _check_area(store: Store, area_code: str) -> None:
    if area_code == "":
        return
    level_of_code(area_code)  # raises for malformed codes
    in_areas = store.count(schema.AREAS, where={"code": area_code}) > 0
    in_grids = len(area_code) == 15 and store.count(schema.GRIDS, where={"code": area_code}) > 0
    if not (in_areas or in_grids):
        raise NotFoundError(f"area {area_code} does not exist in the store")


def _parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationError(f"unknown role {role!r}; choose one of {', '.join(r.value for r in Role)}") from None


def add_account(
    store: Store,
    username: str,
    *,
    role: str,
    area_code: str,
    password: str,
    display_name: str | None = None,
    actor: str | None = None,
) -> None:
    """Create an account bound to ``area_code`` ("" only for a whole-installation admin)."""
    name = username.strip().lower()
    if not name or len(name) > 64 or set(name) - _USERNAME_CHARS:
        raise ValidationError(f"username {username!r}: use 1-64 characters from a-z, 0-9, '_', '.', '-'")
    parsed = _parse_role(role)
    if parsed is Role.PUBLIC:
        raise ValidationError("the public role needs no account")
    if area_code == "" and parsed is not Role.ADMIN:
        raise ValidationError("only an admin may be bound to no area; give --area CODE")
    _check_area(store, area_code)
    with store.transaction() as tx:
        if len(tx.read(schema.ACCOUNTS, where={"username": name}, columns=["username"])):
            raise ConflictError(f"account {name} already exists")
        tx.insert(
            schema.ACCOUNTS,
            pd.DataFrame(
                [
                    {
                        "username": name,
                        "display_name": display_name or name,
                        "role": parsed.value,
                        "area_code": area_code,
                        "password_hash": hash_password(password),
                        "active": True,
                        "created_at": _now(),
                    }
                ]
            ),
        )
        audit.record(tx, "account.add", actor=actor, target=name, detail={"role": parsed.value, "area_code": area_code})


def list_accounts(store: Store) -> pd.DataFrame:
    """Accounts without their password hashes."""
    frame = store.read(schema.ACCOUNTS)
    return frame.drop(columns=["password_hash"])


def authenticate(store: Store, username: str, password: str) -> Principal:
    """The principal for a username and password; the error never says which of the two was wrong."""
    rows = store.read(schema.ACCOUNTS, where={"username": username.strip().lower()})
    if rows.empty or not bool(rows.iloc[0]["active"]):
        verify_password(password, "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA")  # same cost either way
        raise AuthenticationError("wrong username or password")
    row = rows.iloc[0]
    if not verify_password(password, str(row["password_hash"])):
        raise AuthenticationError("wrong username or password")
    return Principal(name=str(row["username"]), role=Role(row["role"]), area_code=str(row["area_code"]))


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    secret: str  # shown once

    @property
    def api_key(self) -> str:
        return f"gm_{self.token_id}_{self.secret}"


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(
    store: Store, *, role: str, area_code: str, label: str | None = None, actor: str | None = None
) -> IssuedToken:
    parsed = _parse_role(role)
    if parsed is Role.PUBLIC:
        raise ValidationError("a token for the public role makes no sense; anonymous access needs none")
    if area_code == "" and parsed is not Role.ADMIN:
        raise ValidationError("a token must be bound to an area; give --area CODE")
    _check_area(store, area_code)
    issued = IssuedToken(token_id=secrets.token_hex(6), secret=secrets.token_urlsafe(24))
    with store.transaction() as tx:
        tx.insert(
            schema.API_TOKENS,
            pd.DataFrame(
                [
                    {
                        "token_id": issued.token_id,
                        "token_hash": _hash_secret(issued.secret),
                        "role": parsed.value,
                        "area_code": area_code,
                        "label": label,
                        "created_at": _now(),
                        "created_by": actor,
                    }
                ]
            ),
        )
        audit.record(
            tx,
            "token.create",
            actor=actor,
            target=issued.token_id,
            detail={"role": parsed.value, "area_code": area_code},
        )
    return issued


def principal_from_api_key(store: Store, api_key: str) -> Principal:
    """The principal of an API key ``gm_<id>_<secret>``; 401 when unknown, malformed or revoked."""
    parts = api_key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != "gm" or not parts[1] or not parts[2]:
        raise AuthenticationError("malformed api_key")
    rows = store.read(schema.API_TOKENS, where={"token_id": parts[1]})
    if rows.empty:
        raise AuthenticationError("unknown api_key")
    row = rows.iloc[0]
    if not secrets.compare_digest(str(row["token_hash"]), _hash_secret(parts[2])):
        raise AuthenticationError("unknown api_key")
    if pd.notna(row["revoked_at"]):
        raise AuthenticationError("this api_key has been revoked")
    return Principal(name=f"token:{parts[1]}", role=Role(row["role"]), area_code=str(row["area_code"]), via="token")


def revoke_token(store: Store, token_id: str, *, actor: str | None = None) -> None:
    with store.transaction() as tx:
        changed = tx.update(schema.API_TOKENS, {"token_id": token_id, "revoked_at": None}, {"revoked_at": _now()})
        if changed != 1:
            raise NotFoundError(f"no active token {token_id}")
        audit.record(tx, "token.revoke", actor=actor, target=token_id, detail=None)
