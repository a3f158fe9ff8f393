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
