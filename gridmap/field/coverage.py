"""Coverage of field work over a month: buildings visited per grid, inspection points checked.

Why shares of distinct objects and not counts: "enter a hundred homes" (D-11) and "cover every point
monthly" (E-42, G-31) are coverage rules: ten visits to one building are worth less than one visit to
each of ten buildings. Pure functions on frames; the service reads them from the store.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from gridmap.errors import ValidationError


def month_days(month: str) -> tuple[str, str]:
    """First and last local day (YYYY-MM-DD) of ``month`` (YYYY-MM)."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise ValidationError(f"month must be YYYY-MM, got {month!r}") from None
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first.isoformat(), date.fromordinal(nxt.toordinal() - 1).isoformat()


def days_of_month(month: str) -> list[str]:
    """Every local day (YYYY-MM-DD) of ``month`` (YYYY-MM), for a store filter on a ``day`` column."""
    first, last = (date.fromisoformat(d) for d in month_days(month))
    return [date.fromordinal(n).isoformat() for n in range(first.toordinal(), last.toordinal() + 1)]


def in_month(frame: pd.DataFrame, month: str, *, column: str = "day") -> pd.DataFrame:
    """Rows whose local-day ``column`` falls in ``month``."""
    first, last = month_days(month)
    days = frame[column].astype(str)
    return frame.loc[(days >= first) & (days <= last)]


def visit_coverage(buildings: pd.DataFrame, visits: pd.DataFrame) -> pd.DataFrame:
    """Per grid: ``buildings`` (count in the grid), ``visited`` (distinct buildings with a visit) and
    ``visit_share`` (visited / buildings), sorted by grid code.

    ``buildings`` has ``building_id`` and ``grid_code`` (the active grid holding it), ``visits`` has
    ``building_id`` (already limited to the period).
    """
    cols = ["grid_code", "buildings", "visited", "visits", "visit_share"]
    if buildings.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "grid_code" else "float64") for c in cols})
    b = buildings.dropna(subset=["grid_code"])
    seen = set(visits["building_id"].astype(str)) if len(visits) else set()
    per_visit = visits["building_id"].astype(str).value_counts() if len(visits) else pd.Series(dtype="int64")
    frame = pd.DataFrame({"grid_code": b["grid_code"].astype(str), "building_id": b["building_id"].astype(str)})
    frame["visited"] = frame["building_id"].isin(seen)
    frame["visits"] = frame["building_id"].map(per_visit).fillna(0)
    out = frame.groupby("grid_code").agg(buildings=("building_id", "size"), visited=("visited", "sum"),
                                         visits=("visits", "sum")).reset_index()
    out["visit_share"] = (out["visited"] / out["buildings"]).round(4)
    return out[cols].sort_values("grid_code").reset_index(drop=True)


def inspection_coverage(points: pd.DataFrame, checkins: pd.DataFrame, *, by: str = "worker_id") -> pd.DataFrame:
    """Per ``by`` (worker_id or grid_code): ``points``, ``points_checked`` (distinct points with a check-in
    in the period), ``checkins`` and ``inspection_share``."""
    cols = [by, "points", "points_checked", "checkins", "inspection_share"]
    if points.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c == by else "float64") for c in cols})
    checked = set(checkins["point_id"].astype(str)) if len(checkins) else set()
    counts = checkins["point_id"].astype(str).value_counts() if len(checkins) else pd.Series(dtype="int64")
    frame = pd.DataFrame({by: points[by].astype(str), "point_id": points["point_id"].astype(str)})
    frame["checked"] = frame["point_id"].isin(checked)
    frame["n"] = frame["point_id"].map(counts).fillna(0)
    out = frame.groupby(by).agg(points=("point_id", "size"), points_checked=("checked", "sum"),
                                checkins=("n", "sum")).reset_index()
    out["inspection_share"] = (out["points_checked"] / out["points"]).round(4)
    return out[cols].sort_values(by).reset_index(drop=True)
