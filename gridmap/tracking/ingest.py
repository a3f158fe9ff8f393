"""Write-through ingest of fixes: HTTP 200 is sent only after the fix is committed to the store.

Why write-through (and not a local spool file): the store is the one place the live map, exports and
patrol reports read, and a spool would need its own durability, ordering and replay story. Traccar
clients keep unsent fixes on the phone and retry on any non-200, so the simplest correct contract is:
*200 means committed*; a 503 means "not stored (or not known to be), send again", and a fix sent
twice is stored once (unique key device + fix time), so a retry after a lost answer is harmless.

How it stays fast: request threads hand their fix to one writer thread and wait on a ticket. The
writer takes everything queued (group commit, up to ``max_batch`` fixes), locates the grids in one
vectorised call, and writes positions, geofence events and the newest position per device in ONE
transaction; then it releases every ticket of the batch and publishes live events. When the store
is down the batch fails as a whole (every ticket gets the 503), and until a probe (every
``retry_after_s``) finds the store answering again new fixes are answered 503 at once instead of
queueing behind a dead connection; so are new fixes while a commit has hung for more than ``stall_s``
(a PostGIS pool waits up to its connect timeout before it gives up).

Out-of-order fixes are stored; only fixes newer than a device's latest one move its live position
and its geofence state (gridmap.tracking.geofence).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gridmap.config import Settings
from gridmap.errors import GridmapError, NotFoundError, StoreUnavailableError
from gridmap.store.base import Store
from gridmap.tracking.devices import WorkerDevice
from gridmap.tracking.pings import Fix
from gridmap.tracking.tickets import Ticket
from gridmap.tracking.writer import BatchResult, Locate, commit_batch

log = logging.getLogger("gridmap.tracking")

Publish = Callable[[Mapping[str, Any]], Any]
Lookup = Callable[[str], WorkerDevice | None]
#: Keys (device, fix time) of recently committed fixes remembered to answer re-sends without a write.
RECENT_KEYS = 20_000


@dataclass(frozen=True)
class Receipt:
    """What the client is told on 200."""

    device_id: str
    worker_id: str
    fix_time: datetime
    grid_code: str | None
    duplicate: bool


@dataclass
class IngestCounters:
    """Counts since the process started (``/api/v1/tracking/stats``, the listener's ``/stats``)."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    unknown_device: int = 0
    unavailable: int = 0
    batches: int = 0
    largest_batch: int = 0
    last_commit_ms: float = 0.0
    unknown_devices: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "received": self.received, "stored": self.stored, "duplicates": self.duplicates,
            "rejected": self.rejected, "unknown_device": self.unknown_device, "unavailable": self.unavailable,
            "batches": self.batches, "largest_batch": self.largest_batch, "last_commit_ms": self.last_commit_ms,
            "unknown_devices": dict(self.unknown_devices),
        }


class PositionIngest:
    """Accepts fixes from any number of threads; one writer thread commits them in batches."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        lookup: Lookup,
        locate: Locate,
        publish: Publish | None = None,
        max_batch: int = 1000,
        wait_s: float = 15.0,
        retry_after_s: float = 1.0,
        stall_s: float = 2.0,
        max_pending: int = 50_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.settings = settings
        self._lookup = lookup
        self._locate = locate
        self._publish = publish
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.retry_after_s = retry_after_s
        self.stall_s = stall_s
        self.max_pending = max_pending
        self.clock = clock
        self.counters = IngestCounters()
        self._counter_lock = threading.Lock()
        self._queue: queue.Queue[Ticket | None] = queue.Queue()
        self._recent: OrderedDict[tuple[str, datetime], None] = OrderedDict()
        self._down = threading.Event()
        self._stopping = threading.Event()
        self._commit_started: float | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    # -- request side ---------------------------------------------------------------------------

    def _count(self, **deltas: int) -> None:
        with self._counter_lock:
            for name, delta in deltas.items():
                setattr(self.counters, name, getattr(self.counters, name) + delta)

    def count_rejected(self) -> None:
        """A request refused before it became a fix (bad input)."""
        self._count(received=1, rejected=1)

    def _unknown(self, device_id: str) -> NotFoundError:
        with self._counter_lock:
            self.counters.received += 1
            self.counters.unknown_device += 1
            seen = self.counters.unknown_devices
            seen[device_id] = seen.pop(device_id, 0) + 1
            while len(seen) > 100:  # the most recent 100 ids: enough to find a misconfigured phone
                seen.popitem(last=False)
        return NotFoundError(f"device {device_id!r} is not registered to an active worker; register it in the "
                             "workers layer (device_id)", code="unknown_device", details={"device_id": device_id})

    def _refusing(self) -> bool:
        """Answer 503 at once: the store failed a moment ago, a commit hangs, or too much is queued."""
        now = time.monotonic()
        started = self._commit_started
        return (self._down.is_set() or (started is not None and now - started > self.stall_s)
                or self._queue.qsize() >= self.max_pending)

    def accept(self, fix: Fix) -> Receipt:
        """Store ``fix`` (blocking until committed) and return the receipt; raises 404/503 errors."""
        worker = self._lookup(fix.device_id)
        if worker is None:
            raise self._unknown(fix.device_id)
        if self._refusing():
            self._count(received=1, unavailable=1)
            raise StoreUnavailableError("positions cannot be stored right now; send the fix again later",
                                        details={"retry_after_s": self.retry_after_s})
        self._count(received=1)
        self._ensure_started()
        ticket = Ticket(fix, worker)
        self._queue.put(ticket)
        if not ticket.wait(self.wait_s):
            self._count(unavailable=1)
            raise StoreUnavailableError(f"the fix was not committed within {self.wait_s:.0f} s; send it again")
        if ticket.error is not None:
            self._count(unavailable=1)
            raise ticket.error
        return Receipt(fix.device_id, worker.worker_id, fix.fix_time, ticket.grid_code, ticket.duplicate)

    # -- writer side ----------------------------------------------------------------------------

    def _ensure_started(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="gridmap-tracking-writer", daemon=True)
                self._thread.start()

    def close(self, *, timeout_s: float = 10.0) -> None:
        """Let the writer finish what is queued, then stop it."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            self._queue.put(None)
            thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._write(batch)
            if self._down.is_set():
                self._wait_for_store()
            if stop:
                return

    def _refuse_queued(self) -> None:
        """503 to every fix still queued (their phones send them again) instead of a wait for the probe."""
        refused: list[Ticket] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:  # close() asked to stop: keep the sentinel for the run loop
                self._stopping.set()
                self._queue.put(None)
                break
            refused.append(item)
        if refused:
            self._fail(refused)

    def _wait_for_store(self) -> None:
        """After a failed batch: probe the store every ``retry_after_s`` until it answers (or we stop).

        Fixes still queued get their 503 now and new fixes get it at once, so no phone waits on a dead
        connection.
        """
        self._refuse_queued()
        while not self._stopping.is_set():
            try:
                self.store.schema_version()
            except GridmapError as exc:
                log.warning("store still unavailable for positions: %s", exc.message)
                self._stopping.wait(self.retry_after_s)
                continue
            except Exception:  # an unexpected driver error: keep probing, never kill the writer
                log.exception("store probe failed")
                self._stopping.wait(self.retry_after_s)
                continue
            log.info("store reachable again; accepting positions")
            break
        self._down.clear()

    def _write(self, batch: list[Ticket]) -> None:
        fresh = [t for t in batch if t.fix.key not in self._recent]
        for ticket in batch:
            if ticket.fix.key in self._recent:
                ticket.resolve(duplicate=True)
        self._count(duplicates=len(batch) - len(fresh))
        if not fresh:
            return
        started = time.perf_counter()
        self._commit_started = time.monotonic()
        try:
            result = commit_batch(self.store, self.settings, fresh, locate=self._locate, now=self.clock(),
                                  alert_after=timedelta(minutes=self.settings.outside_grid_alert_minutes))
        except GridmapError as exc:  # store down, or a store-side rule refused the batch: nothing committed
            log.error("tracking batch of %d fixes not stored: %s", len(fresh), exc.message)
            self._fail(fresh)
            return
        except Exception:  # the writer must survive anything and answer every waiting client
            log.exception("tracking batch of %d fixes failed", len(fresh))
            self._fail(fresh)
            return
        finally:
            self._commit_started = None
        self._finish(fresh, result, (time.perf_counter() - started) * 1000.0)

    def _fail(self, tickets: list[Ticket]) -> None:
        """Answer 503 to every ticket; the message names no file or host (the log has the cause)."""
        self._down.set()
        error = StoreUnavailableError("positions cannot be stored right now; send the fix again later",
                                      details={"retry_after_s": self.retry_after_s})
        for ticket in tickets:
            ticket.resolve(error=error)

    def _finish(self, tickets: list[Ticket], result: BatchResult, commit_ms: float) -> None:
        first: set[tuple[str, datetime]] = set()
        duplicates = 0
        for ticket in tickets:
            key = ticket.fix.key
            duplicate = key not in result.inserted_keys or key in first
            first.add(key)
            duplicates += duplicate
            self._recent[key] = None
            ticket.resolve(duplicate=duplicate, grid_code=result.grid_codes.get(key))
        while len(self._recent) > RECENT_KEYS:
            self._recent.popitem(last=False)
        with self._counter_lock:
            c = self.counters
            c.stored += result.inserted
            c.duplicates += duplicates
            c.batches += 1
            c.largest_batch = max(c.largest_batch, len(tickets))
            c.last_commit_ms = round(commit_ms, 2)
        if self._publish is not None:
            for event in result.live_events:
                try:
                    self._publish(event)
                except GridmapError as exc:  # a bad event must not undo a committed batch
                    log.warning("live event not published: %s", exc.message)

    def stats(self) -> dict[str, Any]:
        """Counters plus the queue depth and whether new fixes are being refused (store down)."""
        with self._counter_lock:
            body = self.counters.to_dict()
        body["pending"] = self._queue.qsize()
        body["refusing"] = self._refusing()
        return body
