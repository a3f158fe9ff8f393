"""Layers of people and access: grid workers, portal accounts, API tokens and the audit log."""

from __future__ import annotations

from gridmap.schema.spec import (
    ACCOUNTS,
    API_TOKENS,
    AUDIT_LOG,
    WORKERS,
    C,
    LayerSpec,
)

WORKERS_SPEC = LayerSpec(
    WORKERS,
    (
        C("worker_id", "text", False),
        C("name", "text", False),
        C("phone", "text"),
        C("photo", "text"),  # path or URL of the photo
        C("role", "text", False),  # model.WorkerRole
        C("grid_code", "text"),  # main grid; more in extra_grid_codes
        C("extra_grid_codes", "json"),
        C("partner_worker_id", "text"),  # A/B post partner in an adjacent grid (P-54)
        C("device_id", "text"),
        C("duties", "text"),
        C("active", "bool"),
        C("synthetic", "bool"),
    ),
    None,
    key=("worker_id",),
    description="Grid workers (网格员) and leaders (网格长).",
)


AUDIT_LOG_SPEC = LayerSpec(
    AUDIT_LOG,
    (
        C("at", "datetime", False),
        C("actor", "text"),
        C("action", "text", False),
        C("target", "text"),
        C("detail", "json"),
    ),
    None,
    description="Append-only log of logins and data changes.",
)

ACCOUNTS_SPEC = LayerSpec(
    ACCOUNTS,
    (
        C("username", "text", False),
        C("display_name", "text"),
        C("role", "text", False),  # model.Role
        C("area_code", "text", False),  # the area the account may read and change (code prefix scope)
        C("password_hash", "text", False),  # scrypt, see gridmap.auth.passwords
        C("active", "bool", False),
        C("lang", "text"),
        C("created_at", "datetime", False),
    ),
    None,
    key=("username",),
    description="Portal accounts, each bound to a role and an area.",
)

API_TOKENS_SPEC = LayerSpec(
    API_TOKENS,
    (
        C("token_id", "text", False),  # public id shown in listings
        C("token_hash", "text", False),  # sha256 of the secret; the secret itself is never stored
        C("role", "text", False),
        C("area_code", "text", False),
        C("label", "text"),
        C("created_at", "datetime", False),
        C("created_by", "text"),
        C("revoked_at", "datetime"),
    ),
    None,
    key=("token_id",),
    unique=(("token_hash",),),
    description="API keys for machine clients (Open311 api_key, trackers, integrations).",
)
