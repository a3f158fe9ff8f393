"""Layers of the grid worker's day: inspection points, check-ins, home visits, 民情日志 and
leaders' comments on them.
"""

from __future__ import annotations

from gridmap.schema.spec import (
    CHECKINS,
    DIARIES,
    DIARY_COMMENTS,
    HOME_VISITS,
    INSPECTION_POINTS,
    C,
    LayerSpec,
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
