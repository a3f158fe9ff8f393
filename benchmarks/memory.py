"""Peak memory of one benchmark step: this process, its child processes and the PostgreSQL server.

``ru_maxrss`` only gives the maximum over a process's whole life, so a step that follows a bigger one
cannot be told apart. :func:`step_peak` samples instead: a thread reads the resident set size (RSS)
of every process in the tree every ``interval_s`` seconds and keeps the highest sum. Processes whose
command line names one of ``also`` (for example the data directory of the ``postgres`` server that
``pg_ctl`` detached from this process) are added with their children (the backends), since a
database step spends its memory there. Short peaks between two
samples can be missed; 0.2 s is far below the length of any step measured here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import psutil


@dataclass
class StepPeak:
    """Highest RSS seen during the step, in MB (10^6 bytes): the whole tree and this process alone."""

    tree_mb: float = 0.0
    self_mb: float = 0.0


def _tree_rss(me: psutil.Process, also: tuple[str, ...]) -> tuple[int, int]:
    roots = [me]
    if also:
        for p in psutil.process_iter(["cmdline"]):
            cmd = " ".join(p.info.get("cmdline") or [])
            if p.pid != me.pid and any(name in cmd for name in also):
                roots.append(p)
    procs: dict[int, psutil.Process] = {}
    for root in roots:
        procs[root.pid] = root
        with suppress(psutil.Error):
            procs.update({c.pid: c for c in root.children(recursive=True)})
    total = 0
    for p in procs.values():
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue  # ended between listing and reading
    return total, me.memory_info().rss


@contextmanager
def step_peak(*, also: tuple[str, ...] = (), interval_s: float = 0.2) -> Iterator[StepPeak]:
    """Sample the process tree's RSS while the ``with`` body runs; the result is filled in at exit."""
    me, peak, done = psutil.Process(), StepPeak(), threading.Event()

    def sample() -> None:
        while True:
            tree, own = _tree_rss(me, also)
            peak.tree_mb, peak.self_mb = max(peak.tree_mb, tree / 1e6), max(peak.self_mb, own / 1e6)
            if done.wait(interval_s):
                return

    thread = threading.Thread(target=sample, name="step-peak", daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()
        tree, own = _tree_rss(me, also)
        peak.tree_mb = round(max(peak.tree_mb, tree / 1e6), 1)
        peak.self_mb = round(max(peak.self_mb, own / 1e6), 1)


def tree_cpu_s(root: psutil.Process) -> float:
    """User + system CPU seconds of ``root`` and its live children (ended ones are not counted)."""
    total = 0.0
    with suppress(psutil.Error):
        for p in [root, *root.children(recursive=True)]:
            with suppress(psutil.Error):
                times = p.cpu_times()
                total += times.user + times.system
    return total


def cpu_by_part(parts: dict[str, list[psutil.Process]]) -> dict[str, float]:
    """CPU seconds so far of each named group of process trees (subtract two calls for a step's share)."""
    return {name: sum(tree_cpu_s(p) for p in procs) for name, procs in parts.items()}


def processes_named(text: str) -> list[psutil.Process]:
    """Processes whose command line contains ``text`` (e.g. a PostgreSQL data directory)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if text in " ".join(p.info.get("cmdline") or []):
            found.append(p)
    return found
