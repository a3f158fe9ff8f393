"""Write-through ingest on both stores: stored with its grid, idempotent, out of order, geofence, 404/503."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pandas as pd
import pytest

from gridmap import schema
from gridmap.config import Settings
from gridmap.errors import NotFoundError, StoreUnavailableError, ValidationError
from gridmap.services.tracking import TrackingService
from gridmap.store.base import Store
from tests.tracking import world

NOW = datetime(2024, 5, 6, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai


def query(device: str, point: tuple[float, float], at: datetime, **extra: object) -> str:
    return urlencode({"id": device, "lon": point[0], "lat": point[1], "timestamp": at.isoformat(), **extra})


@pytest.fixture
def events() -> list[dict]:
    return []


@pytest.fixture
def service(world_store: Store, settings: Settings, events: list[dict]):
    svc = TrackingService(world_store, settings, publish=events.append, clock=lambda: NOW)
    yield svc
    svc.close()


def send(service: TrackingService, q: str):
    return service.receive(query=q, body=b"", content_type=None)


def test_a_fix_is_stored_with_its_grid_day_and_worker(service, world_store, events) -> None:
    receipt = send(service, query("dev-a", world.inside(world.A), NOW - timedelta(minutes=1), speed=18, batt=64))
    assert (receipt.worker_id, receipt.grid_code, receipt.duplicate) == ("w-a", world.A, False)
    rows = world_store.read(schema.POSITIONS)
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row["device_id"], row["worker_id"], row["grid_code"], row["day"]) == ("dev-a", "w-a", world.A, "2024-05-06")
    assert row["speed_mps"] == pytest.approx(5.0) and row["battery_pct"] == 64.0
    assert row["fix_time"] == pd.Timestamp(NOW - timedelta(minutes=1))
    assert (row.geometry.x, row.geometry.y) == pytest.approx(world.inside(world.A))
    latest = world_store.read(schema.LATEST_POSITIONS)
    assert latest["device_id"].tolist() == ["dev-a"] and latest["outside_since"].isna().all()
    fence = world_store.read(schema.GEOFENCE_EVENTS)
    assert fence[["event", "grid_code", "worker_id"]].values.tolist() == [["enter", world.A, "w-a"]]
    kinds = [e["type"] for e in events]
    assert kinds == ["geofence.enter", "position.updated"]
    assert events[-1]["area_code"] == world.A and events[-1]["data"]["in_own_grid"] is True


def test_local_day_follows_the_tracking_time_zone(service, world_store) -> None:
    late = datetime(2024, 5, 5, 17, 30, tzinfo=UTC)  # 01:30 on 6 May in Asia/Shanghai
    send(service, query("dev-a", world.inside(world.A), late))
    assert world_store.read(schema.POSITIONS)["day"].tolist() == ["2024-05-06"]


def test_a_resent_fix_is_stored_once(service, world_store) -> None:
    q = query("dev-a", world.inside(world.A), NOW - timedelta(minutes=2))
    assert send(service, q).duplicate is False
    assert send(service, q).duplicate is True
    assert world_store.count(schema.POSITIONS) == 1
    # a fresh service (no memory of recent keys) relies on the store's unique key
    other = TrackingService(world_store, service.settings, clock=lambda: NOW)
    try:
        assert other.receive(query=q, body=b"", content_type=None).duplicate is True
    finally:
        other.close()
    assert world_store.count(schema.POSITIONS) == 1
    assert service.stats()["duplicates"] == 1


def test_out_of_order_fixes_are_stored_but_do_not_move_the_live_position(service, world_store) -> None:
    send(service, query("dev-a", world.inside(world.A), NOW - timedelta(minutes=1)))
    send(service, query("dev-a", world.inside(world.B), NOW - timedelta(minutes=5)))  # older, elsewhere
    assert world_store.count(schema.POSITIONS) == 2
    latest = world_store.read(schema.LATEST_POSITIONS).iloc[0]
    assert latest["grid_code"] == world.A and latest["fix_time"] == pd.Timestamp(NOW - timedelta(minutes=1))
    assert world_store.read(schema.GEOFENCE_EVENTS)["event"].tolist() == ["enter"]
    track = service.track(_admin(), "w-a", day="2024-05-06")
    assert track["properties"]["grid_codes"] == [world.B, world.A]  # ordered by fix time


def test_leaving_the_own_grid_for_long_raises_one_alert(service, world_store, events) -> None:
    start = NOW - timedelta(minutes=50)
    for minutes, code in [(0, world.A), (5, world.B), (20, world.B), (36, world.B), (40, world.B), (45, world.A)]:
        send(service, query("dev-a", world.inside(code), start + timedelta(minutes=minutes)))
    fence = world_store.read(schema.GEOFENCE_EVENTS).sort_values("at")
    assert fence["event"].tolist() == ["enter", "exit", "enter", "alert", "exit", "enter"]
    alert = fence.loc[fence["event"] == "alert"].iloc[0]
    assert alert["grid_code"] == world.A and alert["minutes_outside"] == pytest.approx(31.0)
    assert alert["at"] == pd.Timestamp(start + timedelta(minutes=36))
    assert [e["data"]["minutes_outside"] for e in events if e["type"] == "tracking.alert"] == [pytest.approx(31.0)]
    latest = world_store.read(schema.LATEST_POSITIONS).iloc[0]
    assert latest["outside_since"] is pd.NaT or pd.isna(latest["outside_since"])


def test_unknown_and_inactive_devices_are_404_and_counted(service, world_store) -> None:
    for device in ("nobody", "dev-x", "nobody"):
        with pytest.raises(NotFoundError) as caught:
            send(service, query(device, world.inside(world.A), NOW))
        assert caught.value.http_status == 404
    stats = service.stats()
    assert stats["unknown_device"] == 3 and stats["unknown_devices"] == {"nobody": 2, "dev-x": 1}
    assert world_store.count(schema.POSITIONS) == 0


def test_bad_input_is_400_and_counted_and_nothing_is_stored(service, world_store) -> None:
    with pytest.raises(ValidationError):
        send(service, query("dev-a", (114.3, 95.0), NOW))
    with pytest.raises(ValidationError, match="after the server clock"):
        send(service, query("dev-a", world.inside(world.A), NOW + timedelta(hours=1)))
    assert service.stats()["rejected"] == 2 and world_store.count(schema.POSITIONS) == 0


def test_concurrent_senders_are_group_committed(service, world_store) -> None:
    devices = ["dev-a", "dev-b", "dev-c"]
    errors: list[BaseException] = []
    barrier = threading.Barrier(12)

    def sender(k: int) -> None:
        barrier.wait()
        try:
            for i in range(20):
                at = NOW - timedelta(seconds=600 - i * 10 - k / 100)
                send(service, query(devices[k % 3], world.inside(world.A, (i + 1) / 22, k / 12 + 0.01), at))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stats = service.stats()
    assert world_store.count(schema.POSITIONS) == 240 == stats["stored"]
    assert stats["batches"] < 240 and stats["largest_batch"] > 1
    latest = world_store.read(schema.LATEST_POSITIONS).set_index("device_id")
    for device in devices:
        rows = world_store.read(schema.POSITIONS, where={"device_id": device})
        assert latest.loc[device, "fix_time"] == rows["fix_time"].max()


def test_a_store_that_is_down_answers_503_fast_and_stores_nothing(world_store, settings) -> None:
    svc = TrackingService(world_store, settings, clock=lambda: NOW)
    svc.registry.lookup("dev-a")  # registry loaded while the store is up
    svc.locator.index()
    world_store.close()
    try:
        with pytest.raises(StoreUnavailableError):
            send(svc, query("dev-a", world.inside(world.A), NOW))
        with pytest.raises(StoreUnavailableError):  # refused at once while the store is down
            send(svc, query("dev-a", world.inside(world.A), NOW - timedelta(seconds=1)))
        assert svc.ingest.counters.unavailable == 2
    finally:
        svc.close()


def _admin():
    from gridmap.auth.principal import Principal
    from gridmap.model import Role

    return Principal("root", Role.ADMIN, "")
