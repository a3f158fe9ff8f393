"""Executors: one seam for work that fans out over communities.

Why: partitioning or validating a whole city is the same pure function applied to hundreds of
communities. Code that takes an :class:`Executor` runs unchanged in-process ("serial"), on local
processes ("local:N") or on a Dask cluster ("dask://HOST:PORT"), which is how a city-wide run moves
to a cluster without code changes. Every executor returns results in the order of the items
(never in completion order) and reports progress as ``progress(done, total)``.

Functions and items must be picklable for "local:N" and Dask (module-level functions or frozen
dataclasses with ``__call__``; no lambdas). Exceptions raised by ``fn`` propagate unchanged.
Dask is optional (``pip install gridmap[dask]``) and imported only when a Dask executor is made.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol, TypeVar, runtime_checkable

from gridmap.errors import ValidationError

T = TypeVar("T")
R = TypeVar("R")
ProgressFn = Callable[[int, int], None]

_LOCAL_RE = re.compile(r"^local(?::(\d+))?$")
_DASK_RE = re.compile(r"^(dask|tcp|tls)://(.+)$")

#: The executor specs understood by :func:`make_executor`, for help texts and error messages.
EXECUTOR_SPECS = ("serial", "local", "local:N", "dask://HOST:PORT")


@runtime_checkable
class Executor(Protocol):
    """Maps a function over items, preserving order. Use as a context manager to release workers."""

    name: str

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, progress: ProgressFn | None = None) -> list[R]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...


class _Base:
    name = "base"

    def close(self) -> None:
        """Release workers (nothing to release by default)."""

    def __enter__(self) -> Executor:
        return self  # type: ignore[return-value]

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class SerialExecutor(_Base):
    """Runs everything in this process, one item after the other (the default; easy to debug)."""

    name = "serial"

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, progress: ProgressFn | None = None) -> list[R]:
        work = list(items)
        out: list[R] = []
        for item in work:
            out.append(fn(item))
            if progress is not None:
                progress(len(out), len(work))
        return out


class LocalExecutor(_Base):
    """A pool of ``workers`` local processes (created on first use, reused until ``close``)."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValidationError(f"executor local:{workers}: the number of processes must be at least 1")
        self.workers = workers
        self.name = f"local:{workers}"
        self._pool: ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, progress: ProgressFn | None = None) -> list[R]:
        work = list(items)
        if not work:
            return []
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        futures = [self._pool.submit(fn, item) for item in work]
        return _collect(futures, progress)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(_Base):
    """Runs on a dask.distributed cluster, through a Client it opens (and closes) or one it is given."""

    def __init__(self, client: Any, *, owns_client: bool) -> None:
        self.client = client
        self._owns_client = owns_client
        self.name = f"dask://{_scheduler_address(client)}"

    def map(self, fn: Callable[[T], R], items: Iterable[T], *, progress: ProgressFn | None = None) -> list[R]:
        from distributed import as_completed

        work = list(items)
        if not work:
            return []
        # pure=False: the same item twice is two tasks (functions may be random by seed; never dedupe).
        futures = self.client.map(fn, work, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(work)
        done = 0
        try:
            for future in as_completed(futures):
                results[index[future.key]] = future.result()  # re-raises the task's exception
                done += 1
                if progress is not None:
                    progress(done, len(work))
        finally:
            self.client.cancel([f for f in futures if not f.done()])
        return results

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


def _collect(futures: list[Future[R]], progress: ProgressFn | None) -> list[R]:
    """Results of ``futures`` in submission order; progress as they finish; first error re-raised."""
    pending = set(futures)
    done_count = 0
    while pending:
        finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
        for future in finished:
            if future.exception() is not None:
                for other in pending:
                    other.cancel()
                raise future.exception()  # type: ignore[misc]
            done_count += 1
            if progress is not None:
                progress(done_count, len(futures))
    return [f.result() for f in futures]


def _scheduler_address(client: Any) -> str:
    address = str(getattr(client.scheduler, "address", "") or "")
    return address.split("://", 1)[-1] or "client"


def make_executor(spec: str | Any, *, connect_timeout_s: float = 10.0) -> Executor:
    """An executor from a spec: "serial", "local" (one process per CPU), "local:N",
    "dask://HOST:PORT" (also "tcp://HOST:PORT"), or an existing ``distributed.Client``.

    ``connect_timeout_s`` bounds how long to wait for a Dask scheduler (seconds).
    """
    if not isinstance(spec, str):
        if hasattr(spec, "submit") and hasattr(spec, "scheduler"):
            return DaskExecutor(spec, owns_client=False)
        raise ValidationError(f"executor: expected a spec string or a dask Client, got {type(spec).__name__}")
    text = spec.strip()
    if text in {"", "serial"}:
        return SerialExecutor()
    local = _LOCAL_RE.match(text)
    if local:
        return LocalExecutor(int(local.group(1)) if local.group(1) else (os.cpu_count() or 1))
    dask = _DASK_RE.match(text)
    if dask:
        try:
            from distributed import Client
        except ImportError:
            raise ValidationError(
                f"executor {spec!r} needs dask.distributed: install it with pip install 'gridmap[dask]'"
            ) from None
        address = dask.group(2) if dask.group(1) == "dask" else text
        try:
            client = Client(address if "://" in address else f"tcp://{address}", timeout=f"{connect_timeout_s}s")
        except OSError as exc:
            raise ValidationError(f"executor {spec!r}: cannot reach the Dask scheduler ({exc})") from None
        return DaskExecutor(client, owns_client=True)
    raise ValidationError(f"unknown executor {spec!r}; use one of {', '.join(EXECUTOR_SPECS)}")
