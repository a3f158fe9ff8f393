"""Worker positions as use cases shared by the portal, ``gridmap track-listen`` and the CLI.

:class:`TrackingService` owns the ingest pipeline of one process (device registry, grid locator,
write-through writer) and answers the command centre's questions: where is every worker now, in
which state (in their own grid, outside it, stale), and where did a worker go today.

Privacy (R-32..R-34): a position is shown only to a principal whose area covers the worker's main
grid (``Principal.covers``), the same prefix rule as every other scoped read; the public never sees a
position. Which roles may look at positions at all is decided here too (:data:`POSITION_ROLES`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from gridmap import schema
from gridmap.auth.principal import Principal, require_role
from gridmap.config import Settings
from gridmap.errors import NotFoundError, ValidationError
from gridmap.model import Role
from gridmap.store.base import Store
from gridmap.tracking.devices import DeviceRegistry, GridLocator, WorkerDevice
from gridmap.tracking.geofence import GeofenceEvent as GeofenceEvent
from gridmap.tracking.ingest import PositionIngest, Publish, Receipt
from gridmap.tracking.patrol import OWN_SHARE_TARGET as OWN_SHARE_TARGET
from gridmap.tracking.pings import EARLIEST_FIX, FixLimits, fix_from_request
from gridmap.tracking.pings import MAX_BODY_BYTES as MAX_BODY_BYTES
from gridmap.tracking.report import PATROL_ROLES as PATROL_ROLES
from gridmap.tracking.report import PatrolReport as PatrolReport
from gridmap.tracking.report import patrol_report as patrol_report
from gridmap.tracking.report import report_csv as report_csv
from gridmap.tracking.retention import purge_positions as purge_positions
from gridmap.tracking.watch import LatestWatcher as LatestWatcher
from gridmap.tracking.writer import local_day, tracking_zone

#: Roles that may see worker positions and tracks (admins always may): the command centre and analysts.
POSITION_ROLES: tuple[Role, ...] = (Role.COMMAND, Role.ANALYST)
STATE_INSIDE, STATE_OUTSIDE, STATE_STALE = "inside", "outside", "stale"


@dataclass(frozen=True)
class LiveState:
    """How the live map colours a worker: stale beats outside beats inside."""

    state: str
    age_s: float


def live_state(fix_time: datetime, *, in_own_grid: bool, now: datetime, stale_after: timedelta) -> LiveState:
    """The state of a worker whose newest fix is ``fix_time``."""
    age = (now - fix_time).total_seconds()
    if age > stale_after.total_seconds():
        return LiveState(STATE_STALE, age)
    return LiveState(STATE_INSIDE if in_own_grid else STATE_OUTSIDE, age)


def check_area_filter(area: str | None) -> str | None:
    """A street (9 digits) or community (12) or grid (15) code to filter by, or None."""
    if area is None or not str(area).strip():
        return None
    text = str(area).strip()
    if not text.isdigit() or len(text) not in (6, 9, 12, 15):
        raise ValidationError(f"area {text[:20]!r} must be a district, street, community or grid code "
                              "(6, 9, 12 or 15 digits)", details={"parameter": "area"})
    return text


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


class TrackingService:
    """Ingest and live queries of one process (the caller owns it and calls :meth:`close`)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        publish: Publish | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        registry: DeviceRegistry | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.zone = tracking_zone(settings)
        self.registry = registry if registry is not None else DeviceRegistry(store)
        self.locator = GridLocator(store)
        self.ingest = PositionIngest(store, settings, lookup=self.registry.lookup, locate=self.locator.codes,
                                     publish=publish, clock=clock)

    def close(self) -> None:
        self.ingest.close()

    # -- ingest ---------------------------------------------------------------------------------

    def limits(self) -> FixLimits:
        """Fix times accepted now: up to ``max_fix_future_s`` ahead, not older than the retention period."""
        now = self.clock()
        oldest = max(EARLIEST_FIX, now - timedelta(days=self.settings.position_retention_days))
        return FixLimits(now=now, max_future_s=self.settings.max_fix_future_s, oldest=oldest)

    def receive(self, *, query: str, body: bytes, content_type: str | None) -> Receipt:
        """Parse one protocol request and store its fix (200 after commit); 400/404/503 as errors."""
        try:
            fix = fix_from_request(query=query, body=body, content_type=content_type, limits=self.limits())
        except ValidationError:
            self.ingest.count_rejected()
            raise
        return self.ingest.accept(fix)

    def stats(self) -> dict[str, Any]:
        """Ingest counters of this process and what the store holds today."""
        today = local_day(self.clock(), self.zone)
        body = self.ingest.stats()
        body["positions_today"] = self.store.count(schema.POSITIONS, where={"day": today})
        body["devices_reporting"] = self.store.count(schema.LATEST_POSITIONS)
        body["day"] = today
        return body

    # -- live map -------------------------------------------------------------------------------

    def _workers_in_scope(self, principal: Principal, area: str | None) -> dict[str, WorkerDevice]:
        require_role(principal, *POSITION_ROLES)
        area = check_area_filter(area)
        found: dict[str, WorkerDevice] = {}
        for worker in self.registry.workers():
            home = worker.grid_code
            if not (principal.covers(home) or (principal.role is Role.ADMIN and principal.area_code == "")):
                continue
            if area is not None and not (home or "").startswith(area):
                continue
            found[worker.device_id] = worker
        return found

    def latest_features(self, principal: Principal, *, area: str | None = None) -> dict[str, Any]:
        """GeoJSON of each in-scope worker's newest position with grid code and state (lon/lat)."""
        workers = self._workers_in_scope(principal, area)
        latest = self.store.read(schema.LATEST_POSITIONS, where={"device_id": sorted(workers)}) if workers else None
        now = self.clock()
        stale = timedelta(minutes=self.settings.stale_position_minutes)
        features: list[dict[str, Any]] = []
        for row in ([] if latest is None else latest.to_dict("records")):
            worker = workers[str(row["device_id"])]
            code = None if row["grid_code"] is None or pd.isna(row["grid_code"]) else str(row["grid_code"])
            fix_time = pd.Timestamp(row["fix_time"]).to_pydatetime()
            state = live_state(fix_time, in_own_grid=code in worker.own_grids, now=now, stale_after=stale)
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [
                row["geometry"].x, row["geometry"].y]}, "properties": {
                "worker_id": worker.worker_id, "name": worker.name, "role": worker.role, "phone": worker.phone,
                "device_id": worker.device_id, "home_grid": worker.grid_code, "own_grids": sorted(worker.own_grids),
                "grid_code": code, "in_own_grid": code in worker.own_grids, "state": state.state,
                "age_s": round(state.age_s, 1), "fix_time": _iso(row["fix_time"]),
                "outside_since": _iso(row["outside_since"]), "alerted": _iso(row["alerted_at"]) is not None,
                "speed_mps": _num(row["speed_mps"]), "battery_pct": _num(row["battery_pct"])}})
        features.sort(key=lambda f: f["properties"]["worker_id"])
        return {"type": "FeatureCollection", "features": features, "generated_at": now.isoformat(),
                "stale_after_s": stale.total_seconds()}

    def track(self, principal: Principal, worker_id: str, *, day: str | None = None) -> dict[str, Any]:
        """One worker's fixes of one local day (default today) as a GeoJSON LineString plus its points."""
        worker = self._visible_worker(principal, worker_id)
        day = check_day(day) if day is not None else local_day(self.clock(), self.zone)
        frame = self.store.read(schema.POSITIONS, where={"day": day, "worker_id": worker_id},
                                columns=["fix_time", "grid_code", "speed_mps", schema.GEOMETRY])
        frame = frame.sort_values("fix_time", kind="stable")
        coords = [[float(g.x), float(g.y)] for g in frame.geometry]
        times = [t.isoformat() for t in frame["fix_time"]]
        codes = [None if pd.isna(c) else str(c) for c in frame["grid_code"]]
        geometry = {"type": "LineString", "coordinates": coords} if len(coords) > 1 else (
            {"type": "Point", "coordinates": coords[0]} if coords else None)
        return {"type": "Feature", "geometry": geometry, "properties": {
            "worker_id": worker_id, "name": worker["name"], "day": day, "fixes": len(coords), "times": times,
            "grid_codes": codes}}

    def _visible_worker(self, principal: Principal, worker_id: str) -> Mapping[str, Any]:
        """The worker row, or the same 404 whether missing or outside the caller's area (no oracle)."""
        require_role(principal, *POSITION_ROLES)
        rows = self.store.read(schema.WORKERS, where={"worker_id": worker_id})
        if rows.empty:
            raise NotFoundError(f"worker {worker_id} not found")
        row = {str(k): v for k, v in rows.iloc[0].to_dict().items()}
        home = row.get("grid_code")
        whole = principal.role is Role.ADMIN and principal.area_code == ""
        if not whole and not principal.covers(None if home is None or pd.isna(home) else str(home)):
            raise NotFoundError(f"worker {worker_id} not found")
        return row


def check_day(text: str) -> str:
    """A local date ``YYYY-MM-DD`` from user input (400 otherwise)."""
    try:
        return datetime.strptime(str(text).strip(), "%Y-%m-%d").date().isoformat()
    except ValueError:
        raise ValidationError(f"day {str(text)[:20]!r} must be a date like 2024-05-06",
                              details={"parameter": "day"}) from None
