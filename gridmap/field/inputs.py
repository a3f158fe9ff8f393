"""What a phone sends for a check-in, a home visit or a log entry, parsed and checked.

Why client ids: the field page queues entries offline and uploads them when the network is back, so
the same entry may arrive twice (a retry after a lost answer). The phone makes a UUID for each entry;
the server stores an id once and answers a replay with the stored result.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from gridmap.errors import ValidationError
from gridmap.field.geo import checked_lonlat

NOTE_MAX_CHARS = 2000
DIARY_MAX_CHARS = 5000
SHORT_MAX_CHARS = 200
MAX_TAGS = 20
MAX_LINKS = 50
#: A phone clock this far ahead of the server is refused (seconds).
MAX_FUTURE_S = 300.0
#: Offline entries older than this are refused (days): a queue that old is a bug, not a day's work.
MAX_AGE_DAYS = 14
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def client_id(value: Any, *, what: str) -> str:
    """The canonical lower-case UUID string of ``value`` (any UUID spelling), else a 400."""
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise ValidationError(f"{what}: id must be a UUID made by the phone, got {value!r}",
                              code="bad_client_id") from None


def text(value: Any, *, name: str, max_chars: int, required: bool = False) -> str | None:
    """Stripped text within ``max_chars``; None when empty and not required."""
    out = "" if value is None else str(value).strip()
    if not out:
        if required:
            raise ValidationError(f"{name} is required")
        return None
    if len(out) > max_chars:
        raise ValidationError(f"{name} has {len(out)} characters; at most {max_chars}")
    return out


def day_text(value: Any, *, name: str) -> str:
    """A YYYY-MM-DD date string (checked to be a real date)."""
    raw = str(value or "").strip()
    try:
        if not _DAY.match(raw):
            raise ValueError
        date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"{name}: expected a date YYYY-MM-DD, got {value!r}") from None
    return raw


def when(value: Any, *, now: datetime, name: str = "at") -> datetime:
    """The entry's time (ISO 8601; naive = UTC), or ``now`` when absent; not in the future, not stale."""
    if value in (None, ""):
        return now
    try:
        ts = pd.Timestamp(str(value))
    except (ValueError, TypeError):
        raise ValidationError(f"{name}: expected an ISO 8601 time, got {value!r}") from None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    at: datetime = ts.to_pydatetime()
    if at > now + timedelta(seconds=MAX_FUTURE_S):
        raise ValidationError(f"{name} {at.isoformat()} is in the future; check the phone's clock")
    if at < now - timedelta(days=MAX_AGE_DAYS):
        raise ValidationError(f"{name} {at.isoformat()} is more than {MAX_AGE_DAYS} days old")
    return at


def _accuracy(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        acc = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"accuracy must be metres (a number), got {value!r}") from None
    if not 0 <= acc < 100_000:
        raise ValidationError(f"accuracy {acc} m is not a plausible position accuracy")
    return acc


def _strings(value: Any, *, name: str, limit: int) -> list[str]:
    if value in (None, ""):
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValidationError(f"{name} must be a list of strings")
    out = list(dict.fromkeys(s for v in items if (s := str(v).strip())))
    if len(out) > limit or any(len(s) > SHORT_MAX_CHARS for s in out):
        raise ValidationError(f"{name}: at most {limit} items of at most {SHORT_MAX_CHARS} characters")
    return out


@dataclass(frozen=True)
class CheckinInput:
    checkin_id: str
    point_id: str
    lon: float
    lat: float
    accuracy_m: float | None
    at: datetime
    note: str | None


def checkin_input(fields: Mapping[str, Any], *, now: datetime) -> CheckinInput:
    """A check-in from the JSON the phone sent (``id``, ``point_id``, ``lon``, ``lat``, ``accuracy``, ``at``,
    ``note``)."""
    lon, lat = checked_lonlat(fields.get("lon"), fields.get("lat"), what="check-in position")
    point = text(fields.get("point_id"), name="point_id", max_chars=SHORT_MAX_CHARS, required=True)
    assert point is not None
    return CheckinInput(checkin_id=client_id(fields.get("id"), what="check-in"), point_id=point, lon=lon, lat=lat,
                        accuracy_m=_accuracy(fields.get("accuracy")), at=when(fields.get("at"), now=now),
                        note=text(fields.get("note"), name="note", max_chars=NOTE_MAX_CHARS))


@dataclass(frozen=True)
class IncidentDraft:
    """An incident to report from a visit (through the incident service)."""

    category: str
    description: str


@dataclass(frozen=True)
class VisitInput:
    visit_id: str
    building_id: str
    household: str | None
    purpose: str
    outcome: str
    follow_up: str | None
    follow_up_on: str | None
    at: datetime
    lon: float | None
    lat: float | None
    incident: IncidentDraft | None


def _incident(value: Any) -> IncidentDraft | None:
    if not value:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError("incident must be an object with category and description")
    category = text(value.get("category"), name="incident.category", max_chars=SHORT_MAX_CHARS, required=True)
    description = text(value.get("description"), name="incident.description", max_chars=NOTE_MAX_CHARS,
                       required=True)
    assert category is not None and description is not None
    return IncidentDraft(category=category, description=description)


def visit_input(fields: Mapping[str, Any], *, now: datetime) -> VisitInput:
    """A home visit from the phone's JSON (``id``, ``building_id``, ``household``, ``purpose``, ``outcome``,
    ``follow_up``, ``follow_up_on``, ``at``, optional ``lon``/``lat`` and ``incident``)."""
    lon = lat = None
    if fields.get("lon") not in (None, "") or fields.get("lat") not in (None, ""):
        lon, lat = checked_lonlat(fields.get("lon"), fields.get("lat"), what="visit position")
    follow_on = fields.get("follow_up_on")
    building = text(fields.get("building_id"), name="building_id", max_chars=SHORT_MAX_CHARS, required=True)
    purpose = text(fields.get("purpose"), name="purpose", max_chars=NOTE_MAX_CHARS, required=True)
    outcome = text(fields.get("outcome"), name="outcome", max_chars=NOTE_MAX_CHARS, required=True)
    assert building is not None and purpose is not None and outcome is not None
    return VisitInput(
        visit_id=client_id(fields.get("id"), what="visit"), building_id=building,
        household=text(fields.get("household"), name="household", max_chars=SHORT_MAX_CHARS),
        purpose=purpose, outcome=outcome,
        follow_up=text(fields.get("follow_up"), name="follow_up", max_chars=NOTE_MAX_CHARS),
        follow_up_on=day_text(follow_on, name="follow_up_on") if follow_on else None,
        at=when(fields.get("at"), now=now), lon=lon, lat=lat, incident=_incident(fields.get("incident")))


@dataclass(frozen=True)
class DiaryInput:
    text: str
    tags: list[str]
    visit_ids: list[str]
    incident_ids: list[str]


def diary_input(fields: Mapping[str, Any]) -> DiaryInput:
    """A log entry's content (``text``, ``tags``, ``visit_ids``, ``incident_ids``)."""
    body = text(fields.get("text"), name="text", max_chars=DIARY_MAX_CHARS, required=True)
    assert body is not None
    return DiaryInput(text=body, tags=_strings(fields.get("tags"), name="tags", limit=MAX_TAGS),
                      visit_ids=_strings(fields.get("visit_ids"), name="visit_ids", limit=MAX_LINKS),
                      incident_ids=_strings(fields.get("incident_ids"), name="incident_ids", limit=MAX_LINKS))
