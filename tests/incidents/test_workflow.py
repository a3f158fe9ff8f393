"""The state machine without a store: every (action, status) pair, role and area rules, penalties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridmap.auth.principal import PUBLIC, Principal
from gridmap.errors import AuthenticationError, ConflictError, PermissionDeniedError, ValidationError
from gridmap.incidents.categories import DEFAULT_CATEGORIES, Level
from gridmap.incidents.transitions import plan_transition
from gridmap.incidents.workflow import (
    RULES,
    Action,
    ActionRequest,
    IncidentState,
    Status,
    actions_for,
    authorize,
    is_reporter,
    token_hash,
)
from gridmap.model import Role
from tests.incidents import sample

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SANITATION = next(c for c in DEFAULT_CATEGORIES if c.service_code == "sanitation")
ADMIN = Principal("admin", Role.ADMIN, "")
#: Parameters that make each action's request complete (notes, assignee, score).
PARAMS = {Action.REJECT: {"note": "重复"}, Action.ASSIGN: {"assigned_to": "W1"}, Action.HANDLE: {"note": "好了"},
          Action.FAIL_VERIFICATION: {"note": "没好"}, Action.EVALUATE: {"satisfaction": 3},
          Action.SUPERVISE: {"note": "加快"}, Action.COMMENT: {"note": "注意"}, Action.CARD: {"overdue": True}}


def state(status: Status = Status.REPORTED, **kw: object) -> IncidentState:
    base: dict[str, object] = dict(incident_id="SR1", status=status, version=3, level=Level.GRID,
                                   category="sanitation", grid_code=sample.GRID_A1, community_code=sample.COMM_A,
                                   street_code=sample.STREET, reporter="token:abc",
                                   token=token_hash("secret-token"))
    base.update(kw)
    return IncidentState(**base)  # type: ignore[arg-type]


def plan(s: IncidentState, action: Action, **kw: object):  # type: ignore[no-untyped-def]
    req = ActionRequest(action, **{**PARAMS.get(action, {}), **kw})  # type: ignore[arg-type]
    return plan_transition(s, req, category=SANITATION, now=NOW, penalty_after_failures=3)


@pytest.mark.parametrize("action", [a for a in Action if a is not Action.REPORT])
@pytest.mark.parametrize("status", list(Status))
def test_every_action_in_every_status(action: Action, status: Status) -> None:
    rule = RULES[action]
    if status not in rule.sources:
        with pytest.raises(ConflictError):
            plan(state(status), action)
        return
    t = plan(state(status), action)
    assert t.from_status is status and t.changes["version"] == 4 and t.changes["updated_at"] == NOW
    expected = rule.target or status
    if action is Action.ESCALATE and status is not Status.REPORTED:
        expected = Status.CASE_OPENED  # the level above dispatches it again
    assert t.to_status is expected and t.changes["status"] == expected.value


def test_the_loop_reaches_evaluated_only_in_order() -> None:
    s = state()
    path = [Action.OPEN_CASE, Action.ASSIGN, Action.START, Action.HANDLE, Action.VERIFY, Action.CLOSE,
            Action.EVALUATE]
    for action in path:
        t = plan(s, action)
        s = IncidentState(**{**s.__dict__, "status": t.to_status, "version": t.changes["version"]})
    assert s.status is Status.EVALUATED and s.status.open311 == "closed" and s.version == 3 + len(path)
    assert Status.HANDLED.open311 == "open" and Status.REJECTED.open311 == "closed"


def test_penalty_after_the_third_failed_verification() -> None:
    assert "penalty" not in plan(state(Status.HANDLED, verification_failures=1), Action.FAIL_VERIFICATION).changes
    t = plan(state(Status.HANDLED, verification_failures=2), Action.FAIL_VERIFICATION)
    assert t.changes["verification_failures"] == 3 and t.changes["penalty"] is True
    assert t.changes["supervised"] is True and t.to_status is Status.IN_PROGRESS


def test_escalation_moves_up_with_a_new_deadline() -> None:
    t = plan(state(Status.ASSIGNED, assigned_to="W1"), Action.ESCALATE)
    assert t.changes["level"] == "community" and t.changes["assigned_to"] is None
    assert t.changes["deadline_at"] == NOW + timedelta(hours=48)
    with pytest.raises(ConflictError):
        plan(state(Status.ASSIGNED, level=Level.COMMAND), Action.ESCALATE)
    with pytest.raises(ValidationError):
        plan(state(Status.ASSIGNED, level=Level.STREET), Action.ESCALATE, to_level=Level.COMMUNITY)
    jump = plan(state(), Action.ESCALATE, to_level=Level.DISTRICT)
    assert jump.changes["level"] == "district" and jump.to_status is Status.REPORTED


@pytest.mark.parametrize("action, params", [
    (Action.HANDLE, {"note": "  "}), (Action.ASSIGN, {"assigned_to": None}), (Action.EVALUATE, {"satisfaction": 6}),
    (Action.EVALUATE, {"satisfaction": True}), (Action.REJECT, {"duplicate_of": "SR1"}),
])
def test_incomplete_requests_are_400(action: Action, params: dict[str, object]) -> None:
    status = next(iter(RULES[action].sources))
    with pytest.raises(ValidationError):
        plan(state(status), action, **params)


def test_stale_expected_version_is_409() -> None:
    with pytest.raises(ConflictError):
        plan(state(), Action.OPEN_CASE, expected_version=2)
    assert plan(state(), Action.OPEN_CASE, expected_version=3).changes["version"] == 4


def test_roles_and_areas() -> None:
    grid_worker = Principal("w", Role.WORKER, sample.GRID_A1)
    other_worker = Principal("w2", Role.WORKER, sample.GRID_B1)
    analyst = Principal("a", Role.ANALYST, sample.DISTRICT)
    command = Principal("c", Role.COMMAND, sample.DISTRICT)
    authorize(state(), ActionRequest(Action.OPEN_CASE), grid_worker)
    with pytest.raises(PermissionDeniedError):
        authorize(state(), ActionRequest(Action.OPEN_CASE), other_worker)
    with pytest.raises(PermissionDeniedError):
        authorize(state(), ActionRequest(Action.OPEN_CASE), analyst)
    with pytest.raises(AuthenticationError):
        authorize(state(), ActionRequest(Action.OPEN_CASE), PUBLIC)
    with pytest.raises(PermissionDeniedError):  # supervision is for superiors
        authorize(state(), ActionRequest(Action.SUPERVISE, note="x"), grid_worker)
    at_street = state(Status.CASE_OPENED, level=Level.STREET)
    with pytest.raises(PermissionDeniedError):  # the street dispatches what sits at the street
        authorize(at_street, ActionRequest(Action.ASSIGN, assigned_to="W1"), grid_worker)
    authorize(at_street, ActionRequest(Action.ASSIGN, assigned_to="W1"), command)
    authorize(state(Status.ASSIGNED, level=Level.STREET), ActionRequest(Action.START), grid_worker)
    with pytest.raises(PermissionDeniedError):
        authorize(state(Status.ASSIGNED), ActionRequest(Action.CARD, overdue=True), command)
    authorize(state(Status.ASSIGNED), ActionRequest(Action.CARD, overdue=True), ADMIN)


def test_whoever_reports_verifies() -> None:
    handled = state(Status.HANDLED)
    assert is_reporter(handled, PUBLIC, "secret-token") and not is_reporter(handled, PUBLIC, "guess")
    assert is_reporter(handled, Principal("token:abc", Role.WORKER, sample.GRID_B1), None)
    authorize(handled, ActionRequest(Action.VERIFY, token="secret-token"), PUBLIC)
    with pytest.raises(AuthenticationError):
        authorize(handled, ActionRequest(Action.VERIFY, token="guess"), PUBLIC)
    with pytest.raises(AuthenticationError):  # the token does not open dispatcher actions
        authorize(state(), ActionRequest(Action.OPEN_CASE, token="secret-token"), PUBLIC)


def test_actions_for_buttons() -> None:
    worker = Principal("w", Role.WORKER, sample.GRID_A1)
    assert actions_for(state(), worker) == [Action.OPEN_CASE, Action.REJECT, Action.ESCALATE, Action.COMMENT]
    assert Action.ESCALATE not in actions_for(state(level=Level.COMMAND), ADMIN)
    assert actions_for(state(Status.EVALUATED), PUBLIC) == []
