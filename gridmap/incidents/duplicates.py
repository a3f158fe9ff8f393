"""Duplicate suggestion: is the same problem already reported nearby and still open?

Why only a suggestion: two reports of "rubbish at the gate" 60 m apart may be one heap or two; the
reporter (and the dispatcher who may reject the new one as a duplicate) decides. The rule,
configurable in :class:`DuplicateRules`: an incident that is still open, of the same category, in
the same grid, reported within ``days`` days, whose point lies within ``radius_m`` metres.

Distances are measured in the metric working CRS of the new point (gridmap.crs.working_crs_for:
CGCS2000 Gauss-Krüger in China), never in degrees.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from gridmap.crs import transformer_between, working_crs_for
from gridmap.errors import ValidationError
from gridmap.incidents.workflow import CLOSED_STATUSES

#: Degrees of latitude per metre (upper bound for the cheap pre-filter box).
_DEG_PER_M = 1.0 / 110_000.0


@dataclass(frozen=True)
class DuplicateRules:
    #: Search radius around the new point, metres.
    radius_m: float = 100.0
    #: Only incidents reported within this many days before the new one count.
    days: float = 7.0
    #: Most suggestions returned, nearest first.
    limit: int = 5

    def __post_init__(self) -> None:
        if self.radius_m <= 0 or self.days <= 0 or self.limit <= 0:
            raise ValidationError(
                f"duplicate rules: radius_m, days and limit must be positive, got {self.radius_m}, {self.days}, "
                f"{self.limit}"
            )


@dataclass(frozen=True)
class DuplicateCandidate:
    incident_id: str
    distance_m: float
    status: str
    reported_at: datetime
    description: str | None

    def to_dict(self) -> dict[str, Any]:
        from gridmap.incidents.open311 import iso

        return {"service_request_id": self.incident_id, "distance_m": round(self.distance_m, 1),
                "status": self.status, "requested_datetime": iso(self.reported_at),
                "description": self.description}


def duplicate_candidates(
    incidents: Sequence[Mapping[str, Any]],
    *,
    lon: float,
    lat: float,
    category: str,
    grid_code: str | None,
    now: datetime,
    rules: DuplicateRules,
    exclude_id: str | None = None,
) -> list[DuplicateCandidate]:
    """Open incidents that may be the same problem as a new report at (lon, lat), nearest first.

    ``incidents`` are records (incident_id, category, grid_code, status, reported_at, description,
    lon, lat) of the grid, or more: they are filtered here.
    """
    if grid_code is None:
        return []
    since = now - timedelta(days=rules.days)
    closed = {s.value for s in CLOSED_STATUSES}
    dlat = rules.radius_m * _DEG_PER_M * 1.2  # a cheap lon/lat box a little larger than the radius first
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    rows = [r for r in incidents
            if r["category"] == category and r["grid_code"] == grid_code and r["status"] not in closed
            and r["reported_at"] >= since and r.get("lon") is not None and r["incident_id"] != exclude_id
            and abs(r["lon"] - lon) <= dlon and abs(r["lat"] - lat) <= dlat]
    if not rows:
        return []
    epsg = working_crs_for((lon, lat, lon, lat)).to_epsg()
    assert epsg is not None
    to_metric = transformer_between(4326, epsg)
    x0, y0 = to_metric.transform(lon, lat)
    xs, ys = to_metric.transform(np.array([r["lon"] for r in rows]), np.array([r["lat"] for r in rows]))
    distance = np.hypot(np.asarray(xs) - x0, np.asarray(ys) - y0)
    found = [DuplicateCandidate(str(r["incident_id"]), float(d), str(r["status"]), r["reported_at"],
                                r.get("description"))
             for r, d in zip(rows, distance, strict=True) if d <= rules.radius_m]
    found.sort(key=lambda c: (c.distance_m, c.incident_id))
    return found[: rules.limit]
