"""The seven-step closed loop (七步闭环) as one state machine: statuses, actions, who may do what.

Why one table-driven machine: the seeds describe the same loop in a dozen wordings (E-8...E-19);
keeping every legal move in :data:`RULES` makes the loop auditable (a test walks it) and lets the
service apply any move the same way: plan it here (pure, no I/O), then write it with a
compare-and-set on ``version`` together with its INCIDENT_EVENTS row in one transaction.

The loop: reported -> case_opened (立案) -> assigned (派遣, to a grid worker or a department) ->
in_progress -> handled (with feedback) -> verified (核查; a failure sends it back to in_progress and
counts, E-44) -> closed (结案归档) -> evaluated (评价, satisfaction 1-5). ``rejected`` (不予立案:
duplicate, not ours) ends a report that never became a case. Escalation (上报), supervision (督办),
comments (点评) and cards (红黄牌) are side moves that keep the status.

An illegal move is a :class:`ConflictError` (409): the case is not in a state that allows it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

import pandas as pd

from gridmap.auth.principal import Principal, require_area, require_role
from gridmap.errors import AuthenticationError, NotFoundError, PermissionDeniedError, ValidationError
from gridmap.incidents.categories import Category, Level, level_from_text, next_level
from gridmap.model import Role


class Status(StrEnum):
    REPORTED = "reported"  # 问题上报
    CASE_OPENED = "case_opened"  # 案卷建立 / 立案
    ASSIGNED = "assigned"  # 任务指派 / 派遣
    IN_PROGRESS = "in_progress"  # 调查落实 / 处置
    HANDLED = "handled"  # 处理反馈
    VERIFIED = "verified"  # 核查通过
    CLOSED = "closed"  # 结案归档
    EVALUATED = "evaluated"  # 跟踪评价
    REJECTED = "rejected"  # 不予立案 (duplicate, not a matter for the grid)

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def open311(self) -> str:
        """The GeoReport v2 status: ``open`` until the case is closed."""
        return "closed" if self in (Status.CLOSED, Status.EVALUATED, Status.REJECTED) else "open"


FINAL_STATUSES = frozenset({Status.EVALUATED, Status.REJECTED})
#: Open311 "closed" statuses.
CLOSED_STATUSES = frozenset({Status.CLOSED, Status.EVALUATED, Status.REJECTED})
#: Statuses in which handling is still due: the deadline runs and escalation applies.
UNHANDLED_STATUSES = frozenset({Status.REPORTED, Status.CASE_OPENED, Status.ASSIGNED, Status.IN_PROGRESS})
_NOT_FINAL = frozenset(Status) - FINAL_STATUSES - {Status.CLOSED}

#: FixMyStreet-style extended statuses (standards.md), one per step of the loop.
EXTENDED_STATUS: Mapping[Status, str] = {
    Status.REPORTED: "open",
    Status.CASE_OPENED: "investigating",
    Status.ASSIGNED: "action_scheduled",
    Status.IN_PROGRESS: "in_progress",
    Status.HANDLED: "fixed",
    Status.VERIFIED: "fixed",
    Status.CLOSED: "closed",
    Status.EVALUATED: "closed",
    Status.REJECTED: "no_further_action",
}


class Action(StrEnum):
    REPORT = "report"
    OPEN_CASE = "open_case"
    REJECT = "reject"
    ASSIGN = "assign"
    START = "start"
    HANDLE = "handle"
    VERIFY = "verify"
    FAIL_VERIFICATION = "fail_verification"
    CLOSE = "close"
    EVALUATE = "evaluate"
    ESCALATE = "escalate"
    SUPERVISE = "supervise"
    COMMENT = "comment"
    CARD = "card"


Scope = Literal["level", "grid"]


@dataclass(frozen=True)
class Rule:
    """One legal move: from which statuses, to which (None = unchanged), by whom, checked where.

    ``scope`` says which area the actor must cover: ``level`` = the area of the level the case sits
    at (only that level dispatches it), ``grid`` = the incident's grid (any level above also covers it).
    """

    sources: frozenset[Status]
    target: Status | None
    roles: frozenset[Role]
    scope: Scope
    reporter_may: bool = False
    needs_note: bool = False


_W, _C = Role.WORKER, Role.COMMAND
RULES: Mapping[Action, Rule] = {
    Action.OPEN_CASE: Rule(frozenset({Status.REPORTED}), Status.CASE_OPENED, frozenset({_W, _C}), "level"),
    Action.REJECT: Rule(frozenset({Status.REPORTED, Status.CASE_OPENED}), Status.REJECTED, frozenset({_W, _C}),
                        "level", needs_note=True),
    Action.ASSIGN: Rule(frozenset({Status.CASE_OPENED, Status.ASSIGNED}), Status.ASSIGNED, frozenset({_W, _C}),
                        "level"),
    Action.START: Rule(frozenset({Status.ASSIGNED}), Status.IN_PROGRESS, frozenset({_W, _C}), "grid"),
    Action.HANDLE: Rule(frozenset({Status.IN_PROGRESS}), Status.HANDLED, frozenset({_W, _C}), "grid",
                        needs_note=True),
    Action.VERIFY: Rule(frozenset({Status.HANDLED}), Status.VERIFIED, frozenset({_W, _C}), "grid",
                        reporter_may=True),
    Action.FAIL_VERIFICATION: Rule(frozenset({Status.HANDLED}), Status.IN_PROGRESS, frozenset({_W, _C}), "grid",
                                   reporter_may=True, needs_note=True),
    Action.CLOSE: Rule(frozenset({Status.VERIFIED}), Status.CLOSED, frozenset({_W, _C}), "grid"),
    Action.EVALUATE: Rule(frozenset({Status.CLOSED}), Status.EVALUATED, frozenset({_C}), "grid", reporter_may=True),
    Action.ESCALATE: Rule(UNHANDLED_STATUSES, None, frozenset({_W, _C}), "grid"),
    Action.SUPERVISE: Rule(_NOT_FINAL, None, frozenset({_C}), "level", needs_note=True),
    Action.COMMENT: Rule(frozenset(Status), None, frozenset({_W, _C}), "grid", needs_note=True),
    Action.CARD: Rule(UNHANDLED_STATUSES, None, frozenset(), "level"),
}

#: What status_notes says after a move without a note of its own.
DEFAULT_NOTES: Mapping[Action, str] = {
    Action.REPORT: "已受理上报", Action.OPEN_CASE: "已立案", Action.REJECT: "不予立案", Action.ASSIGN: "已派遣",
    Action.START: "处置中", Action.HANDLE: "已处置，待核查", Action.VERIFY: "核查通过",
    Action.FAIL_VERIFICATION: "核查未通过，返工", Action.CLOSE: "已结案归档", Action.EVALUATE: "已评价",
    Action.ESCALATE: "已上报上级", Action.SUPERVISE: "督办", Action.COMMENT: "点评", Action.CARD: "超期亮牌",
}


def status_from_text(text: Any) -> Status:
    try:
        return Status(str(text))
    except ValueError:
        raise ValidationError(
            f"unknown status {text!r}; choose one of {', '.join(s.value for s in Status)}"
        ) from None


def action_from_text(text: Any) -> Action:
    try:
        action = Action(str(text))
    except ValueError:
        action = None
    if action is None or action in (Action.REPORT, Action.CARD):
        allowed = ", ".join(a.value for a in RULES if a is not Action.CARD)
        raise ValidationError(f"unknown action {text!r}; choose one of {allowed}", code="unknown_action")
    return action


def _int(value: Any, default: int = 0) -> int:
    return default if value is None or pd.isna(value) else int(value)


def _text(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


@dataclass(frozen=True)
class IncidentState:
    """The fields of one stored incident that the machine reads (a row of INCIDENTS)."""

    incident_id: str
    status: Status
    version: int
    level: Level
    category: str
    grid_code: str | None
    community_code: str | None
    street_code: str | None
    reporter: str | None = None
    token: str | None = None  # the tracking token's hash
    assigned_to: str | None = None
    department: str | None = None
    verification_failures: int = 0
    supervised: bool = False
    card: str | None = None
    overdue_count: int = 0
    deadline_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> IncidentState:
        """From a store row; NULL version/level (imported or legacy rows) count as 0 / grid."""
        level = _text(row.get("level"))
        deadline = row.get("deadline_at")
        return cls(
            incident_id=str(row["incident_id"]),
            status=status_from_text(row["status"]),
            version=_int(row.get("version")),
            level=level_from_text(level) if level else Level.GRID,
            category=str(row["category"]),
            grid_code=_text(row.get("grid_code")),
            community_code=_text(row.get("community_code")),
            street_code=_text(row.get("street_code")),
            reporter=_text(row.get("reporter")),
            token=_text(row.get("token")),
            assigned_to=_text(row.get("assigned_to")),
            department=_text(row.get("department")),
            verification_failures=_int(row.get("verification_failures")),
            supervised=bool(row.get("supervised")) if not pd.isna(row.get("supervised")) else False,
            card=_text(row.get("card")),
            overdue_count=_int(row.get("overdue_count")),
            deadline_at=None if deadline is None or pd.isna(deadline) else pd.Timestamp(deadline).to_pydatetime(),
        )

    @property
    def home_code(self) -> str | None:
        """The most precise area code known for the incident (grid, else community, else street)."""
        return self.grid_code or self.community_code or self.street_code

    def area_code_at(self, level: Level) -> str | None:
        """The code of the area responsible at ``level`` (a prefix of the incident's own code)."""
        code = self.home_code
        if code is None or len(code) < level.code_length:
            return code
        return code[: level.code_length]


@dataclass(frozen=True)
class ActionRequest:
    """What an actor asks for. ``expected_version`` (if given) must match the stored one."""

    action: Action
    note: str | None = None
    assigned_to: str | None = None
    department: str | None = None
    satisfaction: int | None = None
    duplicate_of: str | None = None
    to_level: Level | None = None
    expected_version: int | None = None
    #: The reporter's tracking token: lets an anonymous reporter verify and evaluate (谁上报、谁核查).
    token: str | None = None
    #: Set by the escalation sweep only: the move is for a missed deadline, with this card (or None).
    overdue: bool = False
    card: str | None = None


def token_hash(token: str) -> str:
    """What is stored of a tracking token: its SHA-256 (like API keys), so a leaked database opens no report."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_reporter(state: IncidentState, principal: Principal, token: str | None) -> bool:
    """Whoever reported (same signed-in name, or holding the report's tracking token)."""
    if token and state.token and secrets.compare_digest(token_hash(token), state.token):
        return True
    return not principal.is_public and state.reporter is not None and principal.name == state.reporter


def incident_not_found(incident_id: str) -> NotFoundError:
    """The one 404 of an incident, the same whether it is missing or lies outside the caller's area."""
    return NotFoundError(f"incident {incident_id} not found", details={"service_request_id": incident_id})


def check_visible(state: IncidentState, principal: Principal, token: str | None) -> None:
    """401 for the public (unless holding the report's token); for staff outside the incident's area the
    same 404 as for a missing incident, so an id reveals nothing about other areas."""
    if is_reporter(state, principal, token):
        return
    if principal.is_public:
        raise AuthenticationError(f"sign in to see incident {state.incident_id}")
    if principal.role is Role.ADMIN and principal.area_code == "":
        return
    if not principal.covers(state.home_code):
        raise incident_not_found(state.incident_id)


def authorize(state: IncidentState, request: ActionRequest, principal: Principal) -> None:
    """Raise 401/403 unless ``principal`` may do ``request.action`` on this incident."""
    rule = RULES[request.action]
    if rule.reporter_may and is_reporter(state, principal, request.token):
        return
    if not rule.roles and principal.role is not Role.ADMIN:
        raise PermissionDeniedError(f"action {request.action.value} is done by the system only")
    require_role(principal, *rule.roles)
    code = state.area_code_at(state.level) if rule.scope == "level" else state.home_code
    what = f"incident {state.incident_id} ({state.level.label_zh} {code})" if rule.scope == "level" else (
        f"incident {state.incident_id}")
    require_area(principal, code, what=what)


def initial_level(category: Category) -> Level:
    """Where a new report starts: the grid, or the command centre for urgent categories (E-21)."""
    return Level.COMMAND if category.urgent else Level.GRID


def actions_for(state: IncidentState, principal: Principal) -> list[Action]:
    """The actions ``principal`` could take now (for the portal's buttons); authorisation included."""
    out: list[Action] = []
    for action, rule in RULES.items():
        if action is Action.CARD or state.status not in rule.sources:
            continue
        try:
            authorize(state, ActionRequest(action), principal)
        except (AuthenticationError, PermissionDeniedError):
            continue
        if action is Action.ESCALATE and next_level(state.level) is None:
            continue
        out.append(action)
    return out
