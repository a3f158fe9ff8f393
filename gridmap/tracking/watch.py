"""Live position events for fixes stored by *another* process (``gridmap track-listen``).

Why: the portal's event hub reaches the browsers connected to this process only. Fixes that arrive at
the portal's own ``/osmand`` are published the moment they commit; fixes that phones send to the
separate listener are found here, by polling the small ``latest_positions`` layer (one row per device)
every ``poll_s`` seconds (0.5) while someone is watching, and published as the same ``position.updated``
events. A device's fix is published once, whichever path saw it first (``publish_local`` records what
the in-process path sent).

Cost: one read of ``latest_positions`` per poll (a few ms for a thousand devices), only while the
hub has subscribers. Latency: at most ``poll_s`` plus the read, well inside the 2 s target.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from gridmap import schema
from gridmap.errors import GridmapError
from gridmap.store.base import Store
from gridmap.tracking.batch import POSITION_EVENT, position_event
from gridmap.tracking.devices import WorkerDevice
from gridmap.tracking.geofence import FenceState
from gridmap.tracking.pings import Fix

log = logging.getLogger("gridmap.tracking")

Publish = Callable[[Mapping[str, Any]], Any]


def _stamp(value: Any) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


class LatestWatcher:
    """Publishes ``position.updated`` for newest positions this process did not publish itself."""

    def __init__(
        self,
        store: Store,
        *,
        lookup: Callable[[str], WorkerDevice | None],
        publish: Publish,
        active: Callable[[], bool] = lambda: True,
        poll_s: float = 0.5,
    ) -> None:
        self.store = store
        self._lookup = lookup
        self._publish = publish
        self._active = active
        self.poll_s = poll_s
        self._seen: dict[str, datetime] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish_local(self, event: Mapping[str, Any]) -> Any:
        """Publish an event of this process's ingest, remembering a position so polling skips it."""
        self.note_published(event)
        return self._publish(event)

    def note_published(self, event: Mapping[str, Any]) -> None:
        """Remember a position event published elsewhere (another process of the server), so polling skips it."""
        if event.get("type") != POSITION_EVENT:
            return
        data = event["data"]
        stamp = datetime.fromisoformat(str(data["fix_time"]))
        device = str(data["device_id"])
        with self._lock:
            if self._seen is not None and (device not in self._seen or self._seen[device] < stamp):
                self._seen[device] = stamp

    def poll_once(self) -> int:
        """Read the newest positions once and publish what changed; returns how many were published.

        The first poll only learns the current positions (the page that opens the stream has loaded
        them already), so a restart does not replay every device.
        """
        latest = self.store.read_records(schema.LATEST_POSITIONS)  # plain rows: polled twice a second
        fresh: list[tuple[str, datetime, dict[str, Any]]] = []
        with self._lock:
            first = self._seen is None
            seen = self._seen if self._seen is not None else {}
            for row in latest:
                device, stamp = str(row["device_id"]), _stamp(row["fix_time"])
                if stamp is None or (device in seen and seen[device] >= stamp):
                    continue
                seen[device] = stamp
                if not first:
                    fresh.append((device, stamp, row))
            self._seen = seen
        published = 0
        for device, stamp, row in fresh:
            worker = self._lookup(device)
            if worker is None:
                continue
            geom = row["geometry"]
            fix = Fix(device, float(geom.x), float(geom.y), stamp, speed_mps=_num(row["speed_mps"]),
                      bearing_deg=_num(row["bearing_deg"]), accuracy_m=_num(row["accuracy_m"]),
                      battery_pct=_num(row["battery_pct"]))
            code = None if row["grid_code"] is None or pd.isna(row["grid_code"]) else str(row["grid_code"])
            state = FenceState(stamp, code, _stamp(row["outside_since"]), _stamp(row["alerted_at"]))
            try:
                self._publish(position_event(worker, fix, code, state))
                published += 1
            except GridmapError as exc:
                log.warning("position of %s not published: %s", device, exc.message)
        return published

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            if not self._active():
                continue
            try:
                self.poll_once()
            except GridmapError as exc:  # store down: the next poll tries again
                log.warning("latest positions not polled: %s", exc.message)
            except Exception:  # the watcher must outlive any single failure
                log.exception("latest positions poll failed")

    def start(self) -> None:
        """Start polling in a daemon thread (idempotent); learns the current positions first."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="gridmap-position-watcher", daemon=True)
        try:
            self.poll_once()
        except GridmapError as exc:
            log.warning("latest positions not read at start: %s", exc.message)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            thread.join(5)
