"""Retention: ``purge_positions`` deletes whole local days older than the limit, and nothing newer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridmap import schema
from gridmap.errors import ValidationError
from gridmap.tracking.devices import DeviceRegistry, GridLocator
from gridmap.tracking.ingest import Ticket
from gridmap.tracking.pings import Fix
from gridmap.tracking.retention import purge_positions
from gridmap.tracking.writer import commit_batch
from tests.tracking import world

NOW = datetime(2024, 5, 6, 2, 0, tzinfo=UTC)


def _send(world_store, settings, device: str, at: datetime, code: str) -> None:
    registry, locator = DeviceRegistry(world_store), GridLocator(world_store)
    ticket = Ticket(Fix(device, *world.inside(code), at), registry.lookup(device))
    commit_batch(world_store, settings, [ticket], locate=locator.codes, now=at + timedelta(minutes=1),
                 alert_after=timedelta(minutes=30))


@pytest.fixture
def filled(world_store, settings):
    # dev-a: 100, 91, 89 and 1 day(s) ago; dev-b only 95 days ago (its newest position is then old too)
    for days in (100, 91, 89, 1):
        _send(world_store, settings, "dev-a", NOW - timedelta(days=days), world.A if days % 2 else world.B)
    _send(world_store, settings, "dev-b", NOW - timedelta(days=95), world.B)
    return world_store


def test_dry_run_counts_and_deletes_nothing(filled, settings) -> None:
    report = purge_positions(filled, settings, now=NOW, dry_run=True)
    assert (report.positions, report.latest_positions, report.dry_run) == (3, 1, True)
    assert report.first_kept_day == "2024-02-07"  # 90 local days up to and including 2024-05-06
    assert filled.count(schema.POSITIONS) == 5


def test_purge_keeps_the_last_90_local_days(filled, settings) -> None:
    before_events = filled.read(schema.GEOFENCE_EVENTS)
    report = purge_positions(filled, settings, now=NOW, actor="test")
    kept = filled.read(schema.POSITIONS)
    assert report.positions == 3
    assert sorted(kept["day"]) == ["2024-02-07", "2024-05-05"]  # 89 days ago is the oldest kept local day
    events = filled.read(schema.GEOFENCE_EVENTS)
    assert report.geofence_events == len(before_events) - len(events) > 0
    assert (events["day"] >= report.first_kept_day).all()
    assert filled.read(schema.LATEST_POSITIONS)["device_id"].tolist() == ["dev-a"]
    audit_rows = filled.read(schema.AUDIT_LOG, where={"action": "tracking.purge_positions"})
    assert len(audit_rows) == 1 and audit_rows.iloc[0]["detail"]["positions"] == 3
    again = purge_positions(filled, settings, now=NOW)
    assert (again.positions, again.geofence_events, again.latest_positions) == (0, 0, 0)


def test_keep_days_must_be_positive(world_store, settings) -> None:
    with pytest.raises(ValidationError, match="at least one day"):
        purge_positions(world_store, settings, keep_days=0)


def test_a_bad_time_zone_setting_is_named(world_store, settings) -> None:
    with pytest.raises(ValidationError, match="tracking_timezone"):
        purge_positions(world_store, settings.replace(tracking_timezone="Mars/Olympus"))
