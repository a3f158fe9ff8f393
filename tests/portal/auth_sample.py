"""Accounts on top of the portal sample hierarchy (portal_sample.py), and a login helper.

Imported by name from tests/portal and by file path from tests/browser. One scrypt hash is made at
import and shared by every account (salt reuse is harmless in tests and saves ~80 ms per account).
"""

from __future__ import annotations

import re
import socket
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


# -- workers and incidents for dashboards and scoping ----------------------------------------------

HOSTILE_CATEGORY = "<img src=x onerror=alert(2)>"
# (worker_id, grid_code, active)
WORKERS = [
    ("w1", "410611001001001", True),
    ("w2", "410611001001002", True),
    ("w3", "410611001002001", True),
    ("w4", "410611001002002", False),  # left: not counted
    ("w5", "410611002001001", True),
]
# (incident_id, category, status, grid_code, community_code, street_code, deadline in hours from now or None)
INCIDENTS = [
    ("I-TY-1", "sanitation", "reported", "410611001001001", "410611001001", "410611001", -2),  # overdue
    ("I-TY-2", HOSTILE_CATEGORY, "in_progress", "410611001001002", "410611001001", "410611001", 10),
    ("I-TY-3", "sanitation", "closed", "410611001001001", "410611001001", "410611001", -5),  # closed
    ("I-TY-4", "sanitation", "handled", "410611001001002", "410611001001", "410611001", -1),  # handled: not overdue
    ("I-XY-1", "sanitation", "assigned", "410611001002001", "410611001002", "410611001", -3),  # overdue
    ("I-TS-1", "sanitation", "reported", "410611002001001", "410611002001", "410611002", None),
    ("I-CO-1", "sanitation", "reported", None, "410611001001", "410611001", None),  # community known, grid not
]
OPEN_STATUSES = {"reported", "case_opened", "assigned", "in_progress", "handled", "verified"}
UNHANDLED = {"reported", "case_opened", "assigned", "in_progress"}


def incident_scope(row: tuple) -> str:
    """The most precise code of a sample incident (the rule the portal documents)."""
    return row[3] or row[4] or row[5]


def seed_workers_and_incidents(store: Store, grid_boxes: dict[str, tuple[float, float, float, float]]) -> None:
    import geopandas as gpd
    import shapely

    now = pd.Timestamp.now(tz="UTC")
    workers = pd.DataFrame([{"worker_id": w, "name": f"网格员{w}", "role": "full_time", "grid_code": g, "active": a}
                            for w, g, a in WORKERS])
    points = []
    for row in INCIDENTS:
        box = grid_boxes[row[3]] if row[3] else grid_boxes["410611001001001"]
        points.append(shapely.Point((box[0] + box[2]) / 2, (box[1] + box[3]) / 2))
    incidents = gpd.GeoDataFrame(
        [{"incident_id": i, "category": c, "status": s, "grid_code": g, "community_code": cc, "street_code": sc,
          "reported_at": now - pd.Timedelta(hours=n + 1), "updated_at": now - pd.Timedelta(hours=n + 1),
          "deadline_at": None if d is None else now + pd.Timedelta(hours=d), "version": 1}
         for n, (i, c, s, g, cc, sc, d) in enumerate(INCIDENTS)],
        geometry=points, crs=4326,
    )
    incidents["deadline_at"] = pd.to_datetime(incidents["deadline_at"], utc=True)
    with store.transaction() as tx:
        tx.insert(schema.WORKERS, workers)
        tx.insert(schema.INCIDENTS, incidents)


def read_until(sock: socket.socket, marker: bytes, buffer: bytearray) -> bytes:
    """Read an event stream from ``sock`` until ``marker`` arrived (the socket timeout bounds the wait)."""
    while marker not in buffer:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"stream closed before {marker!r}; got {bytes(buffer)!r}")
        buffer.extend(chunk)
    return bytes(buffer)
