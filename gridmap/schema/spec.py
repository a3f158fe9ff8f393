"""The column and layer types, the two shared column names and every layer's name.

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
