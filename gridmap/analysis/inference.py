"""Significance for local statistics: conditional permutation p-values, FDR, and ArcGIS-style bins.

Why our own permutation loop instead of esda's: esda seeds NumPy's *global* random state
(``np.random.seed``), which other code in the process shares; here every draw comes from the
``numpy.random.Generator`` the caller passes, so a seed reproduces a run without side effects.
The algorithm is the conditional randomisation of Anselin (1995) as esda implements it: cell i
keeps its own value and its k neighbours' values are replaced by k values drawn without
replacement from the other n-1 cells; one table of draws is shared by all cells (as in esda),
offset per cell so the cells' p-values are not tied to the same draws.

Only the spatial lag sum_j w_ij y_j of each cell changes between permutations, and both Gi* and
local Moran's I are a fixed affine function of that lag for a given cell, so the engine returns
how often the permuted lag is at least as extreme as the observed one, given the direction
(sign) in which the statistic grows with the lag.

p-values are two-sided, so a "90 %" bin means a 10 % false-positive rate per cell under the null,
as in ArcGIS's Hot Spot Analysis (|z| >= 1.65 / 1.96 / 2.58). Without permutations that is the
normal p-value of z. With permutations it is twice the *pseudo p-value* of GeoDa and esda,
(R + 1) / (N + 1) with R = permutations at least as extreme as the observed value in the tail it
lies in (capped at 1); the pseudo p-value alone is one-tailed and, compared with 0.10, would flag
20 % of cells in pure noise. The resolution is 2 / (N + 1): with 999 permutations nothing is
below 0.002, so with the FDR correction over many cells a 99 % bin needs many significant cells
or more permutations (``resolution_note`` says so).

Bins follow ArcGIS: +3/-3 at 99 % confidence (p <= 0.01), +-2 at 95 %, +-1 at 90 %, 0
otherwise; the sign is the sign of z. With the False Discovery Rate correction
(Benjamini-Hochberg), each confidence level uses its own BH critical p-value instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy import stats

from gridmap.errors import ValidationError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
#: (confidence bin, p-value threshold) from the strictest down, as ArcGIS reports them.
CONFIDENCE_LEVELS: tuple[tuple[int, float], ...] = ((3, 0.01), (2, 0.05), (1, 0.10))
#: Upper bound on the elements of one chunk of simulated values (cells x permutations x neighbours); about
#: 2 MB of indices and 4 MB of values, which stay in cache (4 million elements were ~20 % slower).
CHUNK_ELEMENTS = 500_000
MAX_PERMUTATIONS = 99_999


@dataclass(frozen=True)
class PermutationResult:
    """Per cell: two-sided permutation p-value and the mean and standard deviation of the simulated lags."""

    p: FloatArray
    lag_mean: FloatArray
    lag_std: FloatArray


def check_permutations(permutations: int) -> int:
    """0 (analytic p-values only) or 9..99,999 permutations; anything else is a ValidationError."""
    if permutations == 0 or 9 <= permutations <= MAX_PERMUTATIONS:
        return permutations
    raise ValidationError(
        f"--permutations {permutations}: use 0 (normal approximation) or 9 to {MAX_PERMUTATIONS:,} (e.g. 999)"
    )


def permutation_p_values(
    values: FloatArray,
    neighbours: sp.csr_matrix,
    direction: FloatArray,
    *,
    permutations: int,
    rng: np.random.Generator,
) -> PermutationResult:
    """Two-sided permutation p-values of each cell's lag under conditional randomisation.

    ``neighbours`` holds w_ij without the diagonal (CSR, rows = cells); ``direction`` says whether
    the statistic rises (+1) or falls (-1) with the lag, or does not depend on it (0: p = 1). The
    count follows esda: larger = #(sim >= obs) in the statistic's terms, folded to the smaller
    tail, pseudo p = (larger + 1) / (permutations + 1); the result is min(1, 2 * pseudo p). A cell
    without neighbours gets p = 1.
    """
    y = np.asarray(values, dtype=float)
    n = len(y)
    w = neighbours.tocsr()
    counts = np.diff(w.indptr)
    k_max = int(counts.max()) if n else 0
    if n < 2 or k_max == 0 or permutations == 0:
        ones = np.ones(n)
        return PermutationResult(ones, np.full(n, np.nan), np.full(n, np.nan))
    table = np.stack([rng.choice(n - 1, size=k_max, replace=False) for _ in range(permutations)]).astype(np.int32)
    offsets = rng.integers(0, n - 1, size=n).astype(np.int32)
    observed = np.asarray(w @ y, dtype=float)
    larger = np.zeros(n, dtype=np.int64)
    mean, std = np.full(n, np.nan), np.full(n, np.nan)
    for k in np.unique(counts[counts > 0]):
        for rows in _chunks(np.flatnonzero(counts == k), permutations * int(k)):
            sims = _simulated_lags(y, w, rows, int(k), table, offsets)
            signed = direction[rows, None]
            obs = observed[rows, None]
            tol = 1e-9 * np.maximum(1.0, np.abs(obs))
            ge = np.where(signed >= 0, sims >= obs - tol, sims <= obs + tol)
            larger[rows] = ge.sum(axis=1)
            mean[rows], std[rows] = sims.mean(axis=1), sims.std(axis=1)
    folded = np.minimum(larger, permutations - larger)
    p = np.minimum(1.0, 2.0 * (folded + 1.0) / (permutations + 1.0))
    p[(counts == 0) | (direction == 0)] = 1.0
    return PermutationResult(p, mean, std)


def _chunks(rows: IntArray, per_row: int) -> Iterator[IntArray]:
    size = max(1, CHUNK_ELEMENTS // max(1, per_row))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _simulated_lags(
    y: FloatArray, w: sp.csr_matrix, rows: IntArray, k: int, table: Int32Array, offsets: Int32Array
) -> FloatArray:
    """(len(rows), permutations) lags with neighbours drawn from the other n-1 cells (self skipped).

    int32 indices and a subtraction instead of a modulo keep the big (rows, permutations, k) arrays
    cheap; binary weights (Gi*) are a plain sum.
    """
    n = len(y)
    draws = table[None, :, :k] + offsets[rows, None, None]  # both < n - 1, so one wrap at most
    draws -= (n - 1) * (draws >= n - 1)
    draws += draws >= rows[:, None, None].astype(np.int32)  # skip the cell itself
    values = y[draws]
    starts = w.indptr[rows]
    weights = w.data[starts[:, None] + np.arange(k)[None, :]]  # (rows, k), the row's own weights
    if np.all(weights == 1.0):
        return np.asarray(values.sum(axis=2), dtype=float)
    return np.einsum("rpk,rk->rp", values, weights)


def normal_p_values(z: FloatArray) -> FloatArray:
    """Two-sided p-values of z-scores under the normal approximation (NaN z gives p = 1)."""
    z = np.asarray(z, dtype=float)
    p = 2.0 * stats.norm.sf(np.abs(z))
    return np.where(np.isnan(p), 1.0, p)


@dataclass(frozen=True)
class ResolutionLimit:
    """The permutation count, not the data, caps the 99 % bin: nothing can be below ``min_p``."""

    permutations: int
    min_p: float
    cells: int
    #: Cells at ``min_p`` that the FDR correction would need before any reaches 99 %.
    needed: int

    @property
    def suggested(self) -> int:
        """Ten times as many permutations (at least 9999)."""
        return max(9_999, 10 * (self.permutations + 1) - 1)

    def sentence(self) -> str:
        return (
            f"with {self.permutations} permutations no p-value is below {self.min_p:.4g}; after the FDR correction"
            f" over {self.cells} cells the 99 % bin needs at least {self.needed} cells at that p-value: run more"
            f" permutations (e.g. {self.suggested}) to tell strong hotspots apart"
        )


def resolution_limit(p: FloatArray, permutations: int, *, fdr: bool) -> ResolutionLimit | None:
    """A ResolutionLimit when the permutation count caps the confidence bins, else None."""
    if not permutations or not fdr:
        return None
    floor = 2.0 / (permutations + 1.0)
    m = int(np.sum(~np.isnan(p)))
    needed = int(np.ceil(floor * m / CONFIDENCE_LEVELS[0][1]))
    if needed <= 1 or bh_threshold(p, CONFIDENCE_LEVELS[0][1]) > 0:
        return None
    return ResolutionLimit(permutations, floor, m, needed)


def resolution_note(p: FloatArray, permutations: int, *, fdr: bool) -> str | None:
    """A sentence for reports when the permutation count, not the data, caps the confidence bins."""
    limit = resolution_limit(p, permutations, fdr=fdr)
    return None if limit is None else limit.sentence()


def bh_threshold(p: FloatArray, alpha: float) -> float:
    """The Benjamini-Hochberg critical p-value at false discovery rate ``alpha`` (0 when none passes).

    Sort the m p-values; the threshold is the largest p_(k) with p_(k) <= k / m * alpha. Every
    p-value at or below it is declared significant. Same rule as ``esda.fdr``.
    """
    ps = np.sort(np.asarray(p, dtype=float)[~np.isnan(p)])
    m = len(ps)
    if m == 0:
        return 0.0
    passing = ps <= alpha * np.arange(1, m + 1) / m
    if not passing.any():
        return 0.0
    return float(ps[np.flatnonzero(passing).max()])


def confidence_bins(z: FloatArray, p: FloatArray, *, fdr: bool) -> IntArray:
    """-3..+3 per cell: the highest confidence level whose (FDR-corrected) threshold p meets, signed by z."""
    z = np.asarray(z, dtype=float)
    p = np.asarray(p, dtype=float)
    bins = np.zeros(len(p), dtype=np.int64)
    for level, alpha in reversed(CONFIDENCE_LEVELS):  # weakest first, stronger levels overwrite
        threshold = bh_threshold(p, alpha) if fdr else alpha
        hit = (p <= threshold) & ~np.isnan(z) & (z != 0)
        bins[hit] = level * np.sign(z[hit]).astype(np.int64)
    return bins
