"""LatestWatcher: fixes stored by another process become live events once; local ones are not repeated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from gridmap.services.tracking import TrackingService
from gridmap.tracking.devices import DeviceRegistry
from gridmap.tracking.watch import LatestWatcher
from tests.tracking import world

NOW = datetime(2024, 5, 6, 2, 0, tzinfo=UTC)


def send(service: TrackingService, device: str, code: str, minutes_ago: float) -> None:
    lon, lat = world.inside(code)
    at = (NOW - timedelta(minutes=minutes_ago)).isoformat()
    service.receive(query=urlencode({"id": device, "lon": lon, "lat": lat, "timestamp": at}), body=b"",
                    content_type=None)


def test_positions_from_another_process_are_published_once(world_store, settings) -> None:
    published: list[dict] = []
    registry = DeviceRegistry(world_store)
    watcher = LatestWatcher(world_store, lookup=registry.lookup, publish=published.append)
    listener = TrackingService(world_store, settings, clock=lambda: NOW)  # "track-listen": no hub
    portal = TrackingService(world_store, settings, clock=lambda: NOW, publish=watcher.publish_local,
                             registry=registry)
    try:
        send(listener, "dev-a", world.A, 10)
        assert watcher.poll_once() == 0  # the first poll learns what is there
        send(listener, "dev-a", world.B, 5)
        send(listener, "dev-b", world.B, 5)
        assert watcher.poll_once() == 2
        events = {e["data"]["worker_id"]: e for e in published}
        assert events["w-a"]["type"] == "position.updated" and events["w-a"]["area_code"] == world.A
        assert events["w-a"]["data"]["grid_code"] == world.B and events["w-a"]["data"]["in_own_grid"] is False
        assert events["w-a"]["data"]["outside_since"] == (NOW - timedelta(minutes=5)).isoformat()
        assert watcher.poll_once() == 0  # nothing new
        before = len(published)
        send(portal, "dev-a", world.A, 1)  # the portal's own ingest publishes at once...
        assert [e["type"] for e in published[before:]][-1] == "position.updated"
        assert watcher.poll_once() == 0  # ...and polling does not repeat it
    finally:
        listener.close()
        portal.close()


def test_positions_another_serving_process_published_are_not_polled_again(world_store, settings) -> None:
    """Under ``serve --processes N`` the leader's watcher is told (note_published) what the others sent."""
    published: list[dict] = []
    registry = DeviceRegistry(world_store)
    watcher = LatestWatcher(world_store, lookup=registry.lookup, publish=published.append)
    other: list[dict] = []  # the other process's own hub
    elsewhere = TrackingService(world_store, settings, clock=lambda: NOW, publish=other.append, registry=registry)
    try:
        assert watcher.poll_once() == 0
        send(elsewhere, "dev-a", world.A, 3)
        send(elsewhere, "dev-b", world.B, 2)
        positions = [e for e in other if e["type"] == "position.updated"]
        assert len(positions) == 2
        watcher.note_published(positions[0])  # the supervisor delivered dev-a's event to the leader
        assert watcher.poll_once() == 1  # only dev-b's fix is new to the server's streams
        assert [e["data"]["device_id"] for e in published] == ["dev-b"]
        watcher.note_published({"type": "incident.created", "data": {}})  # other kinds are ignored
        assert watcher.poll_once() == 0
    finally:
        elsewhere.close()
