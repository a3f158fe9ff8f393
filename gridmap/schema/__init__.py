"""Layer names and columns, in one place, for every store.

Each :class:`LayerSpec` is the contract between the stores (GeoPackage and PostGIS create exactly
these columns in their migrations; a contract test checks it), the importers and the services.
Never scatter layer or column names as string literals elsewhere: import them from here
(``from gridmap.schema import GRIDS, GRIDS_SPEC``); the sub-modules group the specs by concern
(spec: the types and names; boundaries, people, incidents, tracking, field: the layers) and this
package re-exports every name, so callers never need to know which file holds a layer.

Imports: the standard library and gridmap.errors only; everything else may import this.
"""

from __future__ import annotations

from gridmap.schema.boundaries import (
    AREAS_SPEC,
    BUILDINGS_SPEC,
    ESTATES_SPEC,
    GENERATIONS_SPEC,
    GRIDS_SPEC,
    PLANNER_DRAFTS_SPEC,
    ROADS_SPEC,
    SERVICE_CENTRES_SPEC,
    UNITS_SPEC,
)
from gridmap.schema.field import (
    CHECKINS_SPEC,
    DIARIES_SPEC,
    DIARY_COMMENTS_SPEC,
    HOME_VISITS_SPEC,
    INSPECTION_POINTS_SPEC,
)
from gridmap.schema.incidents import (
    INCIDENT_EVENTS_SPEC,
    INCIDENTS_SPEC,
)
from gridmap.schema.people import (
    ACCOUNTS_SPEC,
    API_TOKENS_SPEC,
    AUDIT_LOG_SPEC,
    WORKERS_SPEC,
)
from gridmap.schema.spec import (
    ACCOUNTS,
    API_TOKENS,
    AREAS,
    AUDIT_LOG,
    BUILDINGS,
    CHECKINS,
    DIARIES,
    DIARY_COMMENTS,
    ESTATES,
    FID,
    GENERATIONS,
    GEOFENCE_EVENTS,
    GEOMETRY,
    GRIDS,
    HOME_VISITS,
    INCIDENT_EVENTS,
    INCIDENTS,
    INSPECTION_POINTS,
    LATEST_POSITIONS,
    PLANNER_DRAFTS,
    POSITIONS,
    ROADS,
    SERVICE_CENTRES,
    UNITS,
    WORKERS,
    Column,
    ColumnType,
    GeometryType,
    LayerSpec,
)
from gridmap.schema.tracking import (
    GEOFENCE_EVENTS_SPEC,
    LATEST_POSITIONS_SPEC,
    POSITIONS_SPEC,
)

__all__ = [
    "ACCOUNTS",
    "ACCOUNTS_SPEC",
    "API_TOKENS",
    "API_TOKENS_SPEC",
    "AREAS",
    "AREAS_SPEC",
    "AUDIT_LOG",
    "AUDIT_LOG_SPEC",
    "BUILDINGS",
    "BUILDINGS_SPEC",
    "CHECKINS",
    "CHECKINS_SPEC",
    "DIARIES",
    "DIARIES_SPEC",
    "DIARY_COMMENTS",
    "DIARY_COMMENTS_SPEC",
    "ESTATES",
    "ESTATES_SPEC",
    "FID",
    "GENERATIONS",
    "GENERATIONS_SPEC",
    "GEOFENCE_EVENTS",
    "GEOFENCE_EVENTS_SPEC",
    "GEOMETRY",
    "GRIDS",
    "GRIDS_SPEC",
    "HOME_VISITS",
    "HOME_VISITS_SPEC",
    "INCIDENTS",
    "INCIDENTS_SPEC",
    "INCIDENT_EVENTS",
    "INCIDENT_EVENTS_SPEC",
    "INSPECTION_POINTS",
    "INSPECTION_POINTS_SPEC",
    "LATEST_POSITIONS",
    "LATEST_POSITIONS_SPEC",
    "LAYERS",
    "PLANNER_DRAFTS",
    "PLANNER_DRAFTS_SPEC",
    "POSITIONS",
    "POSITIONS_SPEC",
    "ROADS",
    "ROADS_SPEC",
    "SERVICE_CENTRES",
    "SERVICE_CENTRES_SPEC",
    "UNITS",
    "UNITS_SPEC",
    "WORKERS",
    "WORKERS_SPEC",
    "Column",
    "ColumnType",
    "GeometryType",
    "LayerSpec",
    "layer_spec",
]

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
