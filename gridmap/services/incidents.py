"""Incident use cases shared by the Open311 API, the portal pages and the CLI.

Every change of an incident is ONE store transaction that (1) reads the row, (2) checks the move
with :mod:`gridmap.incidents.workflow`, (3) updates the row with a compare-and-set on ``version``
and (4) appends its INCIDENT_EVENTS row (``seq`` = the new version, unique per incident). Two
actors moving the same case at once therefore cannot both win: the loser's update matches no row
(PostGIS: the row lock makes it wait, then re-check) or it reads the winner's state (GeoPackage:
writers queue on the file lock) and the move is no longer legal; either way a 409 ConflictError
and nothing of it is stored. The event log is the incident's audit trail.

New reports are located with the lookup index (grid, community, street from the point; GCJ-02 /
BD-09 input via ``crs``; or an address found in our gazetteer), stored with version 1 and their
first event, and answered with their duplicate candidates; on PostGIS the insert of both rows and
the duplicate query are one statement (:mod:`gridmap.incidents.writes`), the intake's hot path.
Listings come from SQL as plain records (:mod:`gridmap.incidents.query`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import shapely

from gridmap import schema
from gridmap.auth.principal import Principal, require_area, require_role
from gridmap.config import Settings
from gridmap.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from gridmap.incidents import assessment as assessment
from gridmap.incidents import open311 as open311
from gridmap.incidents.categories import LADDER as LADDER
from gridmap.incidents.categories import Category, Level
from gridmap.incidents.duplicates import DuplicateCandidate, duplicate_candidates
from gridmap.incidents.escalation import escalation_decisions
from gridmap.incidents.escalation import is_overdue as is_overdue
from gridmap.incidents.intake import MEDIA_MAX_BYTES as MEDIA_MAX_BYTES
from gridmap.incidents.intake import ReportInput, report_input_from_fields
from gridmap.incidents.intake import action_request_from_fields as action_request_from_fields
from gridmap.incidents.intake import media_kind as media_kind
from gridmap.incidents.open311 import datetime_from_text as datetime_from_text
from gridmap.incidents.policy import IncidentPolicy, policy_from_settings
from gridmap.incidents.query import LISTING_COLUMNS, IncidentFilter, records_matching
from gridmap.incidents.query import MAX_RESULTS as MAX_RESULTS
from gridmap.incidents.query import ids_from_text as ids_from_text
from gridmap.incidents.timer import EscalationTimer as EscalationTimer
from gridmap.incidents.transitions import Transition, plan_transition
from gridmap.incidents.workflow import (
    CLOSED_STATUSES,
    UNHANDLED_STATUSES,
    Action,
    ActionRequest,
    IncidentState,
    Status,
    authorize,
    check_visible,
    incident_not_found,
    initial_level,
    token_hash,
)
from gridmap.incidents.workflow import RULES as RULES
from gridmap.incidents.workflow import actions_for as actions_for
from gridmap.incidents.workflow import is_reporter as is_reporter
from gridmap.incidents.workflow import status_from_text as status_from_text
from gridmap.incidents.writes import insert_report
from gridmap.model import Role
from gridmap.services.lookup import LookupService
from gridmap.store.base import Store, StoreTransaction

#: The actor of automatic moves (escalation sweep).
#: A report located by address alone needs a match at least this good (gazetteer score, 0..1).
ADDRESS_MIN_SCORE = 0.85
SYSTEM = Principal(name="system:escalation", role=Role.ADMIN, area_code="", via="cli")
_ROW_COLUMNS = tuple(c for c in schema.INCIDENTS_SPEC.column_names)
_OPEN = [s.value for s in Status if s not in CLOSED_STATUSES]


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_incident_id(now: datetime) -> str:
    """``SR20250131-9F3A1C7B2D``: the day (sorts by date) and 40 random bits (unique without a counter)."""
    return f"SR{now:%Y%m%d}-{secrets.token_hex(5).upper()}"


@dataclass(frozen=True)
class ReportOutcome:
    incident: dict[str, Any]
    token: str
    duplicates: list[DuplicateCandidate]


@dataclass
class EscalationReport:
    """What one sweep did (printed by ``gridmap escalate``)."""

    at: datetime
    checked: int = 0
    escalated: list[str] = field(default_factory=list)
    carded: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "checked": self.checked, "escalated": self.escalated,
                "carded": self.carded, "skipped": self.skipped}


def event_frame(incident_id: str, seq: int, *, at: datetime, actor: str, transition: Transition) -> pd.DataFrame:
    return pd.DataFrame([{
        "incident_id": incident_id, "seq": seq, "at": pd.Timestamp(at), "actor": actor,
        "from_status": transition.from_status.value if seq > 1 else None, "to_status": transition.to_status.value,
        "action": transition.action.value, "note": transition.note, "detail": transition.detail or None,
    }])


class IncidentService:
    """Report, move, escalate, list and read incidents in one store (thread-safe: no shared mutable state
    besides the lookup service, which locks itself)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        lookup: LookupService | None = None,
        policy: IncidentPolicy | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy or policy_from_settings(settings)
        self.lookup = lookup or LookupService(store, settings)
        self._clock = clock

    def now(self) -> datetime:
        """The service's clock (UTC; tests pass a fixed one)."""
        return self._clock()

    # -- intake ----------------------------------------------------------------------------------

    def may_report(self, principal: Principal) -> None:
        """Signed-in workers and the command centre may report; the public only when the setting allows."""
        if principal.is_public:
            if not self.settings.allow_anonymous_reports:
                raise AuthenticationError("anonymous reports are switched off here: send an api_key")
            return
        require_role(principal, Role.WORKER, Role.COMMAND)

    def report(self, principal: Principal, fields: Mapping[str, Any], *, source: str = "open311") -> ReportOutcome:
        """Check, locate and store a GeoReport v2 request (fields of the POST)."""
        self.may_report(principal)
        return self.report_checked(principal, report_input_from_fields(fields, self.policy.catalogue), source=source)

    def locate(self, data: ReportInput) -> tuple[float, float, str | None, str | None, str | None]:
        """(lon, lat) in WGS84 and the grid, community and street codes serving the point (or the address)."""
        if data.x is None or data.y is None:
            return self._locate_address(data.address or "")
        try:
            found = self.lookup.lookup_point(data.x, data.y, crs=data.crs)
        except NotFoundError as exc:
            details = exc.details if isinstance(exc.details, Mapping) else {}
            community = details.get("community") if details else None
            if isinstance(community, Mapping) and community.get("code"):
                lon, lat = self.lookup.wgs84_from_input(data.x, data.y, crs=data.crs)
                code = str(community["code"])
                return lon, lat, None, code, code[:9]
            raise ValidationError(f"the point ({data.x}, {data.y}) is outside the service area: {exc.message}",
                                  code="outside_service_area", details=details or None) from None
        community = found.community.code if found.community else found.grid.code[:12]
        return found.lon, found.lat, found.grid.code, community, community[:9]

    def _locate_address(self, address: str) -> tuple[float, float, str | None, str | None, str | None]:
        """A report with only an address: our own gazetteer, accepted only for a confident match."""
        try:
            answer = self.lookup.search_address(address)
        except NotFoundError:
            answer = None
        best = answer.candidates[0][0] if answer is not None else None
        if answer is None or best is None or best.score < ADDRESS_MIN_SCORE or answer.result is None:
            raise ValidationError(f"address_string {address!r} does not match a known address inside the service "
                                  "area closely enough; send lat and long", code="address_not_found")
        found = answer.result
        community = found.community.code if found.community else found.grid.code[:12]
        return best.lon, best.lat, found.grid.code, community, community[:9]

    def report_checked(self, principal: Principal, data: ReportInput, *, source: str) -> ReportOutcome:
        lon, lat, grid, community, street = self.locate(data)
        if not principal.is_public:
            require_area(principal, grid or community, what=f"the point ({lon:.6f}, {lat:.6f})")
        now = self._clock()
        category = data.category
        level = initial_level(category) if grid is not None or category.urgent else Level.COMMUNITY
        token = secrets.token_urlsafe(16)
        row: dict[str, Any] = {
            "category": category.service_code, "description": data.description, "status": Status.REPORTED.value,
            "reported_at": now, "updated_at": now, "closed_at": None, "grid_code": grid,
            "community_code": community, "street_code": street, "level": level.value, "weight": 1.0,
            "address": data.address, "reporter": principal.name, "synthetic": False, "source": source,
            "version": 1, "assigned_to": None, "department": None, "deadline_at": now + category.deadline(level),
            "urgent": category.urgent, "verification_failures": 0, "penalty": False, "supervised": False,
            "card": None, "overdue_count": 0, "satisfaction": None, "media_url": data.media_url,
            "status_notes": "已受理上报", "token": token_hash(token), "duplicate_of": None,
        }
        event = {"seq": 1, "at": now, "actor": principal.name, "from_status": None,
                 "to_status": Status.REPORTED.value, "action": Action.REPORT.value, "note": None,
                 "detail": {"level": level.value, "urgent": True} if category.urgent else None}
        nearby = self._nearby(category, grid, now) if grid is not None else None
        for attempt in range(3):  # a 40-bit id collides about never; retry anyway rather than fail a report
            row["incident_id"] = event["incident_id"] = new_incident_id(now)
            try:
                before = insert_report(self.store, row, lon, lat, event, nearby=nearby)
                break
            except ConflictError:
                if attempt == 2:
                    raise
        duplicates = self._candidates(before, lon, lat, category=category, grid_code=grid, now=now)
        stored = {**row, "lon": lon, "lat": lat, "geometry": shapely.Point(lon, lat)}
        return ReportOutcome(stored, token, duplicates)

    def _nearby(self, category: Category, grid_code: str, now: datetime) -> IncidentFilter:
        """Open incidents of ``category`` in the grid within the duplicate window (duplicates.py)."""
        stored = tuple(dict.fromkeys([category.service_code, category.name_zh, *category.aliases]))
        return IncidentFilter(start=now - timedelta(days=self.policy.duplicates.days), categories=stored,
                              statuses=tuple(_OPEN), area_code=grid_code)

    def _candidates(self, records: list[dict[str, Any]], lon: float, lat: float, *, category: Category,
                    grid_code: str | None, now: datetime, exclude_id: str | None = None) -> list[DuplicateCandidate]:
        for rec in records:
            rec["category"] = category.service_code  # imported rows may spell it in Chinese
        return duplicate_candidates(records, lon=lon, lat=lat, category=category.service_code, grid_code=grid_code,
                                    now=now, rules=self.policy.duplicates, exclude_id=exclude_id)

    def duplicates(self, lon: float, lat: float, *, category: Category, grid_code: str | None,
                   now: datetime | None = None, exclude_id: str | None = None) -> list[DuplicateCandidate]:
        """Open incidents of the same category nearby in the same grid (a suggestion, see duplicates.py)."""
        if grid_code is None:
            return []
        when = now or self._clock()
        records = records_matching(self.store, self._nearby(category, grid_code, when))
        return self._candidates(records, lon, lat, category=category, grid_code=grid_code, now=when,
                                exclude_id=exclude_id)

    # -- the closed loop -------------------------------------------------------------------------

    def act(self, principal: Principal, incident_id: str, request: ActionRequest, *,
            now: datetime | None = None) -> dict[str, Any]:
        """Apply one move (see the module docstring); returns the stored row after it."""
        when = now or self._clock()
        with self.store.transaction() as tx:
            state = self._state(tx, incident_id)
            check_visible(state, principal, request.token)
            authorize(state, request, principal)
            if request.action is Action.ASSIGN and request.assigned_to:
                self._check_assignee(tx, state, request.assigned_to.strip())
            category = self.policy.catalogue.get(state.category)
            transition = plan_transition(state, request, category=category, now=when,
                                         penalty_after_failures=self.policy.penalty_after_failures)
            self._write(tx, state, transition, actor=principal.name, now=when)
        return self.get(incident_id)

    @staticmethod
    def _check_assignee(tx: StoreTransaction, state: IncidentState, worker_id: str) -> None:
        """A case goes to an active worker serving inside the area of the level that dispatches it."""
        rows = tx.read(schema.WORKERS, where={"worker_id": worker_id}, columns=["worker_id", "grid_code", "active"])
        area = state.area_code_at(state.level) or ""
        if rows.empty or rows["active"].iloc[0] is False:
            raise ValidationError(f"assign incident {state.incident_id}: no active worker {worker_id!r}",
                                  details={"assigned_to": worker_id})
        grid = rows["grid_code"].iloc[0]
        if not isinstance(grid, str) or not grid.startswith(area):
            raise ValidationError(f"assign incident {state.incident_id}: worker {worker_id} serves grid {grid}, "
                                  f"outside {state.level.label_zh} {area}", details={"assigned_to": worker_id})

    @staticmethod
    def _state(tx: StoreTransaction, incident_id: str) -> IncidentState:
        rows = tx.read(schema.INCIDENTS, where={"incident_id": incident_id}, columns=list(_ROW_COLUMNS))
        if rows.empty:
            raise incident_not_found(incident_id)
        return IncidentState.from_row({str(k): v for k, v in rows.iloc[0].to_dict().items()})

    @staticmethod
    def _write(tx: StoreTransaction, state: IncidentState, transition: Transition, *, actor: str,
               now: datetime) -> None:
        # Imported and legacy rows have no version yet: they count as version 0.
        where = {"incident_id": state.incident_id, "version": [0, None] if state.version == 0 else state.version}
        if tx.update(schema.INCIDENTS, where, transition.changes) != 1:
            raise ConflictError(
                f"incident {state.incident_id} was changed by someone else meanwhile (it was at version "
                f"{state.version}); reload it and try again",
                details={"service_request_id": state.incident_id},
            )
        tx.insert(schema.INCIDENT_EVENTS, event_frame(state.incident_id, state.version + 1, at=now, actor=actor,
                                                      transition=transition))

    # -- escalation ------------------------------------------------------------------------------

    def escalate_overdue(self, *, now: datetime | None = None) -> EscalationReport:
        """One sweep: every unhandled case past its deadline climbs a level (or gets a card at the top)."""
        when = now or self._clock()
        report = EscalationReport(at=when)
        cols = ["incident_id", "category", "status", "reported_at", "level", "version", "deadline_at",
                "overdue_count", "card"]
        rows = self.store.read(schema.INCIDENTS, where={"status": [s.value for s in UNHANDLED_STATUSES]},
                               columns=cols)
        report.checked = len(rows)
        for d in escalation_decisions(rows, now=when, catalogue=self.policy.catalogue, rules=self.policy.cards):
            request = ActionRequest(d.action, note=d.note(), to_level=d.to_level, overdue=True, card=d.card,
                                    expected_version=d.version)
            try:
                self.act(SYSTEM, d.incident_id, request, now=when)
            except (ConflictError, ValidationError, NotFoundError) as exc:
                report.skipped.append({"incident_id": d.incident_id, "reason": exc.message})
                continue
            (report.escalated if d.action is Action.ESCALATE else report.carded).append(d.incident_id)
        return report

    # -- reading ---------------------------------------------------------------------------------

    def get(self, incident_id: str) -> dict[str, Any]:
        rows = self.store.read(schema.INCIDENTS, where={"incident_id": incident_id})
        if rows.empty:
            raise incident_not_found(incident_id)
        return {str(k): v for k, v in rows.iloc[0].to_dict().items()}

    def find_by_token(self, token: str) -> dict[str, Any]:
        """The incident whose tracking token this is (Open311 tokens/{token}); 404 otherwise."""
        rows = self.store.read(schema.INCIDENTS, where={"token": token_hash(token)}, columns=["incident_id"])
        if rows.empty or not token:
            raise NotFoundError("no service request has this token")
        return {str(k): v for k, v in rows.iloc[0].to_dict().items()}

    def events(self, incident_id: str) -> pd.DataFrame:
        events = self.store.read(schema.INCIDENT_EVENTS, where={"incident_id": incident_id})
        return events.sort_values("seq").reset_index(drop=True)

    def matching(self, f: IncidentFilter) -> list[dict[str, Any]]:
        """Incidents matching ``f`` as records (``lon``/``lat``, the columns a listing shows), newest report
        first (GET requests, the list page)."""
        return records_matching(self.store, f, columns=LISTING_COLUMNS, split=True)

    def updates(self, f: IncidentFilter, *, area_code: str = "") -> list[dict[str, Any]]:
        """Incident events in ``f``'s time window, newest first (FixMyStreet servicerequestupdates), of
        incidents inside ``area_code`` ("" = all)."""
        events = records_matching(self.store, f, layer=schema.INCIDENT_EVENTS)
        if not area_code or not events:
            return events
        ids = sorted({e["incident_id"] for e in events})
        homes = self.store.read(schema.INCIDENTS, where={"incident_id": ids},
                                columns=["incident_id", "grid_code", "community_code", "street_code"])
        home = homes["grid_code"].fillna(homes["community_code"]).fillna(homes["street_code"]).fillna("")
        inside = set(homes.loc[home.astype(str).str.startswith(area_code), "incident_id"])
        return [e for e in events if e["incident_id"] in inside]

    def visible(self, principal: Principal, incident_id: str, *, token: str | None = None) -> dict[str, Any]:
        """The incident if ``principal`` may see it (staff in the area, or the reporter's token), else the
        same 404 as for a missing one (401 for the public without a token)."""
        row = self.get(incident_id)
        check_visible(IncidentState.from_row(row), principal, token)
        return row

    def stored_categories(self, codes: Sequence[str]) -> tuple[str, ...]:
        """Every stored spelling of these service codes (files and the demo may store the Chinese name)."""
        out: list[str] = []
        for code in codes:
            cat = self.policy.catalogue.get(code)
            out += [cat.service_code, cat.name_zh, *cat.aliases]
        return tuple(dict.fromkeys(out))


_ASSESSMENT_COLUMNS = ["incident_id", "category", "status", "reported_at", "closed_at", "grid_code", "community_code",
                       "street_code", "level", "assigned_to", "department", "deadline_at", "verification_failures",
                       "penalty", "supervised", "card", "overdue_count", "satisfaction"]


def assessment_frame(service: IncidentService, *, start: datetime | None, end: datetime | None,
                     area_code: str = "") -> pd.DataFrame:
    """Incidents reported in [start, end) inside ``area_code`` (a code prefix, "" = all), with
    ``handled_at`` (the last handling feedback) from the event log and categories as service codes."""
    from gridmap.incidents.assessment import window

    rows = window(service.store.read(schema.INCIDENTS, columns=_ASSESSMENT_COLUMNS), start=start, end=end)
    if area_code:
        home = rows["grid_code"].fillna(rows["community_code"]).fillna(rows["street_code"]).fillna("")
        rows = rows.loc[home.astype(str).str.startswith(area_code)]
    handled = service.store.read(schema.INCIDENT_EVENTS, where={"action": Action.HANDLE.value},
                                 columns=["incident_id", "at"])
    last = handled.groupby("incident_id")["at"].max().rename("handled_at")
    rows = rows.join(last, on="incident_id")
    catalogue = service.policy.catalogue
    rows["category"] = [c.service_code if (c := catalogue.find(v)) else str(v) for v in rows["category"]]
    return rows.reset_index(drop=True)
