"""FDR thresholds, confidence bins and the permutation engine on cases with known answers."""

from __future__ import annotations

import esda
import numpy as np
import pytest
import scipy.sparse as sp

from gridmap.analysis.inference import (
    bh_threshold,
    check_permutations,
    confidence_bins,
    normal_p_values,
    permutation_p_values,
    resolution_note,
)
from gridmap.errors import ValidationError


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.10])
def test_bh_decisions_equal_esda_fdr(seed: int, alpha: float):
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(0, 1, 180), rng.uniform(0, 0.004, 20)])  # noise plus some real effects
    ours = p <= bh_threshold(p, alpha)
    theirs = p < esda.fdr(p, alpha)
    np.testing.assert_array_equal(ours, theirs)


def test_bh_threshold_by_hand():
    # sorted: 0.001 (<= 1/5*0.05=0.01), 0.008 (<= 0.02), 0.035 (> 0.03), 0.038 (<= 0.04), 0.9 (> 0.05)
    p = np.array([0.9, 0.038, 0.001, 0.035, 0.008])
    assert bh_threshold(p, 0.05) == 0.038  # step-up: the largest passing rank wins, 0.035 comes along
    assert bh_threshold(np.array([0.5, 0.6]), 0.05) == 0.0


def test_confidence_bins_without_and_with_fdr():
    z = np.array([3.0, -2.5, 1.8, 0.5, 2.0])
    p = np.array([0.004, 0.03, 0.08, 0.6, 0.011])
    np.testing.assert_array_equal(confidence_bins(z, p, fdr=False), [3, -2, 1, 0, 2])
    # BH over 5 tests: 99 %: 0.004 <= 1/5*0.01? no (0.002) -> nobody; 95 %: 0.004<=0.01, 0.011<=0.02, 0.03<=0.03
    np.testing.assert_array_equal(confidence_bins(z, p, fdr=True), [2, -2, 1, 0, 2])


def test_permutation_p_values_on_a_star_graph_match_the_exact_tail():
    """Cell 0 has 2 neighbours among 10 cells; its lag is the top value pair: P = 1/C(9,2) each tail."""
    y = np.array([0.0, 9.0, 8.0, 1, 2, 3, 4, 5, 6, 7])
    w = sp.csr_matrix(([1.0, 1.0], ([0, 0], [1, 2])), shape=(10, 10))
    result = permutation_p_values(y, w, np.ones(10), permutations=99_999, rng=np.random.default_rng(0))
    # one-tailed exact p = 1/36 (the only pair summing to >= 17 among 9 values); two-sided 2/36
    assert result.p[0] == pytest.approx(2 / 36, abs=0.004)
    assert (result.p[1:] == 1.0).all()  # no neighbours: nothing to test
    assert result.lag_mean[0] == pytest.approx(2 * np.mean(y[1:]), rel=0.01)


def test_direction_zero_means_no_evidence():
    y = np.arange(6, dtype=float)
    w = sp.csr_matrix(np.eye(6, k=1) + np.eye(6, k=-1))
    result = permutation_p_values(y, w, np.zeros(6), permutations=99, rng=np.random.default_rng(0))
    assert (result.p == 1.0).all()


def test_normal_p_values_and_checks():
    np.testing.assert_allclose(normal_p_values(np.array([0.0, 1.959964, np.nan])), [1.0, 0.05, 1.0], atol=1e-6)
    assert check_permutations(0) == 0 and check_permutations(999) == 999
    with pytest.raises(ValidationError):
        check_permutations(3)
    assert resolution_note(np.full(500, 0.002), 999, fdr=True) is None  # every cell significant: BH passes
    note = resolution_note(np.r_[np.full(5, 0.002), np.full(495, 0.8)], 999, fdr=True)
    assert note is not None and "0.002" in note and "100 cells" in note
