"""The append-only audit log (logins and data changes): one helper so every writer logs alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from gridmap import schema
from gridmap.store.base import Store, StoreTransaction


def record(
    tx: StoreTransaction,
    action: str,
    *,
    actor: str | None,
    target: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Append one audit row inside the caller's transaction (so it commits or rolls back with the change)."""
    row = {
        "at": datetime.now(UTC),
        "actor": actor,
        "action": action,
        "target": target,
        "detail": dict(detail) if detail is not None else None,
    }
    tx.insert(schema.AUDIT_LOG, [row])  # a mapping, not a one-row frame: called on every write


@dataclass(frozen=True)
class AuditPage:
    """One page of audit rows, newest first, and how many rows matched in all."""

    rows: pd.DataFrame
    total: int
    offset: int
    limit: int


def entries(
    store: Store,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> AuditPage:
    """Audit rows filtered by exact actor, action (``login.`` ending in a dot matches the family) and time.

    ``since`` is inclusive and ``until`` exclusive (UTC). Equality filters go to the store; the time
    window and the action family are applied here, so the whole matching set is read: fine for the
    log of one installation (a few 100k rows), and the place to push a range filter into SQL later.
    """
    where: dict[str, Any] = {}
    if actor:
        where["actor"] = actor
    if action and not action.endswith("."):
        where["action"] = action
    rows = store.read(schema.AUDIT_LOG, where=where or None)
    if action and action.endswith("."):
        rows = rows[rows["action"].astype(str).str.startswith(action)]
    if since is not None:
        rows = rows[rows["at"] >= pd.Timestamp(since)]
    if until is not None:
        rows = rows[rows["at"] < pd.Timestamp(until)]
    rows = rows.sort_values(["at", "fid"], ascending=False)
    return AuditPage(rows=rows.iloc[offset : offset + limit].reset_index(drop=True), total=len(rows),
                     offset=offset, limit=limit)


def actions(store: Store) -> list[str]:
    """The distinct actions in the log, sorted (for the viewer's filter list)."""
    frame = store.read(schema.AUDIT_LOG, columns=["action"])
    return sorted({str(a) for a in frame["action"].dropna()})
