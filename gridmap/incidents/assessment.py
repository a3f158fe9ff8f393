"""Assessment (考核): handling metrics per grid, worker, community, street and department, and a score.

Why these metrics: the seeds assess event totals, closed totals and the closure rate (办结率) with
rankings (A-1, A-2), time-limit compliance (A-3), verification failures (A-9, E-44), red/yellow
cards (E-52) and residents' satisfaction (A-10, A-11). The score engine is a 100-point scale (A-20)
with configurable weights; 80 points passes (A-22); a worker's A/B posts (own grid / the paired
adjacent grid they cover, AB岗) weigh 60/40 (A-23, R-9).

Score of a unit = sum over components of weight x rate (closure rate, on-time rate, satisfaction
as mean/5, verification quality as 1 - failures/closed), divided by the sum of the weights of the
components that have data (a unit with no evaluations is not punished for it), times 100, minus
deductions per card and per penalised case, clipped to 0..100. Pure functions on frames; the
service reads the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from gridmap.errors import ValidationError
from gridmap.incidents.escalation import RED, YELLOW
from gridmap.incidents.workflow import Status

#: Unit of assessment -> the incident column that names it.
UNIT_COLUMNS: Mapping[str, str] = {
    "grid": "grid_code",
    "worker": "assigned_to",
    "community": "community_code",
    "street": "street_code",
    "department": "department",
}
_DONE = [Status.CLOSED.value, Status.EVALUATED.value]
METRIC_COLUMNS = ("unit", "received", "closed", "closure_rate", "on_time", "on_time_rate", "mean_handling_h",
                  "verification_failures", "penalties", "yellow_cards", "red_cards", "supervised",
                  "satisfaction_mean", "evaluated", "score", "passed", "rank")


@dataclass(frozen=True)
class ScoreRules:
    """The configurable 100-point score (A-20...A-23)."""

    pass_score: float = 80.0
    #: Relative weights of the rate components (they are normalised over the components with data).
    weights: Mapping[str, float] = field(default_factory=lambda: {
        "closure_rate": 30.0, "on_time_rate": 30.0, "satisfaction": 20.0, "verification": 20.0})
    #: Points deducted per case with a yellow card, a red card, or a verification penalty (扣分, A-6).
    deductions: Mapping[str, float] = field(default_factory=lambda: {"yellow": 2.0, "red": 5.0, "penalty": 5.0})
    #: A post (own grid) and B post (the partner's grid) weights for a worker (AB岗 60/40).
    ab_weights: tuple[float, float] = (0.6, 0.4)

    def __post_init__(self) -> None:
        unknown = set(self.weights) - {"closure_rate", "on_time_rate", "satisfaction", "verification"}
        if unknown or any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0:
            raise ValidationError(f"score rules: weights must be non-negative numbers for closure_rate, "
                                  f"on_time_rate, satisfaction, verification; got {dict(self.weights)}")
        if set(self.deductions) - {"yellow", "red", "penalty"}:
            raise ValidationError(f"score rules: deductions are yellow, red, penalty; got {dict(self.deductions)}")
        a, b = self.ab_weights
        if a < 0 or b < 0 or abs(a + b - 1.0) > 1e-9:
            raise ValidationError(f"score rules: ab_weights must be two non-negative shares summing to 1, got "
                                  f"{self.ab_weights}")
        if not 0 <= self.pass_score <= 100:
            raise ValidationError(f"score rules: pass_score must be within 0..100, got {self.pass_score}")


def window(incidents: pd.DataFrame, *, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
    """Incidents reported in [start, end) (either bound may be None), rejected reports left out."""
    keep = incidents["status"] != Status.REJECTED.value
    if start is not None:
        keep &= incidents["reported_at"] >= pd.Timestamp(start)
    if end is not None:
        keep &= incidents["reported_at"] < pd.Timestamp(end)
    return incidents.loc[keep]


def _num(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series(0.0, index=frame.index)
    return pd.to_numeric(frame[name], errors="coerce").astype("float64").fillna(0.0)


def _flags(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-incident 0/1 columns the metrics sum up."""
    done = frame["status"].isin(_DONE)
    handled_at = frame["handled_at"] if "handled_at" in frame.columns else frame["closed_at"]
    finished = handled_at.fillna(frame["closed_at"])
    deadline = frame["deadline_at"]
    late = (_num(frame, "overdue_count") > 0) | (deadline.notna() & finished.notna() & (finished > deadline))
    hours = (finished - frame["reported_at"]).dt.total_seconds() / 3600.0
    satisfaction = pd.to_numeric(frame["satisfaction"], errors="coerce").astype("float64")
    card = frame["card"].astype(object)
    return pd.DataFrame({
        "received": 1.0,
        "closed": done.astype(float),
        "on_time": (done & ~late).astype(float),
        "hours": hours.where(done),
        "verification_failures": _num(frame, "verification_failures"),
        "penalties": frame["penalty"].fillna(False).astype(bool).astype(float),
        "yellow_cards": (card == YELLOW).astype(float),
        "red_cards": (card == RED).astype(float),
        "supervised": frame["supervised"].fillna(False).astype(bool).astype(float),
        "satisfaction": satisfaction,
        "evaluated": satisfaction.notna().astype(float),
    }, index=frame.index)


def _scores(m: pd.DataFrame, rules: ScoreRules) -> pd.Series:
    parts = {
        "closure_rate": m["closure_rate"],
        "on_time_rate": m["on_time_rate"],
        "satisfaction": m["satisfaction_mean"] / 5.0,
        "verification": (1.0 - m["verification_failures"] / m["closed"].where(m["closed"] > 0)).clip(0.0, 1.0),
    }
    total = pd.Series(0.0, index=m.index)
    weight = pd.Series(0.0, index=m.index)
    for name, rate in parts.items():
        w = float(rules.weights.get(name, 0.0))
        has = rate.notna()
        total += (rate.fillna(0.0) * w).where(has, 0.0)
        weight += has * w
    base = 100.0 * total / weight.where(weight > 0)
    minus = (m["yellow_cards"] * rules.deductions.get("yellow", 0.0) + m["red_cards"] * rules.deductions.get("red", 0.0)
             + m["penalties"] * rules.deductions.get("penalty", 0.0))
    return (base - minus).clip(0.0, 100.0).round(1)


def unit_metrics(incidents: pd.DataFrame, *, unit: str, rules: ScoreRules) -> pd.DataFrame:
    """One row per unit (grid code, worker id, ... ; incidents without one are left out), ranked by score."""
    try:
        column = UNIT_COLUMNS[unit]
    except KeyError:
        raise ValidationError(f"unknown assessment unit {unit!r}; choose one of {', '.join(UNIT_COLUMNS)}") from None
    rows = incidents.loc[incidents[column].notna()]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "unit" else "float64") for c in METRIC_COLUMNS})
    flags = _flags(rows)
    flags["unit"] = rows[column].astype(str)
    g = flags.groupby("unit", sort=True)
    m = g[["received", "closed", "on_time", "verification_failures", "penalties", "yellow_cards", "red_cards",
           "supervised", "evaluated"]].sum()
    m["closure_rate"] = m["closed"] / m["received"]
    m["on_time_rate"] = m["on_time"] / m["closed"].where(m["closed"] > 0)
    m["mean_handling_h"] = g["hours"].mean().round(2)
    m["satisfaction_mean"] = g["satisfaction"].mean().round(2)
    m["score"] = _scores(m, rules)
    m["passed"] = m["score"] >= rules.pass_score
    m = m.reset_index().sort_values(["score", "closure_rate", "received", "unit"],
                                    ascending=[False, False, False, True], na_position="last")
    m["rank"] = np.arange(1, len(m) + 1)
    return m[list(METRIC_COLUMNS)].reset_index(drop=True)


def ab_scores(grid_metrics: pd.DataFrame, workers: pd.DataFrame, *, rules: ScoreRules) -> pd.DataFrame:
    """Worker score = A x own grid's score + B x the A/B partner's grid score (AB岗); own score alone
    when the worker has no partner or the partner's grid has no cases."""
    by_grid = dict(zip(grid_metrics["unit"], grid_metrics["score"], strict=True))
    grid_of = {str(w): (None if pd.isna(g) else str(g)) for w, g in zip(workers["worker_id"], workers["grid_code"],
                                                                          strict=True)}
    rows = []
    a_w, b_w = rules.ab_weights
    for w in workers.to_dict("records"):
        own = grid_of.get(str(w["worker_id"]))
        partner = w.get("partner_worker_id")
        partner_grid = None if partner is None or pd.isna(partner) else grid_of.get(str(partner))
        a = by_grid.get(own) if own else None
        b = by_grid.get(partner_grid) if partner_grid else None
        score = None if a is None else (a if b is None or pd.isna(b) else round(a_w * a + b_w * b, 1))
        rows.append({"worker_id": str(w["worker_id"]), "name": w.get("name"), "grid_code": own,
                     "partner_grid_code": partner_grid, "a_score": a, "b_score": b, "score": score,
                     "passed": None if score is None else bool(score >= rules.pass_score)})
    out = pd.DataFrame(rows, columns=["worker_id", "name", "grid_code", "partner_grid_code", "a_score", "b_score",
                                      "score", "passed"])
    return out.sort_values(["score", "worker_id"], ascending=[False, True], na_position="last").reset_index(drop=True)


def trend(incidents: pd.DataFrame, *, freq: str = "MS") -> pd.DataFrame:
    """Received and closed counts per period (month starts by default; 'W-MON' for weeks), UTC+8 calendar."""
    periods = {"MS": "M", "W-MON": "W-SUN", "D": "D"}  # a week ending on Sunday starts on Monday
    if freq not in periods:
        raise ValidationError(f"trend period {freq!r}: use MS (month), W-MON (week) or D (day)")
    period = periods[freq]
    if incidents.empty:
        return pd.DataFrame({"period": pd.Series(dtype="datetime64[ns]"), "received": [], "closed": []})
    local = incidents["reported_at"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    received = local.groupby(local.dt.to_period(period)).size()
    closed_local = incidents.loc[incidents["closed_at"].notna() & incidents["status"].isin(_DONE), "closed_at"]
    closed_local = closed_local.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
    closed = closed_local.groupby(closed_local.dt.to_period(period)).size()
    out = pd.DataFrame({"received": received, "closed": closed}).fillna(0).astype(int).sort_index()
    out.index = pd.PeriodIndex(out.index).to_timestamp()
    return out.rename_axis("period").reset_index()


def by_category(incidents: pd.DataFrame) -> pd.DataFrame:
    """Counts per category (for the pie chart), largest first."""
    counts = incidents["category"].astype(str).value_counts()
    return counts.rename_axis("category").reset_index(name="count")
