"""The field part of a worker's assessment (考核): logs kept, homes visited, points covered.

Why these three: the seeds assess whether "the diary is kept" and reviewed (A-5, A-13), home visits
("enter a hundred homes", D-11) and whole coverage of inspection points each month (E-42, G-31).
Each component is a rate capped at 1 (diary days / target, visits / target, points checked / points);
the score is 100 x the weighted mean of the components that apply (a worker with no inspection points
is not punished for it), rounded to 0.1. Weights and targets come from Settings (field_weight_*,
field_*_target), so a city sets its own scheme (A-20, A-21).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap.errors import ValidationError

COMPONENTS = ("diaries", "visits", "inspection")
COLUMNS = ("worker_id", "name", "grid_code", "diary_days", "diaries_reviewed", "visits", "buildings_visited",
           "points", "points_checked", "inspection_share", "score", "rank")


@dataclass(frozen=True)
class FieldScoreRules:
    """Weights (relative, normalised over the components with data) and monthly targets."""

    weight_diaries: float = 30.0
    weight_visits: float = 30.0
    weight_inspection: float = 40.0
    diary_days_target: int = 20
    visits_target: int = 20

    def __post_init__(self) -> None:
        weights = (self.weight_diaries, self.weight_visits, self.weight_inspection)
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValidationError(f"field assessment: weights must be non-negative with a positive sum, got {weights}")
        if self.diary_days_target < 1 or self.visits_target < 1:
            raise ValidationError("field assessment: targets must be at least 1")


def field_scores(workers: pd.DataFrame, diaries: pd.DataFrame, visits: pd.DataFrame, points: pd.DataFrame,
                 checkins: pd.DataFrame, *, rules: FieldScoreRules) -> pd.DataFrame:
    """One row per worker (``workers``: worker_id, name, grid_code) for the period the frames cover.

    ``diaries``: worker_id, day, reviewed_by; ``visits``: worker_id, building_id; ``points``: worker_id,
    point_id; ``checkins``: point_id. Ranked by score (best first).
    """
    ids = workers["worker_id"].astype(str)

    def per_worker(frame: pd.DataFrame, how: str, column: str) -> pd.Series:
        if frame.empty:
            return pd.Series(0, index=ids, dtype="float64")
        grouped = frame.groupby(frame["worker_id"].astype(str))[column]
        values = grouped.nunique() if how == "nunique" else grouped.count()
        return values.reindex(ids).fillna(0).astype("float64")

    out = pd.DataFrame({"worker_id": ids.to_numpy(), "name": workers["name"].to_numpy(),
                        "grid_code": workers["grid_code"].to_numpy()})
    out["diary_days"] = per_worker(diaries, "nunique", "day").to_numpy()
    out["diaries_reviewed"] = per_worker(diaries, "count", "reviewed_by").to_numpy()
    out["visits"] = per_worker(visits, "count", "building_id").to_numpy()
    out["buildings_visited"] = per_worker(visits, "nunique", "building_id").to_numpy()
    checked = set(checkins["point_id"].astype(str)) if len(checkins) else set()
    pts = points.assign(checked=points["point_id"].astype(str).isin(checked)) if len(points) else points
    out["points"] = per_worker(pts, "count", "point_id").to_numpy()
    out["points_checked"] = (pts.loc[pts["checked"]].groupby(pts["worker_id"].astype(str)).size()
                             .reindex(ids).fillna(0).to_numpy() if len(pts) else 0.0)
    out["inspection_share"] = (out["points_checked"] / out["points"].where(out["points"] > 0)).round(4)
    parts = {
        "diaries": ((out["diary_days"] / rules.diary_days_target).clip(upper=1.0), rules.weight_diaries),
        "visits": ((out["visits"] / rules.visits_target).clip(upper=1.0), rules.weight_visits),
        "inspection": (out["inspection_share"], rules.weight_inspection),
    }
    total = pd.Series(0.0, index=out.index)
    weight = pd.Series(0.0, index=out.index)
    for rate, w in parts.values():
        has = rate.notna()
        total += rate.fillna(0.0) * w
        weight += has * w
    out["score"] = (100.0 * total / weight.where(weight > 0)).round(1)
    out = out.sort_values(["score", "worker_id"], ascending=[False, True], na_position="last")
    out["rank"] = np.arange(1, len(out) + 1)
    return out[list(COLUMNS)].reset_index(drop=True)
