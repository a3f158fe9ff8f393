"""Executors: same results, in order, whatever runs them (serial, local processes, Dask)."""

from __future__ import annotations

import numpy as np
import pytest

from gridmap.errors import ValidationError
from gridmap.executors import DaskExecutor, LocalExecutor, SerialExecutor, make_executor
from gridmap.partition.problem import Band
from gridmap.partition.regions.strategy import regions_from_problem
from gridmap.partition.regions.synthetic import lattice_community

BAND = Band(300, 500, 400)


def square_plus_pid_free(x: int) -> int:
    """A picklable toy job whose result depends only on its input."""
    return x * x + 1


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ArithmeticError(f"item {x} is bad")
    return x


def solve_community(seed: int) -> np.ndarray:
    """The region strategy on a synthetic community: the real workload an executor fans out."""
    community = lattice_community(6 + seed % 3, 5, rng=np.random.default_rng(seed), band=BAND)
    return regions_from_problem(community.problem, rng=np.random.default_rng(100 + seed))


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))


def assert_progress_complete(recorder: Recorder, total: int) -> None:
    assert [done for done, _ in recorder.calls] == list(range(1, total + 1))
    assert {t for _, t in recorder.calls} == {total}


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp://", dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_spec_parsing():
    assert isinstance(make_executor("serial"), SerialExecutor)
    local = make_executor("local:3")
    assert isinstance(local, LocalExecutor) and local.workers == 3 and local.name == "local:3"
    for bad in ["local:0", "threads", "dask:/x", "local:-1"]:
        with pytest.raises(ValidationError):
            make_executor(bad)
    with pytest.raises(ValidationError):
        make_executor(42)


def test_serial_map_preserves_order_and_reports_progress():
    recorder = Recorder()
    items = [5, 1, 4, 2, 3]
    assert SerialExecutor().map(square_plus_pid_free, items, progress=recorder) == [26, 2, 17, 5, 10]
    assert_progress_complete(recorder, 5)
    assert SerialExecutor().map(square_plus_pid_free, []) == []


def test_local_processes_match_serial_and_propagate_errors():
    items = list(range(12))[::-1]
    recorder = Recorder()
    with make_executor("local:2") as executor:
        assert executor.map(square_plus_pid_free, items, progress=recorder) == [x * x + 1 for x in items]
        assert_progress_complete(recorder, len(items))
        with pytest.raises(ArithmeticError, match="item 3 is bad"):
            executor.map(fail_on_three, range(6))
        seeds = [0, 1, 2]
        serial = SerialExecutor().map(solve_community, seeds)
        for a, b in zip(executor.map(solve_community, seeds), serial, strict=True):
            np.testing.assert_array_equal(a, b)


def test_dask_client_object_matches_serial(dask_client):
    executor = make_executor(dask_client)
    assert isinstance(executor, DaskExecutor)
    recorder = Recorder()
    items = list(range(20))
    assert executor.map(square_plus_pid_free, items, progress=recorder) == [x * x + 1 for x in items]
    assert_progress_complete(recorder, len(items))
    # The same item twice is two tasks with two results (pure=False), still in order.
    assert executor.map(square_plus_pid_free, [2, 2, 1]) == [5, 5, 2]
    with pytest.raises(ArithmeticError, match="item 3 is bad"):
        executor.map(fail_on_three, range(6))
    executor.close()  # does not close a client it was given
    assert dask_client.status == "running"


def test_dask_spec_string_runs_region_strategy_like_serial(dask_client):
    address = dask_client.scheduler.address.split("://", 1)[1]
    seeds = [0, 1, 2, 3]
    serial = SerialExecutor().map(solve_community, seeds)
    assert all(len(np.unique(labels)) >= 2 for labels in serial)  # non-trivial partitions
    with make_executor(f"dask://{address}") as executor:
        assert executor.name == f"dask://{address}"
        distributed_results = executor.map(solve_community, seeds)
    for a, b in zip(distributed_results, serial, strict=True):
        np.testing.assert_array_equal(a, b)


def test_unreachable_dask_scheduler_is_a_clear_error():
    pytest.importorskip("distributed")
    with pytest.raises(ValidationError, match="cannot reach the Dask scheduler"):
        make_executor("dask://127.0.0.1:9", connect_timeout_s=0.5)
