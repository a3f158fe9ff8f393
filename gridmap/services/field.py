"""Field-work use cases (issue 15): inspection points, check-ins and home visits.

Who may do what (see also :mod:`gridmap.services.field_diary`):

* a **worker** (account role ``worker`` whose username is a ``workers.worker_id``) checks in at the
  points of their own grid(s) and records visits to buildings there; points or buildings elsewhere
  answer the same 404 as missing ones, so a worker cannot probe other grids;
* **leaders** (role ``command``, bound to a community or street; admins) read what was recorded in
  their area; nothing here is public.

Every accepted write is one transaction with its audit row. Check-ins and visits carry the phone's
UUID: a replay returns the stored row (``replayed=True``) and stores nothing, also when two copies
race (the unique key refuses the second; it then reads the first). Photos are cleaned of EXIF and
stored by content hash in ``settings.field_photo_dir``, written before the row commits: a failed
commit leaves an unreferenced file at worst, never a row pointing at nothing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from gridmap import audit, schema
from gridmap.auth.principal import Principal, require_role
from gridmap.config import Settings
from gridmap.errors import ConflictError, GridmapError, NotFoundError, PermissionDeniedError, ValidationError
from gridmap.field.geo import distance_m
from gridmap.field.inputs import CheckinInput, VisitInput, checkin_input, client_id, visit_input
from gridmap.field.photos import CleanPhoto, clean_photo
from gridmap.field.points import bind_points, point_rows
from gridmap.io.readers import read_source
from gridmap.model import Role
from gridmap.services.generations import active_grids
from gridmap.store.base import Store
from gridmap.tracking.batch import local_day, tracking_zone

#: Roles that read field records of their area (admins always pass).
LEADER_ROLES: tuple[Role, ...] = (Role.COMMAND,)
#: Roles that read the aggregates (coverage, assessment) of their area: leaders and analysts.
REPORT_ROLES: tuple[Role, ...] = (Role.COMMAND, Role.ANALYST)
#: At most this many photos per check-in or visit.
MAX_PHOTOS = 6
#: An uploaded photo: (file name as sent, bytes).
Upload = tuple[str, bytes]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class FieldWorker:
    """The registry row behind a worker account: id, name, main grid and every grid they serve."""

    worker_id: str
    name: str
    grid_code: str
    grids: tuple[str, ...]

    def serves(self, grid_code: object) -> bool:
        return isinstance(grid_code, str) and grid_code in self.grids


#: The registry columns worker_of needs (a check-in reads them on every request).
WORKER_COLUMNS = ("worker_id", "name", "grid_code", "extra_grid_codes", "active")
#: The point columns a check-in needs, with the geometry.
POINT_COLUMNS = ("point_id", "name", "grid_code", "geometry")


def worker_of(store: Store, principal: Principal) -> FieldWorker:
    """The active worker a ``worker`` account stands for (worker_id == username), else 403."""
    if principal.role is not Role.WORKER:
        if principal.is_public:
            require_role(principal, Role.WORKER)  # 401
        raise PermissionDeniedError(f"role {principal.role.value} does not do field work; sign in as a grid worker")
    rows = store.read_records(schema.WORKERS, where={"worker_id": principal.name}, columns=WORKER_COLUMNS)
    if not rows or rows[0]["active"] is False:
        raise PermissionDeniedError(f"account {principal.name} is not an active grid worker in the registry "
                                    "(the worker_id must equal the username)")
    row = rows[0]
    main = row["grid_code"]
    extra = row["extra_grid_codes"] if isinstance(row["extra_grid_codes"], list) else []
    grids = tuple(dict.fromkeys(str(g) for g in [main, *extra] if isinstance(g, str) and g))
    if not grids or not all(principal.covers(g) for g in grids[:1]):
        raise PermissionDeniedError(f"worker {principal.name} has no grid inside the account's area")
    return FieldWorker(worker_id=str(row["worker_id"]), name=str(row["name"]), grid_code=grids[0], grids=grids)


def require_leader(principal: Principal, code: str | None, *, what: str,
                   roles: tuple[Role, ...] = LEADER_ROLES) -> None:
    """A leader (one of ``roles``) covering ``code``; the same 404 for out-of-area and missing."""
    require_role(principal, *roles)
    if not (principal.role is Role.ADMIN and principal.area_code == "") and not principal.covers(code):
        raise NotFoundError(f"{what} not found")


def field_photo_dir(settings: Settings) -> Path:
    """Where check-in and visit photos live (never under the public worker-photo folder)."""
    if settings.field_photo_dir:
        return Path(settings.field_photo_dir)
    if settings.store_url.startswith("gpkg://"):
        from gridmap.store.gpkg import path_from_url

        return path_from_url(settings.store_url).parent / "field_photos"
    raise GridmapError("setting field_photo_dir is empty: set GRIDMAP_FIELD_PHOTO_DIR to a folder for field photos")


def save_photo(folder: Path, photo: CleanPhoto) -> None:
    """Write ``photo`` as ``folder/<sha256>.jpg`` atomically (temp file + rename); an existing file is kept."""
    target = folder / photo.name
    if target.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(photo.data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class PointImportReport:
    path: str
    read: int = 0
    added: int = 0
    replaced: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "read": self.read, "added": self.added, "replaced": self.replaced,
                "warnings": self.warnings}


def as_stored(layer: str, fid: int, row: Mapping[str, Any], geometry: shapely.Geometry) -> dict[str, Any]:
    """The row as a read of the committed insert returns it (spec order, UTC ms stamps), without that read.

    A check-in is answered from what was written rather than read back: the read cost as much as
    the insert itself on the busiest route of the morning. Equality with a read is tested.
    """
    out: dict[str, Any] = {schema.FID: int(fid)}
    for name in schema.layer_spec(layer).column_names:
        value = row.get(name)
        # both stores keep datetimes in UTC truncated to the millisecond (gridmap.store.sql's contract)
        out[name] = value.tz_convert("UTC").floor("ms") if isinstance(value, pd.Timestamp) and value.tzinfo else value
    out[schema.GEOMETRY] = geometry
    return out


class FieldService:
    """Points, check-ins and visits in one store (stateless apart from the clock)."""

    def __init__(self, store: Store, settings: Settings, *, clock: Callable[[], datetime] = utc_now,
                 incidents: Any = None) -> None:
        self.store = store
        self.settings = settings
        self._clock = clock
        self._incidents = incidents  # an IncidentService, made on first use (it builds a lookup index)

    def now(self) -> datetime:
        return self._clock()

    def today(self) -> str:
        return local_day(self._clock(), tracking_zone(self.settings))

    def _photos(self, uploads: Sequence[Upload]) -> list[dict[str, Any]]:
        """Clean every upload (400 naming the bad one), then write them to the photo folder."""
        if len(uploads) > MAX_PHOTOS:
            raise ValidationError(f"{len(uploads)} photos sent; at most {MAX_PHOTOS} per entry")
        cleaned = [clean_photo(data, filename=name, max_bytes=self.settings.field_photo_max_bytes)
                   for name, data in uploads]
        folder = field_photo_dir(self.settings)
        for photo in cleaned:
            save_photo(folder, photo)
        return [p.describe() for p in cleaned]

    # -- inspection points -----------------------------------------------------------------------

    def import_points(self, path: str | Path, *, actor: str | None = None) -> PointImportReport:
        """Import inspection points from CSV (lon, lat columns) or GeoJSON, all-or-nothing.

        Each point gets the active grid it lies in (a given grid_code must match) and that grid's worker
        when the file names none; a named worker must be active and serve the grid. Stored point_ids are
        replaced.
        """
        p = Path(path)
        source = read_source(p)
        rows, problems = point_rows(source.frame, source.geometries,
                                    default_interval_days=self.settings.inspection_interval_days)
        with self.store.transaction() as tx:
            grids = active_grids(tx)
            workers = tx.read(schema.WORKERS, columns=["worker_id", "grid_code", "extra_grid_codes", "active"])
            problems += bind_points(rows, grids, workers)
            if problems:
                shown = "; ".join(f"row {q.row}: {q.message}" if q.row else q.message for q in problems[:10])
                raise ValidationError(f"{p}: {len(problems)} problem(s): {shown}", code="invalid_points",
                                      details=[q.to_dict() for q in problems[:100]])
            stored = tx.read(schema.INSPECTION_POINTS, columns=["point_id"])
            replaced = stored["point_id"].isin(rows["point_id"])
            if replaced.any():
                tx.delete(schema.INSPECTION_POINTS, {"point_id": stored.loc[replaced, "point_id"].tolist()})
            frame = rows.assign(active=True, created_at=pd.Timestamp(self.now()), synthetic=False, source=p.name)
            tx.insert(schema.INSPECTION_POINTS, gpd.GeoDataFrame(frame, geometry="geometry",
                                                                 crs=self.settings.storage_epsg))
            report = PointImportReport(path=str(p), read=len(rows), replaced=int(replaced.sum()),
                                       added=len(rows) - int(replaced.sum()), warnings=list(source.warnings))
            audit.record(tx, "field.points.import", actor=actor, target=schema.INSPECTION_POINTS,
                         detail=report.to_dict())
        return report

    def points_for(self, principal: Principal) -> gpd.GeoDataFrame:
        """Active points a caller may see: a worker's own grids, a leader's area."""
        points = self.store.read(schema.INSPECTION_POINTS, where={"active": True})
        assert isinstance(points, gpd.GeoDataFrame)
        if principal.role is Role.WORKER:
            me = worker_of(self.store, principal)
            return points.loc[points["grid_code"].isin(me.grids)].reset_index(drop=True)
        require_role(principal, *REPORT_ROLES)
        keep = points["grid_code"].astype(str).str.startswith(principal.area_code)
        return points.loc[keep.to_numpy(dtype=bool)].reset_index(drop=True)

    # -- check-ins -------------------------------------------------------------------------------

    def _stored(self, layer: str, key: str, value: str) -> dict[str, Any] | None:
        rows = self.store.read_records(layer, where={key: value})
        return rows[0] if rows else None

    @staticmethod
    def _replay(row: dict[str, Any], me: FieldWorker, what: str) -> tuple[dict[str, Any], bool]:
        if row["worker_id"] != me.worker_id:  # a UUID is the phone's; another worker's id is a client bug
            raise ConflictError(f"{what} id {row.get('checkin_id') or row.get('visit_id')} is already used",
                                code="client_id_taken")
        return row, True

    def checkin(self, principal: Principal, fields: Mapping[str, Any], uploads: Sequence[Upload]
                ) -> tuple[dict[str, Any], bool]:
        """Record a check-in; returns (stored row, replayed). 400 ``too_far`` names the distance in metres."""
        me = worker_of(self.store, principal)
        cid = client_id(fields.get("id"), what="check-in")
        if self.store.count(schema.CHECKINS, where={"checkin_id": cid}):  # a replay: one cheap query first
            stored = self._stored(schema.CHECKINS, "checkin_id", cid)
            if stored is not None:
                return self._replay(stored, me, "check-in")
        data = checkin_input(fields, now=self.now())
        point = self._point_of(me, data.point_id)
        spot = point[schema.GEOMETRY]
        distance = distance_m(data.lon, data.lat, float(spot.x), float(spot.y))
        limit = float(self.settings.checkin_max_distance_m)
        if distance > limit:
            raise ValidationError(
                f"you are {distance:.0f} m from inspection point {point['name']} ({data.point_id}); a check-in "
                f"counts within {limit:.0f} m", code="too_far",
                details={"distance_m": round(distance, 1), "max_distance_m": limit, "accuracy_m": data.accuracy_m})
        if not uploads:
            raise ValidationError("a check-in needs at least one photo as evidence (E-42)", code="photo_required")
        row = self._checkin_row(me, data, point, distance, self._photos(uploads), actor=principal.name)
        return self._insert_once(schema.CHECKINS, "checkin_id", row, shapely.Point(data.lon, data.lat), me,
                                 action="field.checkin")

    def _point_of(self, me: FieldWorker, point_id: str) -> dict[str, Any]:
        rows = self.store.read_records(schema.INSPECTION_POINTS, where={"point_id": point_id, "active": True},
                                       columns=POINT_COLUMNS)
        if not rows or not me.serves(rows[0]["grid_code"]):
            raise NotFoundError(f"inspection point {point_id} not found")
        return rows[0]

    def _checkin_row(self, me: FieldWorker, data: CheckinInput, point: Mapping[str, Any], distance: float,
                     photos: list[dict[str, Any]], *, actor: str) -> dict[str, Any]:
        zone = tracking_zone(self.settings)
        return {"checkin_id": data.checkin_id, "point_id": data.point_id, "worker_id": me.worker_id,
                "grid_code": str(point["grid_code"]), "at": pd.Timestamp(data.at), "day": local_day(data.at, zone),
                "received_at": pd.Timestamp(self.now()), "accuracy_m": data.accuracy_m,
                "distance_m": round(distance, 2), "note": data.note, "photos": photos, "actor": actor}

    def _insert_once(self, layer: str, key: str, row: dict[str, Any], geometry: shapely.Point, me: FieldWorker,
                     *, action: str) -> tuple[dict[str, Any], bool]:
        """Insert ``row`` with its audit entry; a racing copy with the same id returns the winner's row."""
        try:
            with self.store.transaction() as tx:
                (fid,) = tx.insert(layer, [{**row, schema.GEOMETRY: geometry}])  # no frame for one row
                audit.record(tx, action, actor=row.get("actor"), target=str(row[key]),
                             detail={k: row[k] for k in ("worker_id", "grid_code") if k in row})
        except ConflictError:
            stored = self._stored(layer, key, str(row[key]))
            if stored is None:
                raise
            return self._replay(stored, me, layer)
        return as_stored(layer, fid, row, geometry), False

    def checkins_for(self, principal: Principal, *, month: str | None = None) -> pd.DataFrame:
        """Check-ins a caller may see (own for a worker, the area's for a leader), optionally one month."""
        return self._visible_rows(schema.CHECKINS, principal, month=month)

    def _visible_rows(self, layer: str, principal: Principal, *, month: str | None) -> pd.DataFrame:
        from gridmap.field.coverage import days_of_month

        where: dict[str, Any] = {}
        if principal.role is Role.WORKER:
            where["worker_id"] = worker_of(self.store, principal).worker_id
        else:
            require_role(principal, *LEADER_ROLES)
        if month:
            where["day"] = days_of_month(month)  # filtered in the store, not over every row of the layer
        rows = self.store.read(layer, where=where or None)
        if principal.role is not Role.WORKER:
            rows = rows.loc[rows["grid_code"].astype(str).str.startswith(principal.area_code).to_numpy(dtype=bool)]
        return rows.sort_values("at", ascending=False).reset_index(drop=True)

    # -- home visits -----------------------------------------------------------------------------

    def visit(self, principal: Principal, fields: Mapping[str, Any], uploads: Sequence[Upload] = ()
              ) -> tuple[dict[str, Any], bool]:
        """Record a home visit (and report its incident through the incident service); idempotent by id."""
        me = worker_of(self.store, principal)
        vid = client_id(fields.get("id"), what="visit")
        stored = self._stored(schema.HOME_VISITS, "visit_id", vid)
        if stored is not None:
            return self._replay(stored, me, "visit")
        data = visit_input(fields, now=self.now())
        grid, spot = self._building_of(me, data.building_id)
        where = shapely.Point(data.lon, data.lat) if data.lon is not None and data.lat is not None else spot
        photos = self._photos(uploads) if uploads else None
        incident_id = self._visit_incident(principal, data, where) if data.incident else None
        zone = tracking_zone(self.settings)
        row = {"visit_id": data.visit_id, "worker_id": me.worker_id, "grid_code": grid,
               "building_id": data.building_id, "household": data.household, "at": pd.Timestamp(data.at),
               "day": local_day(data.at, zone), "received_at": pd.Timestamp(self.now()), "purpose": data.purpose,
               "outcome": data.outcome, "follow_up": data.follow_up, "follow_up_on": data.follow_up_on,
               "incident_id": incident_id, "photos": photos, "actor": principal.name}
        return self._insert_once(schema.HOME_VISITS, "visit_id", row, where, me, action="field.visit")

    def _building_of(self, me: FieldWorker, building_id: str) -> tuple[str, shapely.Point]:
        """The grid (one of the worker's) holding the building, and the building's point; else 404."""
        rows = self.store.read(schema.BUILDINGS, where={"building_id": building_id})
        if rows.empty or rows.geometry.iloc[0] is None:
            raise NotFoundError(f"building {building_id} not found")
        spot = rows.geometry.iloc[0].representative_point()
        grids = active_grids(self.store)
        hit = grids.loc[grids.geometry.intersects(spot)]
        codes = [c for c in hit["code"].astype(str) if me.serves(c)]
        if not codes:
            raise NotFoundError(f"building {building_id} not found")
        return codes[0], spot

    def _visit_incident(self, principal: Principal, data: VisitInput, where: shapely.Point) -> str:
        """Report the visit's incident once: a retry finds the one already made for this visit id."""
        assert data.incident is not None
        source = f"home_visit:{data.visit_id}"
        found = self.store.read(schema.INCIDENTS, where={"source": source}, columns=["incident_id"])
        if len(found):
            return str(found["incident_id"].iloc[0])
        if self._incidents is None:
            from gridmap.services.incidents import IncidentService

            self._incidents = IncidentService(self.store, self.settings)
        fields = {"service_code": data.incident.category, "description": data.incident.description,
                  "lat": where.y, "long": where.x}
        outcome = self._incidents.report(principal, fields, source=source)
        return str(outcome.incident["incident_id"])

    def visits_for(self, principal: Principal, *, month: str | None = None) -> pd.DataFrame:
        """Visits a caller may see (own for a worker, the area's for a leader)."""
        return self._visible_rows(schema.HOME_VISITS, principal, month=month)

    def photo_path(self, principal: Principal, name: str) -> Path:
        """The file of a photo the caller may see (referenced by a visible check-in or visit), else 404."""
        folder = field_photo_dir(self.settings)
        if "/" in name or "\\" in name or not name.endswith(".jpg") or len(name) != 68:
            raise NotFoundError("photo not found")
        for layer in (schema.CHECKINS, schema.HOME_VISITS):
            rows = self._visible_rows(layer, principal, month=None)
            for photos in rows["photos"]:
                if isinstance(photos, list) and any(isinstance(p, dict) and p.get("name") == name for p in photos):
                    path = folder / name
                    if path.is_file():
                        return path
        raise NotFoundError("photo not found")

