"""Retention of worker positions: delete what is older than ``settings.position_retention_days``.

Why a retention limit: a worker's track is personal data (R-32..R-34); the command centre needs today's
and recent days' positions and the monthly patrol reports, not years of movement. The default keeps 90
days; ``gridmap purge-positions`` (run daily from cron) deletes older positions, geofence events and
newest-position rows, in one transaction, and writes one audit row saying how many.

Days are local dates (``settings.tracking_timezone``), the same ``day`` column reports use, so a
purge never cuts a day in half. The delete goes by that indexed column (``day IN (...)``), which both
stores answer from their index.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from gridmap import audit, schema
from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.store.base import Store
from gridmap.tracking.batch import tracking_zone
from gridmap.tracking.pings import EARLIEST_FIX


@dataclass(frozen=True)
class PurgeReport:
    """What a purge deleted (or would delete, with ``dry_run``)."""

    keep_days: int
    first_kept_day: str
    positions: int
    geofence_events: int
    latest_positions: int
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        verb = "Would delete" if self.dry_run else "Deleted"
        return (f"{verb} {self.positions} position(s), {self.geofence_events} geofence event(s) and "
                f"{self.latest_positions} newest-position row(s) from before {self.first_kept_day} "
                f"(keeping {self.keep_days} days).")


def days_between(first: date, end: date) -> list[str]:
    """ISO dates from ``first`` up to but excluding ``end``."""
    return [(first + timedelta(days=i)).isoformat() for i in range((end - first).days)]


def purge_positions(
    store: Store,
    settings: Settings,
    *,
    now: datetime | None = None,
    keep_days: int | None = None,
    dry_run: bool = False,
    actor: str | None = None,
) -> PurgeReport:
    """Delete positions, geofence events and newest positions older than ``keep_days`` local days."""
    keep = settings.position_retention_days if keep_days is None else keep_days
    if keep < 1:
        raise ValidationError(f"keep_days={keep}: keep at least one day of positions")
    zone = tracking_zone(settings)
    now = now or datetime.now(UTC)
    first_kept = now.astimezone(zone).date() - timedelta(days=keep - 1)
    old_days = days_between(EARLIEST_FIX.date(), first_kept)
    cutoff = pd.Timestamp(datetime.combine(first_kept, datetime.min.time(), tzinfo=zone))
    where = {"day": old_days}
    latest = store.read(schema.LATEST_POSITIONS, columns=["device_id", "fix_time"])
    stale_devices = latest.loc[latest["fix_time"] < cutoff, "device_id"].astype(str).tolist()
    if dry_run:
        return PurgeReport(keep, first_kept.isoformat(), store.count(schema.POSITIONS, where=where),
                           store.count(schema.GEOFENCE_EVENTS, where=where), len(stale_devices), True)
    with store.transaction() as tx:
        positions = tx.delete(schema.POSITIONS, where)
        events = tx.delete(schema.GEOFENCE_EVENTS, where)
        newest = tx.delete(schema.LATEST_POSITIONS, {"device_id": stale_devices}) if stale_devices else 0
        report = PurgeReport(keep, first_kept.isoformat(), positions, events, newest, False)
        audit.record(tx, "tracking.purge_positions", actor=actor, target=schema.POSITIONS, detail=report.to_dict())
    return report
