"""Layers of the closed loop: incidents (Open311 requests) and their events."""

from __future__ import annotations

from gridmap.schema.spec import (
    INCIDENT_EVENTS,
    INCIDENTS,
    C,
    LayerSpec,
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
