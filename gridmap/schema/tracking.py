"""Layers of worker tracking: every fix, the latest fix per device, and geofence events."""

from __future__ import annotations

from gridmap.schema.spec import (
    GEOFENCE_EVENTS,
    LATEST_POSITIONS,
    POSITIONS,
    C,
    LayerSpec,
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
