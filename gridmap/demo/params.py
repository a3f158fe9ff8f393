"""Knobs of the demo district, and the constants every synthetic row carries."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from gridmap.errors import ValidationError

#: China Standard Time (UTC+8, no daylight saving).
CHINA_TZ = timezone(timedelta(hours=8), "CST")
#: ``source`` of every synthetic row.
SYNTHETIC_SOURCE = "gridmap demo (synthetic)"
#: Centre of the synthetic urban core: the real 淇滨区 new town lies around here (lon, lat).
CORE_CENTRE_LONLAT = (114.305, 35.740)
#: The boundaries are "valid from" this instant (the demo does not model their history).
AREAS_VALID_FROM = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoParams:
    """How big the demo is. ``scale`` < 1 shrinks it for fast tests (fewer and smaller areas).

    At ``scale=1``: 4 urban streets (街道) with 24 communities (社区) in a core about 3.8 km x 3.4 km,
    5 rural townships (乡镇) with 36 villages (村), ~70,000 households, ~32,000 incidents a year.
    """

    seed: int = 2024
    scale: float = 1.0
    months: int = 12

    def __post_init__(self) -> None:
        if not 0.02 <= self.scale <= 1.5:
            raise ValidationError(f"demo scale {self.scale} is outside 0.02..1.5")
        if not 1 <= self.months <= 36:
            raise ValidationError(f"demo months {self.months} is outside 1..36")

    def _count(self, full: int, minimum: int) -> int:
        return max(minimum, round(full * self.scale))

    @property
    def urban_streets(self) -> int:
        return self._count(4, 1)

    @property
    def urban_communities(self) -> int:
        return max(self._count(24, 2), self.urban_streets)

    @property
    def townships(self) -> int:
        return self._count(5, 1)

    @property
    def villages(self) -> int:
        return max(self._count(36, 2), self.townships)

    @property
    def core_semi_axes_m(self) -> tuple[float, float]:
        """Semi-axes of the urban core (m); its area scales with ``scale``."""
        k = math.sqrt(self.scale)
        return 1900.0 * k, 1700.0 * k

    @property
    def incidents_per_household_year(self) -> float:
        """About 0.45 reports per household and year (~32,000 for 70,000 households)."""
        return 0.45

    @property
    def incidents_end(self) -> datetime:
        """End of the incident window, fixed by the seed (never "today"): local midnight (UTC+8) of
        1 January 2025 minus ``(seed - 2024) % 7`` days, so the default seed 2024 covers the year 2024."""
        return datetime(2025, 1, 1, tzinfo=CHINA_TZ) - timedelta(days=(self.seed - 2024) % 7)
