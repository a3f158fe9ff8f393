"""Emerging hotspots: Mann-Kendall against pymannkendall, categories on constructed series, a planted trend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymannkendall
import pytest

from gridmap.analysis.cells import cells_from_grids
from gridmap.analysis.emerging import category_from_series, emerging_from_incidents, mann_kendall
from gridmap.errors import ValidationError
from tests.analysis import sample


def test_mann_kendall_equals_pymannkendall_with_ties():
    rng = np.random.default_rng(0)
    series = np.vstack([
        rng.normal(size=(20, 12)),
        rng.integers(0, 4, size=(20, 12)).astype(float),  # many ties
        np.arange(12.0)[None, :] + rng.normal(scale=2, size=(5, 12)),
        np.ones((1, 12)),
    ])
    ours = mann_kendall(series)
    for i, row in enumerate(series):
        ref = pymannkendall.original_test(row)
        assert ours.s[i] == ref.s
        assert ours.tau[i] == pytest.approx(ref.Tau)
        assert ours.z[i] == pytest.approx(ref.z, abs=1e-9)
        assert ours.p[i] == pytest.approx(ref.p, abs=1e-9)


UP, DOWN, FLAT = (0.8, 0.001), (-0.8, 0.001), (0.05, 0.8)  # (tau, p) of a significant rise, fall, no trend
H, C, o = 3, -3, 0


@pytest.mark.parametrize(("bins", "trend", "expected"), [
    ([o] * 11 + [H], FLAT, "new hot spot"),
    ([o] * 8 + [H] * 4, UP, "consecutive hot spot"),
    ([H] * 12, UP, "intensifying hot spot"),
    ([H] * 12, FLAT, "persistent hot spot"),
    ([H] * 12, DOWN, "diminishing hot spot"),
    ([o, H, H] + [H] * 8 + [H], FLAT, "persistent hot spot"),  # 11/12 hot: still >= 90 %
    ([H, o, H, o, o, H, o, o, o, H, o, H], FLAT, "sporadic hot spot"),
    ([C, C, o, o, H, o, o, H, o, o, o, H], FLAT, "oscillating hot spot"),
    ([H] * 11 + [o], FLAT, "historical hot spot"),
    ([o] * 11 + [C], FLAT, "new cold spot"),
    ([C] * 12, DOWN, "intensifying cold spot"),  # z falling: the cold spot gets colder
    ([C] * 12, UP, "diminishing cold spot"),
    ([C] * 11 + [o], FLAT, "historical cold spot"),
    ([H, o, o, o, o, o, o, o, o, o, o, o], FLAT, "no pattern"),
    ([o] * 12, FLAT, "no pattern"),
    ([C] * 3 + [o] * 7 + [H, H], FLAT, "oscillating hot spot"),  # a run at the end after earlier cold spots
])
def test_categories_of_constructed_series(bins, trend, expected):
    tau, p = trend
    assert category_from_series(np.zeros(len(bins)), bins, tau, p) == expected


def monthly_incidents(rng: np.random.Generator, n: int, *, trend_cell: int, months: int = 12):
    """Poisson(4) per cell and month; ``trend_cell`` and its east neighbour get 2 + 6 * month incidents."""
    geoms = [sample.square_m(c, r, 200.0) for r in range(n) for c in range(n)]
    points, times = [], []
    for month in range(months):
        counts = rng.poisson(4, n * n)
        counts[[trend_cell, trend_cell + 1]] = 2 + 6 * month
        pts = sample.points_in(geoms, counts.tolist(), rng)
        points.extend(pts)
        start = pd.Timestamp(f"2024-{month + 1:02d}-01", tz="UTC")
        times.extend(start + pd.to_timedelta(rng.uniform(0, 27, len(pts)), unit="D"))
    return sample.incidents_frame(np.array(points, dtype=object), reported_at=times)


def test_planted_rising_cluster_is_an_emerging_hotspot_and_noise_mostly_no_pattern():
    n = 8
    cells = cells_from_grids(sample.lattice_grids(n, 200.0))
    incidents = monthly_incidents(np.random.default_rng(4), n, trend_cell=3 * n + 3)
    result = emerging_from_incidents(cells, incidents, period="month")
    frame = result.frame.set_index("cell_id")
    planted = frame.iloc[3 * n + 3]
    assert planted["category"] in {"intensifying hot spot", "consecutive hot spot"}
    assert planted["trend_tau"] > 0.5 and planted["trend_p"] < 0.05
    assert result.z.shape == (n * n, 12) and len(result.periods) == 12
    assert (frame["category"] == "no pattern").mean() >= 0.7
    permuted = emerging_from_incidents(cells, incidents, period="month", permutations=99, seed=1)
    again = emerging_from_incidents(cells, incidents, period="month", permutations=99, seed=1)
    np.testing.assert_array_equal(permuted.bins, again.bins)  # reproducible with a seed


def test_too_few_periods_and_bad_times_are_refused():
    cells = cells_from_grids(sample.lattice_grids(3, 200.0))
    incidents = monthly_incidents(np.random.default_rng(1), 3, trend_cell=0, months=2)
    with pytest.raises(ValidationError, match="span 2 month"):
        emerging_from_incidents(cells, incidents, period="month")
    incidents["reported_at"] = incidents["reported_at"].astype(str)
    incidents.loc[0, "reported_at"] = "not a date"
    with pytest.raises(ValidationError, match="do not parse"):
        emerging_from_incidents(cells, incidents, period="week")
