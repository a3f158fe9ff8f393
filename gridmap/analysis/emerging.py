"""Emerging hotspots: how each cell's Gi* hot/cold status changes over time (ArcGIS's categories).

Why: a command centre plans patrols (E-34: frequency tuned to event patterns and seasons) from
where problems are *becoming* concentrated, not only where they are. For every period (week or
month) Gi* is computed per cell as in :mod:`hotspots`; the series of z-scores of a cell gets a
Mann-Kendall trend test; the pattern of significant hot (or cold) periods and the trend give one
of ArcGIS's Emerging Hot Spot Analysis categories:

* new: hot in the final period only (no significant period before);
* consecutive: a single run of >= 2 hot periods at the end, nothing significant before it, < 90 % hot;
* intensifying / persistent / diminishing: hot in >= 90 % of periods including the final one, with
  a significant upward / no / a significant downward trend of z;
* sporadic: hot in the final period, on and off before, never cold, < 90 % hot;
* oscillating: hot in the final period, cold in some earlier period, < 90 % hot;
* historical: not hot in the final period, but hot in >= 90 % of periods;
* the same for cold spots, and "no pattern" for everything else.

Simplification (documented): the neighbourhood is spatial only (the cells' weights within one
period), where ArcGIS can also include previous time steps. ArcGIS asks for at least 10 periods;
fewer are accepted (MIN_PERIODS) but the 90 % rules are then coarse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from gridmap.analysis.cells import Cells
from gridmap.analysis.hotspots import counts_from_points, gi_star
from gridmap.analysis.incident_input import incident_points, incident_times, incident_weights
from gridmap.analysis.inference import check_permutations, confidence_bins
from gridmap.analysis.weights import weights_from_cells
from gridmap.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
Period = Literal["week", "month"]
#: pandas period frequency per period name (weeks start on Monday, as in Chinese calendars).
PERIOD_FREQ = {"week": "W-SUN", "month": "M"}
MIN_PERIODS = 4
#: Share of periods that makes a cell persistently hot or cold (ArcGIS: 90 %).
PERSISTENT_SHARE = 0.9
CATEGORIES: tuple[str, ...] = (
    "new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating", "historical",
)
NO_PATTERN = "no pattern"
CATEGORY, TREND_TAU, TREND_P = "category", "trend_tau", "trend_p"
HOT_PERIODS, COLD_PERIODS = "hot_periods", "cold_periods"


@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall trend test per row: S, Kendall's tau = S / (n(n-1)/2), z and two-sided p."""

    s: FloatArray
    tau: FloatArray
    z: FloatArray
    p: FloatArray


def mann_kendall(series: npt.ArrayLike) -> MannKendall:
    """The trend test on each row of ``series`` (cells x periods), ties corrected, continuity corrected.

    Same definitions as ``pymannkendall.original_test``: var(S) = [n(n-1)(2n+5) - sum t(t-1)(2t+5)] / 18
    over groups of t tied values; z = (S - sign(S)) / sqrt(var); p = 2 (1 - Phi(|z|)).
    """
    x = np.atleast_2d(np.asarray(series, dtype=float))
    n = x.shape[1]
    upper = np.triu_indices(n, k=1)
    diffs = x[:, upper[1]] - x[:, upper[0]]
    s = np.sign(diffs).sum(axis=1)
    ties = np.zeros(len(x))
    ordered = np.sort(x, axis=1)
    for row in np.flatnonzero((np.diff(ordered, axis=1) == 0).any(axis=1)):
        _, t = np.unique(ordered[row], return_counts=True)
        ties[row] = float(np.sum(t * (t - 1) * (2 * t + 5)))
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(var), 0.0)
    p = 2.0 * stats.norm.sf(np.abs(z))
    return MannKendall(s, s / (n * (n - 1) / 2.0), z, p)


def _final_run(flags: npt.NDArray[np.bool_]) -> int:
    """Length of the run of True at the end."""
    if not flags[-1]:
        return 0
    falses = np.flatnonzero(~flags)
    return len(flags) - (int(falses[-1]) + 1 if len(falses) else 0)


def _hot_category(hot: npt.NDArray[np.bool_], cold: npt.NDArray[np.bool_], trend: float, trend_p: float,
                  alpha: float) -> str | None:
    """The category of a cell whose final period is hot (call with hot/cold swapped for cold spots)."""
    n = len(hot)
    share = hot.sum() / n
    if share >= PERSISTENT_SHARE:
        if trend_p <= alpha and trend > 0:
            return "intensifying"
        if trend_p <= alpha and trend < 0:
            return "diminishing"
        return "persistent"
    significant = hot | cold
    run = _final_run(hot)
    if not significant[: n - run].any():
        return "new" if run == 1 else "consecutive"
    if cold[: n - 1].any():
        return "oscillating"
    return "sporadic"


def category_from_series(z: Sequence[float], bins: Sequence[int], trend_tau: float, trend_p: float,
                         *, alpha: float = 0.05) -> str:
    """The emerging-hotspot category of one cell from its per-period z-scores' trend and significance bins.

    A period is hot when its bin is > 0 and cold when < 0 (the bins already hold the confidence
    level and FDR choice). Names are "<category> hot spot", "<category> cold spot" or "no pattern".
    """
    b = np.asarray(bins)
    hot, cold = b > 0, b < 0
    if len(b) == 0:
        return NO_PATTERN
    if hot[-1]:
        return f"{_hot_category(hot, cold, trend_tau, trend_p, alpha)} hot spot"
    if cold[-1]:
        return f"{_hot_category(cold, hot, -trend_tau, trend_p, alpha)} cold spot"
    if hot.mean() >= PERSISTENT_SHARE:
        return "historical hot spot"
    if cold.mean() >= PERSISTENT_SHARE:
        return "historical cold spot"
    return NO_PATTERN


def period_labels(times: pd.Series, period: str) -> pd.PeriodIndex:
    """The week or month of each time (UTC)."""
    if period not in PERIOD_FREQ:
        raise ValidationError(f"unknown period {period!r}; use week or month")
    naive = pd.DatetimeIndex(times).tz_convert("UTC").tz_localize(None)
    return naive.to_period(PERIOD_FREQ[period])


@dataclass
class EmergingResult:
    """Cells with their category and trend; ``z``/``bins`` are (cells x periods) for charts."""

    frame: gpd.GeoDataFrame
    periods: list[str]
    z: FloatArray
    bins: npt.NDArray[np.int64]
    summary: dict[str, Any]


def emerging_from_incidents(
    cells: Cells,
    incidents: gpd.GeoDataFrame,
    *,
    period: str = "month",
    time_column: str = "reported_at",
    weight_column: str | None = None,
    permutations: int = 0,
    seed: int = 0,
    fdr: bool = True,
    alpha: float = 0.05,
    source: str = "incidents",
) -> EmergingResult:
    """Gi* per period and cell, the Mann-Kendall trend of each cell's z-scores, and its category.

    By default the per-period significance is analytic (normal p-values of z, FDR-corrected), as in
    ArcGIS's Emerging Hot Spot Analysis: a period has few incidents per cell, so a permutation test
    with its 2 / (N + 1) resolution and the FDR correction would rarely call anything significant;
    ``permutations`` > 0 asks for it anyway.
    Every period from the first to the last incident counts, including empty ones (a period
    without any incident gives z = 0 and no significant cell). ``alpha`` is the significance of the
    trend test. Reproducible for a given ``seed``.
    """
    check_permutations(permutations)
    points = incident_points(incidents, source=source)
    labels = period_labels(incident_times(incidents, time_column, source=source), period)
    weights = incident_weights(incidents, weight_column, source=source)
    if len(labels) == 0:
        raise ValidationError(f"{source}: no incidents to analyse over time", code="constant_values")
    periods = pd.period_range(labels.min(), labels.max(), freq=labels.freq)
    if len(periods) < MIN_PERIODS:
        raise ValidationError(
            f"{source}: the incidents span {len(periods)} {period}(s); an emerging-hotspot analysis needs at least"
            f" {MIN_PERIODS} (ArcGIS recommends 10 or more); use a longer window or --period week",
            code="too_few_periods",
        )
    w = weights_from_cells(cells)
    rng = np.random.default_rng(seed)
    z = np.zeros((len(cells), len(periods)))
    bins = np.zeros((len(cells), len(periods)), dtype=np.int64)
    position = np.asarray(periods.get_indexer(labels))
    for t in range(len(periods)):
        mask = position == t
        values, _ = counts_from_points(cells, points[mask], weights=weights[mask])
        if values.sum() == 0 or np.all(values == values[0]):
            continue  # nothing to test in this period: z = 0, not significant
        local = gi_star(values, w, permutations=permutations, rng=rng)
        z[:, t] = local.z
        bins[:, t] = confidence_bins(local.z, local.p, fdr=fdr)
    if not bins.any() and not z.any():
        raise ValidationError(f"{source}: every period has all cells equal (or no incidents in the cells)",
                              code="constant_values")
    return _result(cells, periods, z, bins, alpha=alpha, summary={
        "cells": str(cells.spec), "period": period, "n_periods": len(periods), "permutations": permutations,
        "seed": seed, "fdr": fdr, "trend_alpha": alpha, "n_incidents": len(points),
    })


def _result(cells: Cells, periods: pd.PeriodIndex, z: FloatArray, bins: npt.NDArray[np.int64], *, alpha: float,
            summary: dict[str, Any]) -> EmergingResult:
    trend = mann_kendall(z)
    categories = [
        category_from_series(z[i], bins[i], float(trend.tau[i]), float(trend.p[i]), alpha=alpha)
        for i in range(len(cells))
    ]
    frame = cells.frame.copy()
    frame[CATEGORY] = categories
    frame[TREND_TAU], frame[TREND_P] = trend.tau, trend.p
    frame[HOT_PERIODS], frame[COLD_PERIODS] = (bins > 0).sum(axis=1), (bins < 0).sum(axis=1)
    summary["categories"] = {str(k): int(v) for k, v in pd.Series(categories).value_counts().items()}
    return EmergingResult(frame, [str(p) for p in periods], z, bins, summary)
