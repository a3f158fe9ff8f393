"""The append-only audit log (logins and data changes): one helper so every writer logs alike."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from gridmap import schema
from gridmap.store.base import StoreTransaction


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
        "at": pd.Timestamp(datetime.now(UTC)),
        "actor": actor,
        "action": action,
        "target": target,
        "detail": dict(detail) if detail is not None else None,
    }
    tx.insert(schema.AUDIT_LOG, pd.DataFrame([row]))
