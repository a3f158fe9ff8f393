"""Integrity under concurrency, on both stores: exactly one winner, no lost or half-written transition.

Threads start together on a barrier (no sleeps); every outcome is either a stored transition with
its event or a 409 with nothing stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from gridmap import schema
from gridmap.auth.principal import Principal
from gridmap.errors import ConflictError
from gridmap.incidents.workflow import Action, ActionRequest
from gridmap.model import Role
from gridmap.services.incidents import IncidentService
from tests.incidents import sample

THREADS = 6


def run_together(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) in n threads released at once; returns each result or the exception raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def body(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return results


def _assigned_incident(service: IncidentService, actor: Principal) -> str:
    point = sample.INSIDE[sample.GRID_B1]
    iid = str(service.report(actor, {"service_code": "fire", "long": point[0], "lat": point[1]})
              .incident["incident_id"])
    service.act(actor, iid, ActionRequest(Action.OPEN_CASE))
    service.act(actor, iid, ActionRequest(Action.ASSIGN, department="应急管理局"))
    return iid


def test_two_actors_one_case_exactly_one_wins(service: IncidentService, command: Principal) -> None:
    iid = _assigned_incident(service, command)
    actors = [Principal(f"worker{i}", Role.WORKER, sample.COMM_B) for i in range(THREADS)]
    results = run_together(THREADS, lambda i: service.act(actors[i], iid, ActionRequest(Action.START)))
    wins = [r for r in results if isinstance(r, dict)]
    losses = [r for r in results if isinstance(r, ConflictError)]
    assert len(wins) == 1 and len(losses) == THREADS - 1, results
    row = service.get(iid)
    events = service.events(iid)
    assert row["status"] == "in_progress" and row["version"] == 4
    assert events["seq"].tolist() == [1, 2, 3, 4]
    assert events.iloc[-1]["action"] == "start" and events.iloc[-1]["actor"] in {a.name for a in actors}


def test_no_transition_is_lost(service: IncidentService, command: Principal) -> None:
    """Many commenters at once: every success has its event, versions and seqs have no gaps or repeats."""
    iid = _assigned_incident(service, command)
    rounds = 4

    def comment(i: int) -> int:
        done = 0
        for k in range(rounds):
            try:
                service.act(command, iid, ActionRequest(Action.COMMENT, note=f"点评 {i}-{k}"))
                done += 1
            except ConflictError:
                pass
        return done

    results = run_together(THREADS, comment)
    assert all(isinstance(r, int) for r in results), results
    succeeded = sum(results)
    events = service.events(iid)
    comments = events.loc[events["action"] == "comment"]
    assert len(comments) == succeeded >= 1
    assert events["seq"].tolist() == list(range(1, len(events) + 1))
    assert service.get(iid)["version"] == len(events)
    assert len(set(comments["note"])) == succeeded  # each stored comment is one distinct call


def test_concurrent_reports_are_each_stored_once(service: IncidentService, command: Principal) -> None:
    per_thread = 5

    def report(i: int) -> list[str]:
        point = sample.INSIDE[sample.GRID_A2]
        return [str(service.report(command, {"service_code": "sanitation", "long": point[0], "lat": point[1],
                                             "description": f"t{i}-{k}"}).incident["incident_id"])
                for k in range(per_thread)]

    results = run_together(THREADS, report)
    ids = [i for r in results for i in r]
    assert len(ids) == len(set(ids)) == THREADS * per_thread
    stored = service.store.read(schema.INCIDENTS)
    assert sorted(stored["description"]) == sorted(f"t{i}-{k}" for i in range(THREADS) for k in range(per_thread))
    assert service.store.count(schema.INCIDENT_EVENTS) == THREADS * per_thread
