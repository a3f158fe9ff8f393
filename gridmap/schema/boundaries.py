"""Layers of the territory: areas (district > street > community), grids and their generations,
roads, buildings, estates, units, service centres, and the planners' drafts of grid edits.
"""

from __future__ import annotations

from gridmap.schema.spec import (
    AREAS,
    BUILDINGS,
    ESTATES,
    GENERATIONS,
    GRIDS,
    PLANNER_DRAFTS,
    ROADS,
    SERVICE_CENTRES,
    UNITS,
    C,
    LayerSpec,
)

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
