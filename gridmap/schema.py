"""Layer names and columns, in one place, for every store.

Each :class:`LayerSpec` is the contract between the stores (GeoPackage and PostGIS create exactly
these columns in their migrations; a contract test checks it), the importers and the services.
Never scatter layer or column names as string literals elsewhere: import them from here.

Column types are logical: ``text``, ``int``, ``float``, ``bool``, ``datetime`` (ISO 8601 UTC in
GeoPackage, timestamptz in PostGIS), ``json`` (text in GeoPackage, jsonb in PostGIS).
Geometry is stored in EPSG:4326 (or the configured 4490) as lon/lat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["text", "int", "float", "bool", "datetime", "json"]
GeometryType = Literal["MULTIPOLYGON", "LINESTRING", "MULTILINESTRING", "POINT", "GEOMETRY"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = True


@dataclass(frozen=True)
class LayerSpec:
    name: str
    columns: tuple[Column, ...]
    geometry_type: GeometryType | None  # None = attribute table (no geometry)
    #: Column(s) that identify a row; ``fid`` is the integer primary key every layer also has.
    key: tuple[str, ...] = ()
    #: Unique constraints besides the key, enforced by both stores.
    unique: tuple[tuple[str, ...], ...] = ()
    description: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"layer {self.name} has no column {name}")


GEOMETRY = "geometry"
FID = "fid"

# Layer names
AREAS = "areas"
GRIDS = "grids"
GENERATIONS = "generations"
ROADS = "roads"
BUILDINGS = "buildings"
ESTATES = "estates"
UNITS = "units"
SERVICE_CENTRES = "service_centres"
WORKERS = "workers"
INCIDENTS = "incidents"
INCIDENT_EVENTS = "incident_events"
AUDIT_LOG = "audit_log"
ACCOUNTS = "accounts"
API_TOKENS = "api_tokens"
POSITIONS = "positions"
LATEST_POSITIONS = "latest_positions"
GEOFENCE_EVENTS = "geofence_events"
PLANNER_DRAFTS = "planner_drafts"
INSPECTION_POINTS = "inspection_points"
CHECKINS = "checkins"
HOME_VISITS = "home_visits"
DIARIES = "diaries"
DIARY_COMMENTS = "diary_comments"

C = Column

AREAS_SPEC = LayerSpec(
    AREAS,
    (
        C("code", "text", False),
        C("name", "text", False),
        C("level", "text", False),  # district | street | community (model.AreaLevel)
        C("parent_code", "text"),
        C("households", "int"),
        C("population", "int"),
        C("valid_from", "datetime"),
        C("valid_to", "datetime"),
        C("synthetic", "bool"),
        C("source", "text"),
    ),
    "MULTIPOLYGON",
    key=("code",),
    description="Administrative hierarchy: districts, streets (街道/乡镇) and communities (社区/村).",
)

GRIDS_SPEC = LayerSpec(
    GRIDS,
    (
        C("code", "text", False),  # 15 digits: 6 county + 3 street + 3 community + 3 sequence
        C("name", "text", False),
        C("kind", "text", False),  # model.GridKind
        C("subtype", "text"),  # professional grid subtype or dedicated unit type
        C("community_code", "text", False),
        C("generation_id", "int", False),
        C("households", "int"),
        C("population", "int"),
        C("area_m2", "float"),
        C("flags", "json"),  # list of {"code": ..., "message": ...}: out of band, disconnected part...
        C("valid_from", "datetime"),
        C("valid_to", "datetime"),
        C("synthetic", "bool"),
    ),
    "MULTIPOLYGON",
    key=("generation_id", "code"),
    description="Grids (网格), one set per generation; exactly one generation per community is active.",
)

GENERATIONS_SPEC = LayerSpec(
    GENERATIONS,
    (
        C("generation_id", "int", False),
        C("community_code", "text", False),
        C("status", "text", False),  # model.GenerationStatus
        C("version", "int", False),  # bumped on every save; optimistic concurrency
        C("created_at", "datetime", False),
        C("created_by", "text"),
        C("approved_at", "datetime"),
        C("approved_by", "text"),
        C("activated_at", "datetime"),
        C("retired_at", "datetime"),
        C("note", "text"),
        C("certificate", "json"),
    ),
    None,
    key=("generation_id",),
    description="Boundary generations (版本): staged, validated, approved, activated, retired.",
)

ROADS_SPEC = LayerSpec(
    ROADS,
    (
        C("road_id", "text"),
        C("name", "text"),
        C("road_class", "text", False),  # model.RoadClass
        C("synthetic", "bool"),
        C("source", "text"),
    ),
    "LINESTRING",
    description="Road centre lines with class; grid edges follow them.",
)

BUILDINGS_SPEC = LayerSpec(
    BUILDINGS,
    (
        C("building_id", "text"),
        C("name", "text"),
        C("road_name", "text"),
        C("house_number", "text"),
        C("estate_id", "text"),
        C("estate_name", "text"),
        C("building_no", "text"),  # 楼栋号 inside an estate
        C("floors", "int"),
        C("footprint_m2", "float"),
        C("households", "int"),
        C("households_estimated", "bool"),
        C("population", "int"),
        C("community_code", "text"),
        C("synthetic", "bool"),
        C("source", "text"),
    ),
    "GEOMETRY",  # footprints (polygons) or points
    description="Buildings (楼栋) with floors and households; polygons or points.",
)

ESTATES_SPEC = LayerSpec(
    ESTATES,
    (
        C("estate_id", "text", False),
        C("name", "text", False),
        C("kind", "text"),  # managed | self_managed | work_unit
        C("community_code", "text"),
        C("synthetic", "bool"),
        C("source", "text"),
    ),
    "MULTIPOLYGON",
    key=("estate_id",),
    description="Residential estates (小区), kept whole by the partition where the band allows.",
)

UNITS_SPEC = LayerSpec(
    UNITS,
    (
        C("unit_id", "text", False),
        C("name", "text", False),
        C("unit_type", "text", False),  # model.UnitType
        C("persons", "int"),
        C("households", "int"),
        C("community_code", "text"),
        C("responsible_person", "text"),
        C("key_unit", "bool"),  # 重点单位 / 危险源
        C("synthetic", "bool"),
        C("source", "text"),
    ),
    "GEOMETRY",
    key=("unit_id",),
    description="Units: schools, hospitals, markets, enterprises, parks, office towers (专属网格 candidates).",
)

SERVICE_CENTRES_SPEC = LayerSpec(
    SERVICE_CENTRES,
    (
        C("centre_id", "text", False),
        C("name", "text", False),
        C("area_code", "text", False),
        C("address", "text"),
        C("phone", "text"),
        C("opening_hours", "text"),
        C("synthetic", "bool"),
    ),
    "POINT",
    key=("centre_id",),
    description="Service centres (网格化服务管理中心 / 党群服务中心) per area.",
)

WORKERS_SPEC = LayerSpec(
    WORKERS,
    (
        C("worker_id", "text", False),
        C("name", "text", False),
        C("phone", "text"),
        C("photo", "text"),  # path or URL of the photo
        C("role", "text", False),  # model.WorkerRole
        C("grid_code", "text"),  # main grid; more in extra_grid_codes
        C("extra_grid_codes", "json"),
        C("partner_worker_id", "text"),  # A/B post partner in an adjacent grid (P-54)
        C("device_id", "text"),
        C("duties", "text"),
        C("active", "bool"),
        C("synthetic", "bool"),
    ),
    None,
    key=("worker_id",),
    description="Grid workers (网格员) and leaders (网格长).",
)

INCIDENTS_SPEC = LayerSpec(
    INCIDENTS,
    (
        C("incident_id", "text", False),
        C("category", "text", False),
        C("description", "text"),
        C("status", "text", False),
        C("reported_at", "datetime", False),
        C("updated_at", "datetime"),
        C("closed_at", "datetime"),
        C("grid_code", "text"),
        C("community_code", "text"),
        C("street_code", "text"),
        C("level", "text"),  # where the case sits now: grid | community | street | district | command
        C("weight", "float"),
        C("address", "text"),
        C("reporter", "text"),
        C("synthetic", "bool"),
        C("source", "text"),
        # The closed loop (gridmap.incidents.workflow); added by migration 0004.
        C("version", "int"),  # compare-and-set: +1 per transition; NULL = imported/legacy row (counts as 0)
        C("assigned_to", "text"),  # worker_id of the grid worker handling it
        C("department", "text"),  # or the department it was routed to (分流/交办)
        C("deadline_at", "datetime"),  # when handling at the current level is due (SLA per category and level)
        C("urgent", "bool"),  # urgent category: straight to the command centre (E-21)
        C("verification_failures", "int"),  # failed 核查 so far (E-44)
        C("penalty", "bool"),  # failures reached the penalty threshold: counts against the handler (E-44, A-9)
        C("supervised", "bool"),  # 督办 flag (E-51)
        C("card", "text"),  # red/yellow card for overdue handling: yellow | red (E-52)
        C("overdue_count", "int"),  # levels at which the deadline was missed
        C("satisfaction", "int"),  # reporter's evaluation 1-5 (E-48)
        C("media_url", "text"),
        C("status_notes", "text"),  # the latest note, shown as Open311 status_notes
        C("token", "text"),  # SHA-256 of the tracking token handed to the reporter (Open311 tokens/{token}, R-29)
        C("duplicate_of", "text"),  # incident_id this one was closed as a duplicate of
    ),
    "POINT",
    key=("incident_id",),
    unique=(("token",),),
    description="Incidents (事件) with their place in the hierarchy.",
)

INCIDENT_EVENTS_SPEC = LayerSpec(
    INCIDENT_EVENTS,
    (
        C("incident_id", "text", False),
        C("seq", "int", False),  # 1, 2, 3... per incident; equals the incident's version after the change
        C("at", "datetime", False),
        C("actor", "text"),
        C("from_status", "text"),  # None for the report that created the incident
        C("to_status", "text", False),
        C("action", "text", False),  # gridmap.incidents.workflow.Action
        C("note", "text"),
        C("detail", "json"),  # level moves, assignee, satisfaction, card...
    ),
    None,
    key=("incident_id", "seq"),
    description="Append-only log of every incident transition (who, when, from, to, note).",
)

AUDIT_LOG_SPEC = LayerSpec(
    AUDIT_LOG,
    (
        C("at", "datetime", False),
        C("actor", "text"),
        C("action", "text", False),
        C("target", "text"),
        C("detail", "json"),
    ),
    None,
    description="Append-only log of logins and data changes.",
)

ACCOUNTS_SPEC = LayerSpec(
    ACCOUNTS,
    (
        C("username", "text", False),
        C("display_name", "text"),
        C("role", "text", False),  # model.Role
        C("area_code", "text", False),  # the area the account may read and change (code prefix scope)
        C("password_hash", "text", False),  # scrypt, see gridmap.auth.passwords
        C("active", "bool", False),
        C("lang", "text"),
        C("created_at", "datetime", False),
    ),
    None,
    key=("username",),
    description="Portal accounts, each bound to a role and an area.",
)

API_TOKENS_SPEC = LayerSpec(
    API_TOKENS,
    (
        C("token_id", "text", False),  # public id shown in listings
        C("token_hash", "text", False),  # sha256 of the secret; the secret itself is never stored
        C("role", "text", False),
        C("area_code", "text", False),
        C("label", "text"),
        C("created_at", "datetime", False),
        C("created_by", "text"),
        C("revoked_at", "datetime"),
    ),
    None,
    key=("token_id",),
    unique=(("token_hash",),),
    description="API keys for machine clients (Open311 api_key, trackers, integrations).",
)

POSITIONS_SPEC = LayerSpec(
    POSITIONS,
    (
        C("device_id", "text", False),  # Traccar/OsmAnd device identifier (workers.device_id)
        C("worker_id", "text"),  # the worker the device belonged to when the fix arrived
        C("fix_time", "datetime", False),  # when the device took the fix (UTC)
        C("received_at", "datetime", False),  # when the server stored it (UTC)
        C("day", "text", False),  # local date of fix_time (settings.tracking_timezone), YYYY-MM-DD
        C("grid_code", "text"),  # active grid at the point (None outside every grid)
        C("speed_mps", "float"),
        C("bearing_deg", "float"),
        C("altitude_m", "float"),
        C("accuracy_m", "float"),
        C("battery_pct", "float"),
        C("protocol", "text"),  # osmand | traccar_json
    ),
    "POINT",
    key=("device_id", "fix_time"),
    description="Worker positions (GPS fixes) from Traccar/OsmAnd clients; one row per device and fix time.",
)

LATEST_POSITIONS_SPEC = LayerSpec(
    LATEST_POSITIONS,
    (
        C("device_id", "text", False),
        C("worker_id", "text"),
        C("fix_time", "datetime", False),
        C("received_at", "datetime", False),
        C("grid_code", "text"),  # grid at the latest fix
        C("speed_mps", "float"),
        C("bearing_deg", "float"),
        C("accuracy_m", "float"),
        C("battery_pct", "float"),
        C("outside_since", "datetime"),  # fix time at which the worker left their own grid(s); None inside
        C("alerted_at", "datetime"),  # when the outside-grid alert of this excursion was raised
    ),
    "POINT",
    key=("device_id",),
    description="The newest fix of every device and its geofence state (live map, alerts).",
)

GEOFENCE_EVENTS_SPEC = LayerSpec(
    GEOFENCE_EVENTS,
    (
        C("worker_id", "text", False),
        C("device_id", "text"),
        C("grid_code", "text", False),  # the grid (geofence) entered or left; the own grid for an alert
        C("event", "text", False),  # enter | exit | alert (gridmap.tracking.geofence.GeofenceEvent)
        C("at", "datetime", False),  # fix time of the event (UTC)
        C("day", "text", False),  # local date of ``at``
        C("own_grid", "bool"),  # the grid is one of the worker's own
        C("minutes_outside", "float"),  # alert: minutes outside the own grid(s) so far
    ),
    "POINT",
    unique=(("worker_id", "grid_code", "event", "at"),),
    description="Geofence events: a worker entered or left a grid, or stayed outside their own grid too long.",
)

PLANNER_DRAFTS_SPEC = LayerSpec(
    PLANNER_DRAFTS,
    (
        C("draft_id", "text", False),
        C("community_code", "text", False),
        C("owner", "text", False),  # username of the planner whose work this is
        C("base_generation_id", "int", False),  # the generation the edits were made on
        C("token", "text"),  # the community's planning token when the editor was opened
        C("edits", "json", False),  # the edit operations, replayable (gridmap.partition.edits)
        C("status", "text", False),  # conflict (a save found a newer version) | kept | saved
        C("note", "text"),
        C("created_at", "datetime", False),
        C("generation_id", "int"),  # the staged generation it became, once saved
    ),
    None,
    key=("draft_id",),
    description="Planners' unsaved grid edits, kept when a save met a newer version (nothing is lost).",
)

INSPECTION_POINTS_SPEC = LayerSpec(
    INSPECTION_POINTS,
    (
        C("point_id", "text", False),
        C("name", "text", False),
        C("kind", "text"),  # fire | safety | sanitation | other ... (free text from the import)
        C("grid_code", "text", False),  # the grid the point lies in (checked on import)
        C("worker_id", "text", False),  # the responsible grid worker (serves that grid)
        C("interval_days", "int", False),  # a self-check is due every this many days (E-42: 2)
        C("address", "text"),
        C("note", "text"),
        C("active", "bool"),
        C("created_at", "datetime"),
        C("synthetic", "bool"),
        C("source", "text"),
    ),
    "POINT",
    key=("point_id",),
    description="Inspection points (巡查点) bound to a grid and a responsible worker, with a check interval.",
)

CHECKINS_SPEC = LayerSpec(
    CHECKINS,
    (
        C("checkin_id", "text", False),  # UUID made by the phone: a replayed upload is stored once
        C("point_id", "text", False),
        C("worker_id", "text", False),
        C("grid_code", "text", False),
        C("at", "datetime", False),  # when the worker checked in (the phone's clock, UTC)
        C("day", "text", False),  # local date of ``at`` (settings.tracking_timezone)
        C("received_at", "datetime", False),
        C("accuracy_m", "float"),  # the phone's stated position accuracy
        C("distance_m", "float", False),  # position to point, metres in the metric working CRS
        C("note", "text"),
        C("photos", "json", False),  # [{"name", "sha256", "bytes", "width", "height"}], >= 1
        C("actor", "text"),
    ),
    "POINT",  # the position the phone reported
    key=("checkin_id",),
    description="Inspection check-ins (巡查打卡): time, position, accuracy, distance to the point, note, photos.",
)

HOME_VISITS_SPEC = LayerSpec(
    HOME_VISITS,
    (
        C("visit_id", "text", False),  # UUID made by the phone (idempotent upload)
        C("worker_id", "text", False),
        C("grid_code", "text", False),
        C("building_id", "text", False),
        C("household", "text"),  # room / household label inside the building (单元-室)
        C("at", "datetime", False),
        C("day", "text", False),
        C("received_at", "datetime", False),
        C("purpose", "text", False),
        C("outcome", "text", False),
        C("follow_up", "text"),
        C("follow_up_on", "text"),  # YYYY-MM-DD: a visit planned then (today's tasks)
        C("incident_id", "text"),  # incident reported from this visit
        C("photos", "json"),
        C("actor", "text"),
    ),
    "POINT",  # the building's point (or the phone's position)
    key=("visit_id",),
    description="Home visits (入户走访): building/household, purpose, outcome, follow-up, incident.",
)

DIARIES_SPEC = LayerSpec(
    DIARIES,
    (
        C("diary_id", "text", False),  # worker_id + "/" + day
        C("worker_id", "text", False),
        C("day", "text", False),  # YYYY-MM-DD, local
        C("grid_code", "text"),
        C("text", "text", False),
        C("tags", "json"),
        C("visit_ids", "json"),
        C("incident_ids", "json"),
        C("created_at", "datetime", False),
        C("updated_at", "datetime", False),
        C("version", "int", False),
        C("reviewed_by", "text"),
        C("reviewed_at", "datetime"),
    ),
    None,
    key=("diary_id",),
    unique=(("worker_id", "day"),),
    description="Worker logs (民情日志): one entry per worker per day, reviewed by leaders.",
)

DIARY_COMMENTS_SPEC = LayerSpec(
    DIARY_COMMENTS,
    (
        C("comment_id", "text", False),
        C("diary_id", "text", False),
        C("author", "text", False),
        C("at", "datetime", False),
        C("text", "text", False),
    ),
    None,
    key=("comment_id",),
    description="Leaders' comments (点评) on worker logs.",
)

LAYERS: dict[str, LayerSpec] = {
    s.name: s
    for s in (
        AREAS_SPEC,
        GRIDS_SPEC,
        GENERATIONS_SPEC,
        ROADS_SPEC,
        BUILDINGS_SPEC,
        ESTATES_SPEC,
        UNITS_SPEC,
        SERVICE_CENTRES_SPEC,
        WORKERS_SPEC,
        INCIDENTS_SPEC,
        INCIDENT_EVENTS_SPEC,
        AUDIT_LOG_SPEC,
        ACCOUNTS_SPEC,
        API_TOKENS_SPEC,
        POSITIONS_SPEC,
        LATEST_POSITIONS_SPEC,
        GEOFENCE_EVENTS_SPEC,
        PLANNER_DRAFTS_SPEC,
        INSPECTION_POINTS_SPEC,
        CHECKINS_SPEC,
        HOME_VISITS_SPEC,
        DIARIES_SPEC,
        DIARY_COMMENTS_SPEC,
    )
}


def layer_spec(name: str) -> LayerSpec:
    """The spec of a layer by name, with an error listing the known layers."""
    from gridmap.errors import ValidationError

    try:
        return LAYERS[name]
    except KeyError:
        raise ValidationError(f"unknown layer {name!r}; known layers: {', '.join(LAYERS)}") from None
