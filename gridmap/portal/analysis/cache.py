"""A small time-limited cache for the heat page's prepared data, one per app (in ``app.extensions``).

Why: preparing the heat of 200,000 incidents (reading them from the store, summing them into H3
cells) takes seconds, while the picture changes slowly; a command-centre screen that reloads, or
several analysts opening the same view, should not pay that each time. An entry lives
``HEAT_CACHE_TTL_S`` seconds and is dropped at once when the number of incidents in the store
changes (a new report); a status change alone shows up at the latest after the TTL. Thread-safe:
waitress serves requests on several threads.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
#: Seconds an entry stays valid.
HEAT_CACHE_TTL_S = 60.0
#: Entries kept at most (areas x filters x views); the oldest is dropped first.
HEAT_CACHE_ENTRIES = 32


class TtlCache(Generic[V]):
    """key -> value, valid for ``ttl_s`` seconds and while the caller's ``stamp`` is unchanged."""

    def __init__(self, *, ttl_s: float = HEAT_CACHE_TTL_S, max_entries: int = HEAT_CACHE_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.max_entries, self.clock = ttl_s, max_entries, clock
        self._entries: OrderedDict[Hashable, tuple[float, Hashable, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, stamp: Hashable, compute: Callable[[], V]) -> V:
        """The cached value, or ``compute()`` (outside the lock: other keys are not held up) stored for later."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now and entry[1] == stamp:
                self._entries.move_to_end(key)
                return entry[2]
        value = compute()
        with self._lock:
            self._entries[key] = (self.clock() + self.ttl_s, stamp, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
