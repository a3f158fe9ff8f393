"""A fix waiting for its batch to commit: what the HTTP handler holds until the writer answers.

Its own module because the ingest queue (gridmap.tracking.ingest) makes tickets and both writers
(writer, writer_sql) resolve them; with the class here none of them imports another back.
"""

from __future__ import annotations

import threading

from gridmap.errors import GridmapError
from gridmap.tracking.devices import WorkerDevice
from gridmap.tracking.pings import Fix


class Ticket:
    """One fix waiting for its batch to commit."""

    __slots__ = ("_done", "duplicate", "error", "fix", "grid_code", "worker")

    def __init__(self, fix: Fix, worker: WorkerDevice) -> None:
        self.fix = fix
        self.worker = worker
        self.error: GridmapError | None = None
        self.duplicate = False
        self.grid_code: str | None = None
        self._done = threading.Event()

    def resolve(self, *, error: GridmapError | None = None, duplicate: bool = False, grid_code: str | None = None
                ) -> None:
        self.error, self.duplicate, self.grid_code = error, duplicate, grid_code
        self._done.set()

    def wait(self, timeout_s: float) -> bool:
        return self._done.wait(timeout_s)


__all__ = ["Ticket"]
