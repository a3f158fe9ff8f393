"""The escalation timer: sweeps on its own thread, survives a failing sweep, stops with the app."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from gridmap.auth.principal import PUBLIC
from gridmap.config import Settings
from gridmap.errors import StoreUnavailableError
from gridmap.incidents.timer import EscalationTimer
from gridmap.portal.app import close_app, create_app
from gridmap.portal.incidents.open311 import TIMER_KEY
from gridmap.services.incidents import EscalationReport, IncidentService
from gridmap.store.base import Store
from tests.incidents import sample

WAIT_S = 30.0  # upper bound only: the events below fire after the first ticks


def test_timer_escalates_overdue_cases(incident_store: Store) -> None:
    t0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
    point = sample.INSIDE[sample.GRID_A2]
    reporter = IncidentService(incident_store, Settings(allow_anonymous_reports=True), clock=lambda: t0)
    iid = reporter.report(PUBLIC, {"service_code": "sanitation", "lat": point[1], "long": point[0]}
                          ).incident["incident_id"]
    later = IncidentService(incident_store, Settings(), clock=lambda: t0 + timedelta(hours=25))
    swept = threading.Event()
    reports: list[EscalationReport] = []

    def seen(report: EscalationReport) -> None:
        reports.append(report)
        swept.set()

    timer = EscalationTimer(later.escalate_overdue, interval_s=0.05, on_sweep=seen).start()
    try:
        assert swept.wait(WAIT_S)
    finally:
        timer.stop()
    assert not timer.running and reports[0].escalated == [iid]
    assert later.get(iid)["level"] == "community"


def test_a_failing_sweep_does_not_kill_the_timer() -> None:
    calls: list[int] = []
    done = threading.Event()

    def sweep() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise StoreUnavailableError("database restarting")
        return len(calls)

    timer = EscalationTimer(sweep, interval_s=0.02, on_sweep=lambda n: done.set()).start()
    try:
        assert done.wait(WAIT_S)
    finally:
        timer.stop()
    assert len(calls) >= 2 and timer.sweeps >= 1 and not timer.running


def test_create_app_starts_and_close_app_stops_the_timer(incident_store: Store) -> None:
    app = create_app(Settings(escalation_interval_s=3600, secret_key="t"), store=incident_store)
    timer = app.extensions[TIMER_KEY]
    assert timer.running
    close_app(app)
    assert not timer.running
    plain = create_app(Settings(secret_key="t"), store=incident_store)
    assert TIMER_KEY not in plain.extensions
    close_app(plain)


def test_the_server_timer_announces_moved_cases_on_the_live_hub(incident_store: Store) -> None:
    from gridmap.auth.principal import Principal
    from gridmap.model import Role
    from gridmap.portal.live import hub

    old = datetime.now(UTC) - timedelta(days=3)  # sanitation: due after 24 h at the grid, so overdue now
    point = sample.INSIDE[sample.GRID_B2]
    iid = IncidentService(incident_store, Settings(allow_anonymous_reports=True), clock=lambda: old).report(
        PUBLIC, {"service_code": "sanitation", "lat": point[1], "long": point[0]}).incident["incident_id"]
    app = create_app(Settings(escalation_interval_s=0.05, secret_key="t"), store=incident_store)
    sub = hub(app).subscribe(Principal("cmd", Role.COMMAND, sample.COMM_B))
    try:
        event = sub.queue.get(timeout=WAIT_S)
    finally:
        close_app(app)
    assert event is not None and event.type == "incident.updated" and event.area_code == sample.GRID_B2
    assert event.data["incident_id"] == iid and event.data["level"] == "community"
