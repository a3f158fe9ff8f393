"""Who carries a device, and which grid a point lies in: the two look-ups every fix needs.

Both are caches over the store that the caller owns (no module state) and that refresh themselves:

* :class:`DeviceRegistry` maps ``device_id`` to the active worker holding it (workers layer). It is
  re-read every ``refresh_s`` seconds, and at most every ``unknown_retry_s`` seconds when an unknown
  device calls (a worker registered a minute ago must not wait for the next refresh, and a flood of
  unknown ids must not turn into a flood of reads).
* :class:`GridLocator` answers "which active grid covers these points" with the in-memory
  :class:`~gridmap.analysis.lookup.LookupIndex`, rebuilt when a generation is activated (checked every
  ``check_s`` seconds with one small read).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from gridmap import schema
from gridmap.analysis.lookup import LookupIndex
from gridmap.errors import StoreUnavailableError
from gridmap.grid_generations import generation_key_from_store
from gridmap.store.base import Store

_W = schema.WORKERS_SPEC


@dataclass(frozen=True)
class WorkerDevice:
    """The worker behind a device: their main grid and every grid they answer for."""

    worker_id: str
    device_id: str
    name: str
    grid_code: str | None
    own_grids: frozenset[str]
    role: str | None = None
    phone: str | None = None


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def own_grids_of(grid_code: Any, extra_grid_codes: Any) -> frozenset[str]:
    """The main grid plus the extra grids (a JSON list, or a comma separated string) of a worker."""
    codes: set[str] = set()
    main = _text(grid_code)
    if main:
        codes.add(main)
    if isinstance(extra_grid_codes, str):
        codes.update(c.strip() for c in extra_grid_codes.split(",") if c.strip())
    elif isinstance(extra_grid_codes, list | tuple):
        codes.update(str(c).strip() for c in extra_grid_codes if _text(c))
    return frozenset(codes)


def devices_from_workers(workers: pd.DataFrame) -> dict[str, WorkerDevice]:
    """device_id -> worker for active workers with a device (``active`` NULL counts as active).

    Two active workers sharing a device is refused by the registry checks (gridmap.services.workers);
    should a store hold such rows anyway, the smallest worker_id keeps the device, deterministically.
    """
    found: dict[str, WorkerDevice] = {}
    if workers.empty:
        return found
    rows = workers.sort_values("worker_id", kind="stable")
    for row in rows.itertuples(index=False):
        device = _text(getattr(row, "device_id", None))
        active = getattr(row, "active", None)
        inactive = active is not None and not pd.isna(active) and not bool(active)
        if device is None or inactive or device in found:
            continue
        found[device] = WorkerDevice(
            worker_id=str(row.worker_id),
            device_id=device,
            name=str(row.name),
            grid_code=_text(row.grid_code),
            own_grids=own_grids_of(row.grid_code, getattr(row, "extra_grid_codes", None)),
            role=_text(getattr(row, "role", None)),
            phone=_text(getattr(row, "phone", None)),
        )
    return found


class DeviceRegistry:
    """device_id -> :class:`WorkerDevice`, re-read from the workers layer now and then (thread-safe).

    Known devices are answered from the map in hand while one background thread re-reads it; an
    unknown device waits for a re-read (at most every ``unknown_retry_s``). When the store is
    unavailable the last map stays in use (an outage must not turn every fix into a connect-timeout
    wait), and only a registry that was never loaded raises :class:`StoreUnavailableError`.
    """

    def __init__(
        self,
        store: Store,
        *,
        refresh_s: float = 10.0,
        unknown_retry_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self.unknown_retry_s = unknown_retry_s
        self._clock = clock
        self._lock = threading.Lock()
        self._devices: Mapping[str, WorkerDevice] | None = None
        self._loaded_at = -float("inf")
        self._reloading = False

    def _read(self) -> Mapping[str, WorkerDevice]:
        columns = ["worker_id", "name", "role", "phone", "grid_code", "extra_grid_codes", "device_id", "active"]
        return devices_from_workers(self.store.read(schema.WORKERS, columns=columns))

    def _devices_now(self, *, max_age_s: float, wait: bool = True) -> Mapping[str, WorkerDevice]:
        """The map, re-read when older than ``max_age_s`` and no other thread is re-reading.

        With ``wait=False`` a map in hand is returned at once and the re-read runs in a background
        thread, so a slow or unreachable store never delays a fix of a known device.
        """
        with self._lock:
            devices = self._devices
            due = self._clock() - self._loaded_at >= max_age_s and not (self._reloading and devices is not None)
            if due:
                self._reloading = True
        if not due:
            assert devices is not None
            return devices
        if devices is not None and not wait:
            threading.Thread(target=self._reload, name="gridmap-device-registry", daemon=True).start()
            return devices
        return self._reload()

    def _reload(self) -> Mapping[str, WorkerDevice]:
        with self._lock:
            devices = self._devices
        try:
            fresh = self._read()
        except StoreUnavailableError:
            with self._lock:
                self._reloading = False
                self._loaded_at = self._clock()  # try again after max_age_s, not on every fix
            if devices is None:
                raise
            return devices
        with self._lock:
            self._devices, self._loaded_at, self._reloading = fresh, self._clock(), False
        return fresh

    def lookup(self, device_id: str) -> WorkerDevice | None:
        """The worker carrying ``device_id`` now, or None (unknown or inactive)."""
        found = self._devices_now(max_age_s=self.refresh_s, wait=False).get(device_id)
        if found is None:  # registered a moment ago? look again, at most every unknown_retry_s
            found = self._devices_now(max_age_s=self.unknown_retry_s).get(device_id)
        return found

    def workers(self) -> list[WorkerDevice]:
        """Every registered device's worker (re-read if stale)."""
        return list(self._devices_now(max_age_s=self.refresh_s).values())


class GridLocator:
    """Grid code per point from the active generations, rebuilt when one is activated."""

    def __init__(self, store: Store, *, check_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.check_s = check_s
        self._clock = clock
        self._lock = threading.Lock()
        self._index: LookupIndex | None = None
        self._checked_at = -float("inf")

    def index(self) -> LookupIndex:
        """The index of the active grids; the one in hand while the store cannot be reached."""
        with self._lock:
            index, due = self._index, self._clock() - self._checked_at >= self.check_s
            if due:
                self._checked_at = self._clock()
        if index is not None and not due:
            return index
        try:
            if index is not None and generation_key_from_store(self.store) == index.generation_key:
                return index
            fresh = LookupIndex.from_store(self.store)
        except StoreUnavailableError:
            if index is None:
                raise
            return index
        with self._lock:
            self._index = fresh
        return fresh

    def codes(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.object_]:
        """The active grid covering each point (None outside every grid); lon/lat WGS84 degrees."""
        return self.index().lookup_many(lon, lat)
