"""Domain types with no I/O: levels, grid kinds, statuses, roles."""

from __future__ import annotations

from enum import StrEnum


class AreaLevel(StrEnum):
    """Administrative levels, top down. Values are the stored strings."""

    DISTRICT = "district"  # 区/县, 6-digit code
    STREET = "street"  # 街道/乡镇, 9-digit code
    COMMUNITY = "community"  # 社区/村, 12-digit code
    GRID = "grid"  # 网格, 15-digit code

    @property
    def code_length(self) -> int:
        return {"district": 6, "street": 9, "community": 12, "grid": 15}[self.value]

    @property
    def parent(self) -> AreaLevel | None:
        order = list(AreaLevel)
        i = order.index(self)
        return order[i - 1] if i > 0 else None

    @property
    def label_zh(self) -> str:
        return {"district": "区县", "street": "街道", "community": "社区", "grid": "网格"}[self.value]


ADMIN_LEVELS: tuple[AreaLevel, ...] = (AreaLevel.DISTRICT, AreaLevel.STREET, AreaLevel.COMMUNITY)


class GridKind(StrEnum):
    BASE = "base"  # 基础网格 / 综合网格
    DEDICATED = "dedicated"  # 专属网格
    PROFESSIONAL = "professional"  # 专业网格 (subtype: police, safety, traffic, environment, market, cleaning)
    MICRO = "micro"  # 微网格


class GenerationStatus(StrEnum):
    STAGED = "staged"
    APPROVED = "approved"
    ACTIVE = "active"
    RETIRED = "retired"


class RoadClass(StrEnum):
    """Road classes, biggest first; grids prefer edges on bigger roads."""

    ARTERIAL = "arterial"
    LOCAL = "local"
    LANE = "lane"
    SERVICE = "service"
    FOOTPATH = "footpath"
    BOUNDARY = "boundary"  # the community boundary ring itself

    @property
    def rank(self) -> int:
        """0 = biggest. Used to weight how much a grid edge on this road is preferred."""
        return {"boundary": 0, "arterial": 1, "local": 2, "lane": 3, "service": 4, "footpath": 5}[self.value]


class UnitType(StrEnum):
    """Units that may get a dedicated grid (专属网格, P-29)."""

    SCHOOL = "school"
    HOSPITAL = "hospital"
    MARKET = "market"
    ENTERPRISE = "enterprise"
    PARK = "park"
    OFFICE_TOWER = "office_tower"
    GOVERNMENT = "government"
    OTHER = "other"


class Role(StrEnum):
    ADMIN = "admin"
    PLANNER = "planner"
    COMMAND = "command"
    ANALYST = "analyst"
    WORKER = "worker"
    PUBLIC = "public"


class WorkerRole(StrEnum):
    GRID_LEADER = "grid_leader"  # 网格长
    FULL_TIME = "full_time"  # 专职网格员
    PART_TIME = "part_time"  # 兼职网格员
