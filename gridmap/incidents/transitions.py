"""Planning one move of the closed loop: which columns change and what the event log records.

Kept apart from :mod:`gridmap.incidents.workflow` (the rules: statuses, actions, roles) so that the
rules read as one table and the effects of each action as small functions. Pure: no I/O, the
service writes the result with a compare-and-set on ``version``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gridmap.errors import ConflictError, ValidationError
from gridmap.incidents.categories import LADDER, Category, next_level
from gridmap.incidents.workflow import DEFAULT_NOTES, RULES, Action, ActionRequest, IncidentState, Rule, Status


@dataclass(frozen=True)
class Transition:
    """A planned move: the column changes for INCIDENTS and the INCIDENT_EVENTS row's fields."""

    action: Action
    from_status: Status
    to_status: Status
    changes: dict[str, Any]
    note: str | None
    detail: dict[str, Any] = field(default_factory=dict)



def _check_legal(state: IncidentState, request: ActionRequest) -> Rule:
    rule = RULES[request.action]
    if request.expected_version is not None and request.expected_version != state.version:
        raise ConflictError(
            f"incident {state.incident_id} is at version {state.version}, not {request.expected_version}: "
            "someone changed it meanwhile; reload and try again",
            details={"incident_id": state.incident_id, "version": state.version},
        )
    if state.status not in rule.sources:
        allowed = ", ".join(sorted(s.value for s in rule.sources))
        raise ConflictError(
            f"incident {state.incident_id} is {state.status.value}: {request.action.value} is only allowed "
            f"from {allowed}",
            details={"incident_id": state.incident_id, "status": state.status.value},
        )
    note = (request.note or "").strip()
    if rule.needs_note and not note:
        raise ValidationError(f"{request.action.value} on incident {state.incident_id} needs a note "
                              "(feedback, reason or comment)")
    return rule


def plan_transition(
    state: IncidentState,
    request: ActionRequest,
    *,
    category: Category,
    now: datetime,
    penalty_after_failures: int,
) -> Transition:
    """The changes ``request`` makes to ``state`` (no authorisation: call :func:`authorize` first)."""
    rule = _check_legal(state, request)
    target = rule.target or state.status
    note = (request.note or "").strip() or None
    changes: dict[str, Any] = {"status": target.value, "updated_at": now, "version": state.version + 1,
                               "status_notes": note or DEFAULT_NOTES[request.action]}
    detail: dict[str, Any] = {}
    _ACTION_EFFECTS[request.action](state, request, category, now, changes, detail)
    if request.action is Action.FAIL_VERIFICATION:
        failures = state.verification_failures + 1
        changes["verification_failures"] = failures
        detail["verification_failures"] = failures
        if failures >= penalty_after_failures:
            changes.update(penalty=True, supervised=True)
            detail["penalty"] = True
    # An effect may change the status (escalation hands the case back to dispatch): log what is stored.
    return Transition(request.action, state.status, Status(changes["status"]), changes, note, detail)


Effect = Callable[[IncidentState, ActionRequest, Category, datetime, dict[str, Any], dict[str, Any]], None]


def _none(*_: Any) -> None:
    """Actions that only change the status."""


def _assign(state: IncidentState, req: ActionRequest, cat: Category, now: datetime,
            changes: dict[str, Any], detail: dict[str, Any]) -> None:
    assignee = (req.assigned_to or "").strip() or None
    department = (req.department or "").strip() or None
    if assignee is None and department is None:
        raise ValidationError(f"assign incident {state.incident_id}: give assigned_to (a worker id) or department")
    changes.update(assigned_to=assignee, department=department)
    detail.update(assigned_to=assignee, department=department)


def _reject(state: IncidentState, req: ActionRequest, cat: Category, now: datetime,
            changes: dict[str, Any], detail: dict[str, Any]) -> None:
    changes["closed_at"] = now
    if req.duplicate_of:
        if req.duplicate_of == state.incident_id:
            raise ValidationError(f"incident {state.incident_id} cannot be a duplicate of itself")
        changes["duplicate_of"] = req.duplicate_of
        detail["duplicate_of"] = req.duplicate_of


def _close(state: IncidentState, req: ActionRequest, cat: Category, now: datetime,
           changes: dict[str, Any], detail: dict[str, Any]) -> None:
    changes["closed_at"] = now


def _evaluate(state: IncidentState, req: ActionRequest, cat: Category, now: datetime,
              changes: dict[str, Any], detail: dict[str, Any]) -> None:
    score = req.satisfaction
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError(f"evaluate incident {state.incident_id}: satisfaction must be a whole number 1-5, "
                              f"got {score!r}")
    changes["satisfaction"] = score
    detail["satisfaction"] = score


def _escalate(state: IncidentState, req: ActionRequest, cat: Category, now: datetime,
              changes: dict[str, Any], detail: dict[str, Any]) -> None:
    above = next_level(state.level)
    target = req.to_level or above
    if target is None or above is None:
        raise ConflictError(f"incident {state.incident_id} is already at the command centre: nowhere to escalate")
    if LADDER.index(target) <= LADDER.index(state.level):
        raise ValidationError(f"escalate incident {state.incident_id}: {target.value} is not above "
                              f"{state.level.value}")
    changes.update(level=target.value, deadline_at=now + cat.deadline(target), assigned_to=None, department=None)
    if state.status is not Status.REPORTED:
        changes["status"] = Status.CASE_OPENED.value  # the new level screens and dispatches it again
    detail.update(from_level=state.level.value, to_level=target.value)
    _overdue(state, req, changes, detail)


def _card(state: IncidentState, req: ActionRequest, cat: Category, now: datetime,
          changes: dict[str, Any], detail: dict[str, Any]) -> None:
    if not req.overdue:
        raise ValidationError("a card is issued by the escalation sweep for a missed deadline")
    changes["deadline_at"] = now + cat.deadline(state.level)
    _overdue(state, req, changes, detail)


def _overdue(state: IncidentState, req: ActionRequest, changes: dict[str, Any], detail: dict[str, Any]) -> None:
    if req.overdue:
        changes["overdue_count"] = state.overdue_count + 1
        detail["overdue"] = True
    if req.card and req.card != state.card:
        changes["card"] = req.card
        detail["card"] = req.card


def _supervise(state: IncidentState, req: ActionRequest, cat: Category, now: datetime,
               changes: dict[str, Any], detail: dict[str, Any]) -> None:
    changes["supervised"] = True


_ACTION_EFFECTS: Mapping[Action, Effect] = {
    Action.OPEN_CASE: _none, Action.REJECT: _reject, Action.ASSIGN: _assign, Action.START: _none,
    Action.HANDLE: _none, Action.VERIFY: _none, Action.FAIL_VERIFICATION: _none, Action.CLOSE: _close,
    Action.EVALUATE: _evaluate, Action.ESCALATE: _escalate, Action.SUPERVISE: _supervise, Action.COMMENT: _none,
    Action.CARD: _card,
}


