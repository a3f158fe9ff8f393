"""Gi* and local Moran's I: agreement with esda, planted clusters, noise, FDR, rates, seeds, bad input."""

from __future__ import annotations

import warnings

import esda
import numpy as np
import pytest

from gridmap.analysis.cells import cells_from_grids
from gridmap.analysis.hotspots import (
    HotspotOptions,
    gi_star,
    hotspots_from_incidents,
    hotspots_from_values,
    local_moran,
    rates_per_households,
)
from gridmap.analysis.weights import weights_from_cells
from gridmap.errors import ValidationError
from tests.analysis import sample


def lattice_cells(n: int, *, households: list[float] | None = None):
    return cells_from_grids(sample.lattice_grids(n, 200.0, households=households))


def smooth_field(n: int, rng: np.random.Generator) -> np.ndarray:
    """Counts with spatial structure (a gradient plus noise), row-major like lattice_grids."""
    rows, cols = np.divmod(np.arange(n * n), n)
    return rng.poisson(5 + 2.0 * cols + 1.0 * rows).astype(float)


def esda_quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_gi_star_z_scores_equal_esda_and_p_values_agree_with_its_permutations():
    cells = lattice_cells(10)
    y = smooth_field(10, np.random.default_rng(3))
    w = weights_from_cells(cells)
    ours = gi_star(y, w, permutations=999, rng=np.random.default_rng(1))
    ref = esda_quiet(esda.G_Local, y, w, transform="B", star=True, permutations=999, seed=1)
    np.testing.assert_allclose(ours.z, ref.Zs, rtol=1e-12, atol=1e-12)
    # our p is two-sided: half of it estimates esda's one-tailed pseudo p-value (Monte Carlo error only)
    half = ours.p / 2
    assert np.mean(np.abs(half - ref.p_sim)) < 0.01
    assert np.mean((half <= 0.05) == (ref.p_sim <= 0.05)) >= 0.95
    assert ours.p.min() > 0 and ours.p.max() <= 1


def test_local_moran_statistic_and_quadrants_equal_esda():
    cells = lattice_cells(10)
    y = smooth_field(10, np.random.default_rng(5))
    w = weights_from_cells(cells)
    ours = local_moran(y, w, permutations=999, rng=np.random.default_rng(2))
    ref = esda_quiet(esda.Moran_Local, y, w, transformation="r", permutations=999, seed=2)
    np.testing.assert_allclose(ours.statistic, ref.Is, rtol=1e-12)
    assert ours.quadrant is not None
    np.testing.assert_array_equal(ours.quadrant, ref.q)
    assert np.mean(np.abs(ours.p / 2 - ref.p_sim)) < 0.015


def planted(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Poisson(5) background with a 3 x 3 block of Poisson(60) near the middle; returns (values, block mask)."""
    y = rng.poisson(5, n * n).astype(float)
    rows, cols = np.divmod(np.arange(n * n), n)
    block = (abs(rows - n // 2) <= 1) & (abs(cols - n // 2) <= 1)
    y[block] = rng.poisson(60, int(block.sum()))
    return y, block


def core_of(block: np.ndarray, n: int) -> np.ndarray:
    """The block's centre and edge-middle cells: at least 5 of their 9 Gi* neighbourhood cells are in the block.

    A corner cell of the block has only 4 (itself and 3 neighbours); by chance alone 3 of its 8 neighbours are
    block cells with probability ~0.4 %, so the permutation test rightly gives it less than 99 % confidence.
    """
    rows, cols = np.divmod(np.arange(n * n), n)
    return block & ((rows == n // 2) | (cols == n // 2))


def test_planted_cluster_comes_out_as_99_percent_hotspot_with_fdr():
    n = 12
    cells = lattice_cells(n)
    y, block = planted(n, np.random.default_rng(11))
    result = hotspots_from_values(cells, y, HotspotOptions(permutations=9999, seed=4, fdr=True))
    bins = result.frame["bin"].to_numpy()
    assert (bins[core_of(block, n)] == 3).all(), bins[block]
    assert (bins[block] >= 0).all()
    rows, cols = np.divmod(np.arange(n * n), n)
    far = (abs(rows - n // 2) >= 4) | (abs(cols - n // 2) >= 4)
    assert np.mean(bins[far] == 0) >= 0.9
    assert set(result.frame.loc[core_of(block, n), "cluster"]) == {"hot"}
    assert result.summary["notes"] == []


def test_planted_cluster_is_99_percent_with_999_permutations_without_fdr_and_note_explains_fdr():
    n = 12
    cells = lattice_cells(n)
    y, block = planted(n, np.random.default_rng(11))
    plain = hotspots_from_values(cells, y, HotspotOptions(permutations=999, seed=4, fdr=False))
    core = core_of(block, n)
    assert (plain.frame["bin"].to_numpy()[core] == 3).all()
    assert (plain.frame["bin"].to_numpy()[block] > 0).all()
    corrected = hotspots_from_values(cells, y, HotspotOptions(permutations=999, seed=4, fdr=True))
    assert (corrected.frame["bin"].to_numpy()[core] > 0).all()
    if (corrected.frame["bin"] == 3).sum() == 0:  # the resolution limit is explained, not hidden
        assert "permutations" in corrected.summary["notes"][0]


def test_uniform_field_is_mostly_zero_and_fdr_removes_false_positives():
    n = 20
    cells = lattice_cells(n)
    y = np.random.default_rng(21).poisson(20, n * n).astype(float)
    with_fdr = hotspots_from_values(cells, y, HotspotOptions(seed=8, fdr=True)).frame["bin"].to_numpy()
    without = hotspots_from_values(cells, y, HotspotOptions(seed=8, fdr=False)).frame["bin"].to_numpy()
    assert np.mean(with_fdr == 0) >= 0.95
    # two-sided p: about 10 % of noise cells reach the 90 % bin without correction, far fewer with FDR
    assert 0.03 <= np.mean(without != 0) <= 0.2
    assert np.count_nonzero(with_fdr) < np.count_nonzero(without)


def test_analytic_mode_uses_normal_p_values():
    cells = lattice_cells(8)
    y, _block = planted(8, np.random.default_rng(2))
    frame = hotspots_from_values(cells, y, HotspotOptions(permutations=0, fdr=False)).frame
    z, p = frame["z"].to_numpy(), frame["p"].to_numpy()
    from scipy.stats import norm

    np.testing.assert_allclose(p, 2 * norm.sf(np.abs(z)))
    assert ((np.abs(z) >= 2.576) == (np.abs(frame["bin"]) == 3)).all()


def test_same_seed_same_result_other_seed_other_draws():
    cells = lattice_cells(8)
    y = smooth_field(8, np.random.default_rng(1))
    a = hotspots_from_values(cells, y, HotspotOptions(seed=5)).frame
    b = hotspots_from_values(cells, y, HotspotOptions(seed=5)).frame
    c = hotspots_from_values(cells, y, HotspotOptions(seed=6)).frame
    np.testing.assert_array_equal(a["p"], b["p"])
    assert not np.array_equal(a["p"], c["p"])
    np.testing.assert_array_equal(a["z"], c["z"])  # z does not depend on the draws


def test_moran_bins_are_signed_by_cluster_type():
    n = 12
    cells = lattice_cells(n)
    y, block = planted(n, np.random.default_rng(11))
    frame = hotspots_from_values(cells, y, HotspotOptions(method="local_moran", permutations=9999, seed=3)).frame
    assert set(frame.loc[block, "cluster"]) <= {"HH", "HL", ""}
    assert (frame.loc[frame["cluster"] == "HH", "bin"] > 0).all()
    assert (frame.loc[frame["cluster"].isin(["HL", "LH", ""]), "bin"] == 0).all()
    assert (frame.loc[frame["cluster"] == "LL", "bin"] < 0).all()
    assert (frame.loc[core_of(block, n), "cluster"] == "HH").all()


def test_rates_per_100_households_leave_out_cells_without_households():
    rates = rates_per_households(np.array([4.0, 3.0, 2.0]), np.array([200.0, 0.0, np.nan]))
    assert rates[0] == pytest.approx(2.0)
    assert np.isnan(rates[1]) and np.isnan(rates[2])


def test_incidents_per_households_and_weights():
    rng = np.random.default_rng(0)
    hh = [400.0] * 16
    hh[5] = 0.0  # a park: no residents, no rate
    grids = sample.lattice_grids(4, 200.0, households=hh)
    cells = cells_from_grids(grids)
    counts = rng.integers(1, 30, 16)
    counts[10] = 60
    geoms_m = [sample.square_m(c, r, 200.0) for r in range(4) for c in range(4)]
    points = sample.points_in(geoms_m, counts.tolist(), rng)
    weights = np.where(np.arange(len(points)) % 2 == 0, 2.0, 0.5)
    incidents = sample.incidents_frame(points, weight=weights)
    opts = HotspotOptions(per_households=True, weight_column="weight", permutations=99, seed=1)
    frame = hotspots_from_incidents(cells, incidents, opts).frame.set_index("cell_id")
    owner = np.repeat(np.arange(16), counts)
    weighted = np.bincount(owner, weights=weights, minlength=16)
    with np.errstate(divide="ignore"):
        expected = 100.0 * weighted / np.array(hh)
    expected[5] = np.nan
    np.testing.assert_allclose(frame["value"].to_numpy(), expected, equal_nan=True)
    np.testing.assert_array_equal(frame["incidents"].to_numpy(), counts)
    assert np.isnan(frame["z"].iloc[5]) and frame["bin"].iloc[5] == 0
    assert frame["neighbours"].iloc[3] == 3  # a corner square has 3 queen neighbours
    assert frame["neighbours"].iloc[0] == 2  # ... but not the left-out park among them


def test_all_zero_counts_and_constant_values_are_refused():
    cells = lattice_cells(4)
    with pytest.raises(ValidationError, match="same value") as err:
        hotspots_from_values(cells, np.zeros(16), HotspotOptions())
    assert err.value.code == "constant_values"
    far = sample.lonlat([sample.square_m(50, 50, 200.0).centroid])  # outside every cell
    with pytest.raises(ValidationError, match="none of the 1 incident"):
        hotspots_from_incidents(cells, sample.incidents_frame(far), HotspotOptions())


def test_incidents_without_location_are_named():
    cells = lattice_cells(4)
    points = sample.points_in([sample.square_m(0, 0, 200.0)], [3], np.random.default_rng(1))
    incidents = sample.incidents_frame(points)
    incidents.loc[1, "geometry"] = None
    with pytest.raises(ValidationError, match=r"1 incident\(s\) have no location \(EV000002\)"):
        hotspots_from_incidents(cells, incidents, HotspotOptions(), source="events.geojson")


def test_bad_options_are_refused():
    with pytest.raises(ValidationError, match="permutations"):
        HotspotOptions(permutations=5)
    with pytest.raises(ValidationError, match="method"):
        HotspotOptions(method="kde")
