"""Deadlines, automatic escalation up the ladder, and red/yellow cards for overdue handling.

Why a sweep and not a timer per case: a periodic scan (``gridmap escalate`` from cron, or the
portal's timer thread) needs no state in memory, survives restarts and is idempotent: a case
escalated once gets a fresh deadline at its new level, so running the sweep twice in a row changes
nothing the second time.

Rules (E-20...E-24, E-36, E-52): a case still unhandled (reported, case opened, assigned, in
progress) after its deadline climbs one level: grid -> community -> street -> district -> command
centre, with the new level's deadline counted from now. At the command centre there is nowhere
higher, so a missed deadline only adds a card. Cards (configurable, :class:`CardRules`): yellow
when the case has missed a deadline once, red when it missed deadlines twice or was overdue by
more than ``red_overdue_factor`` times its level's allowed time. A card never softens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from gridmap.errors import ValidationError
from gridmap.incidents.categories import CategoryCatalogue, Level, level_from_text, next_level
from gridmap.incidents.workflow import UNHANDLED_STATUSES, Action

YELLOW = "yellow"
RED = "red"
_CARD_RANK = {None: 0, YELLOW: 1, RED: 2}


@dataclass(frozen=True)
class CardRules:
    """When a missed deadline earns a card (红黄牌, E-52)."""

    #: Missed deadlines (at any level) that earn a yellow card.
    yellow_after_overdues: int = 1
    #: Missed deadlines that earn a red card.
    red_after_overdues: int = 2
    #: Red as soon as the time spent at one level exceeds this multiple of its allowed time.
    red_overdue_factor: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.yellow_after_overdues <= self.red_after_overdues:
            raise ValidationError(
                "card rules: need 1 <= yellow_after_overdues <= red_after_overdues, got "
                f"{self.yellow_after_overdues} and {self.red_after_overdues}"
            )
        if self.red_overdue_factor <= 1.0:
            raise ValidationError(f"card rules: red_overdue_factor must be > 1, got {self.red_overdue_factor}")

    def card_for(self, overdue_count: int, overdue_ratio: float, current: str | None) -> str | None:
        """The card after ``overdue_count`` missed deadlines with ``overdue_ratio`` = time at level / allowed."""
        card: str | None = None
        if overdue_count >= self.yellow_after_overdues:
            card = YELLOW
        if overdue_count >= self.red_after_overdues or overdue_ratio > self.red_overdue_factor:
            card = RED
        return card if _CARD_RANK[card] > _CARD_RANK.get(current, 0) else current


@dataclass(frozen=True)
class EscalationDecision:
    """What the sweep does to one overdue case; applied through the normal transition path."""

    incident_id: str
    version: int
    action: Action  # ESCALATE, or CARD at the top of the ladder
    from_level: Level
    to_level: Level | None
    card: str | None
    overdue_h: float

    def note(self) -> str:
        where = f"，上报至{self.to_level.label_zh}" if self.to_level is not None else ""
        card = {YELLOW: "，黄牌", RED: "，红牌"}.get(self.card or "", "")
        return f"{self.from_level.label_zh}处置超期 {self.overdue_h:.1f} 小时{where}{card}"


def _value(row: Any, name: str) -> Any:
    value = row.get(name) if isinstance(row, dict) else getattr(row, name, None)
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def deadline_of(row: Any, catalogue: CategoryCatalogue) -> tuple[datetime, timedelta] | None:
    """(deadline, allowed time at the level) of an incident row; imported rows without a deadline get
    ``reported_at`` + the allowed time. None when the category is unknown (left to a person)."""
    category = catalogue.find(_value(row, "category"))
    if category is None:
        return None
    level = level_from_text(_value(row, "level") or Level.GRID.value)
    allowed = category.deadline(level)
    deadline = _value(row, "deadline_at")
    if deadline is None:
        deadline = pd.Timestamp(_value(row, "reported_at")) + allowed
    return pd.Timestamp(deadline).to_pydatetime(), allowed


def escalation_decisions(
    incidents: pd.DataFrame, *, now: datetime, catalogue: CategoryCatalogue, rules: CardRules
) -> list[EscalationDecision]:
    """One decision per unhandled incident whose deadline has passed at ``now`` (UTC-aware)."""
    if now.tzinfo is None:
        raise ValidationError("escalation: 'now' must be timezone-aware (UTC)")
    if incidents.empty:
        return []
    open_rows = incidents.loc[incidents["status"].isin([s.value for s in UNHANDLED_STATUSES])]
    decisions: list[EscalationDecision] = []
    for row in open_rows.to_dict("records"):
        found = deadline_of(row, catalogue)
        if found is None or found[0] >= now:
            continue
        deadline, allowed = found
        level = level_from_text(_value(row, "level") or Level.GRID.value)
        overdue = now - deadline
        ratio = (overdue + allowed) / allowed
        count = int(_value(row, "overdue_count") or 0) + 1
        card = rules.card_for(count, ratio, _value(row, "card"))
        above = next_level(level)
        decisions.append(EscalationDecision(
            incident_id=str(row["incident_id"]),
            version=int(_value(row, "version") or 0),
            action=Action.ESCALATE if above is not None else Action.CARD,
            from_level=level,
            to_level=above,
            card=card,
            overdue_h=overdue.total_seconds() / 3600.0,
        ))
    return decisions


def is_overdue(row: Any, *, now: datetime, catalogue: CategoryCatalogue) -> bool:
    """True when an unhandled incident is past its deadline at ``now`` (for lists and maps)."""
    if _value(row, "status") not in {s.value for s in UNHANDLED_STATUSES}:
        return False
    found = deadline_of(row, catalogue)
    return found is not None and found[0] < now

