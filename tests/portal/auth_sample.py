"""Accounts on top of the portal sample hierarchy (portal_sample.py), and a login helper.

Imported by name from tests/portal and by file path from tests/browser. One scrypt hash is made at
import and shared by every account (salt reuse is harmless in tests and saves ~80 ms per account).
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from gridmap import schema
from gridmap.auth.passwords import hash_password
from gridmap.store.base import Store

PASSWORD = "correct-horse-battery"
_HASH = hash_password(PASSWORD)
HOSTILE_NAME = '<script>alert("x")</script>'

# (username, role, area_code, display_name)
ACCOUNTS = [
    ("root", "admin", "", "系统管理员"),
    ("admin_jz", "admin", "410611001", "九州路管理员"),
    ("cmd_ty", "command", "410611001001", HOSTILE_NAME),  # 桃园社区 command centre, hostile display name
    ("cmd_xy", "command", "410611001002", "杏园指挥"),  # 杏园社区
    ("plan_jz", "planner", "410611001", "九州路规划"),  # 九州路街道
    ("analyst", "analyst", "410611", "分析员"),  # the district
    ("worker_ts", "worker", "410611002001001", "天山网格员"),  # one grid of 天山社区
]
#: Where each role lands and the dashboard title it sees (zh).
TITLES = {
    "admin": "系统管理工作台",
    "command": "指挥中心工作台",
    "planner": "网格规划工作台",
    "analyst": "分析研判工作台",
    "worker": "网格员工作台",
}


def seed_accounts(store: Store) -> None:
    now = pd.Timestamp.now(tz="UTC")
    frame = pd.DataFrame(
        [
            {"username": u, "role": r, "area_code": a, "display_name": d, "password_hash": _HASH, "active": True,
             "created_at": now}
            for u, r, a, d in ACCOUNTS
        ]
    )
    with store.transaction() as tx:
        tx.insert(schema.ACCOUNTS, frame)


_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


def login(client: Any, username: str, password: str = PASSWORD, **extra: str) -> Any:
    """GET the form, POST it with its CSRF token; returns the POST response (not followed)."""
    page = client.get("/login").get_data(as_text=True)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_from(page), **extra})


def csrf_of(client: Any) -> str:
    """The CSRF token of the client's current session (from any page with a form)."""
    return csrf_from(client.get("/account").get_data(as_text=True))
