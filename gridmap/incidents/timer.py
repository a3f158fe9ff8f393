"""A background thread that runs the escalation sweep every N seconds inside the portal server.

Why also a timer when ``gridmap escalate`` exists for cron: a small office runs only ``gridmap
serve``. The thread belongs to the app that started it (no module state); ``stop()`` wakes it at
once and joins it, so a server shuts down without waiting for the next tick. A failing sweep (the
store is down for a moment) is logged and retried at the next tick rather than killing the thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from gridmap.errors import ValidationError

log = logging.getLogger("gridmap.incidents")


class EscalationTimer:
    """Calls ``sweep()`` every ``interval_s`` seconds on a daemon thread until :meth:`stop`."""

    def __init__(
        self,
        sweep: Callable[[], Any],
        *,
        interval_s: float,
        on_sweep: Callable[[Any], None] | None = None,
        name: str = "gridmap-escalation",
    ) -> None:
        if interval_s <= 0:
            raise ValidationError(f"escalation_interval_s must be positive to run the timer, got {interval_s}")
        self.interval_s = interval_s
        self._sweep = sweep
        self._on_sweep = on_sweep
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.sweeps = 0

    def start(self) -> EscalationTimer:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                result = self._sweep()
                self.sweeps += 1
                if self._on_sweep is not None:
                    self._on_sweep(result)
            except Exception:  # keep the timer alive: log and retry at the next tick
                log.exception("escalation sweep failed; retrying in %.0f s", self.interval_s)

    def stop(self, *, timeout_s: float = 30.0) -> None:
        """Stop after the sweep in progress (if any) and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)
