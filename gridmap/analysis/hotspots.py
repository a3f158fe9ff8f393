"""Hotspots: Getis-Ord Gi* and local Moran's I on incident counts, weighted counts or rates per cell.

Why significance testing rather than a heatmap alone: a heatmap shows where incidents are, and
mostly that is where people are. Gi* asks whether a cell *and its neighbours* hold more than
the district-wide share would give them, and says how sure we are (z, p, a -3..+3 bin like
ArcGIS's Hot Spot Analysis); with ``per_households`` the value is a rate per 100 households, so
a dense estate is not a hotspot merely for being dense (requirement gap 3: per-grid rates).

* Statistics come from esda (analytic z-scores: Gi* with a binary self-including neighbourhood,
  local Moran's I with row-standardised weights); significance from a seeded conditional
  permutation test (``inference.permutation_p_values``) or, with ``permutations=0``, the normal
  approximation (see ``inference`` for the p-value conventions).
* The False Discovery Rate correction (on by default, as ArcGIS recommends) keeps the share of
  false hotspots among the reported ones near the confidence level, which matters with
  thousands of cells tested at once.
* Local Moran's I labels significant cells HH/LL (clusters of high or low values) and HL/LH
  (outliers); its ``bin`` is +level for HH, -level for LL and 0 for outliers.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import esda
import geopandas as gpd
import numpy as np
import numpy.typing as npt
from libpysal import weights as lw

from gridmap.analysis.cells import CELL_HOUSEHOLDS, Cells
from gridmap.analysis.incident_input import incident_points, incident_weights
from gridmap.analysis.inference import (
    ResolutionLimit,
    check_permutations,
    confidence_bins,
    normal_p_values,
    permutation_p_values,
    resolution_limit,
    resolution_note,
)
from gridmap.analysis.weights import neighbour_counts, weights_from_cells
from gridmap.errors import ValidationError

Method = Literal["gi_star", "local_moran"]
METHODS: tuple[str, ...] = ("gi_star", "local_moran")
FloatArray = npt.NDArray[np.float64]
#: Output columns besides the cells' own (cell_id, name, households, geometry).
INCIDENTS, VALUE, STATISTIC, Z, P, BIN, CLUSTER, NEIGHBOURS = (
    "incidents", "value", "statistic", "z", "p", "bin", "cluster", "neighbours",
)
MORAN_QUADRANTS: Mapping[int, str] = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
#: Rates are per this many households.
RATE_BASE_HOUSEHOLDS = 100.0


@dataclass(frozen=True)
class HotspotOptions:
    """How to test. ``seed`` fixes the permutations, so the same input and seed give the same p-values."""

    method: str = "gi_star"
    permutations: int = 999
    seed: int = 0
    fdr: bool = True
    per_households: bool = False
    weight_column: str | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValidationError(f"unknown hotspot method {self.method!r}; use {' or '.join(METHODS)}")
        check_permutations(self.permutations)


@dataclass(frozen=True)
class LocalResult:
    """One local statistic per cell with its z-score and p-value."""

    statistic: FloatArray
    z: FloatArray
    p: FloatArray
    quadrant: npt.NDArray[np.int64] | None = None


@dataclass
class HotspotResult:
    """The cells with their values, statistics and bins, and a summary for reports and the API."""

    frame: gpd.GeoDataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def _copy_weights(w: lw.W, transform: str) -> lw.W:
    out = lw.W(dict(w.neighbors), dict(w.weights), id_order=list(w.id_order), silence_warnings=True)
    out.transform = transform
    return out


def gi_star(values: FloatArray, w: lw.W, *, permutations: int, rng: np.random.Generator) -> LocalResult:
    """Getis-Ord Gi* (binary weights, the cell counts as its own neighbour); z analytic, p as configured."""
    y = np.asarray(values, dtype=float)
    binary = _copy_weights(w, "b")
    neighbours = binary.sparse.tocsr()  # taken before esda adds the self-weight to its own copy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = esda.G_Local(y, binary, transform="B", star=True, permutations=0)
    z = np.asarray(g.Zs, dtype=float)
    if permutations:
        p = permutation_p_values(y, neighbours, np.ones(len(y)), permutations=permutations, rng=rng).p
    else:
        p = normal_p_values(z)
    return LocalResult(np.asarray(g.Gs, dtype=float), z, p)


def local_moran(values: FloatArray, w: lw.W, *, permutations: int, rng: np.random.Generator) -> LocalResult:
    """Local Moran's I (row-standardised weights); z from the conditional-randomisation moments."""
    y = np.asarray(values, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lisa = esda.Moran_Local(y, _copy_weights(w, "r"), transformation="r", permutations=0)
        z = (np.asarray(lisa.Is) - np.asarray(lisa.EIc)) / np.sqrt(np.asarray(lisa.VIc))
    z = np.where(np.isfinite(z), z, 0.0)
    if permutations:
        neighbours = _copy_weights(w, "r").sparse
        direction = np.sign(np.asarray(lisa.z, dtype=float))
        p = permutation_p_values(y, neighbours, direction, permutations=permutations, rng=rng).p
    else:
        p = normal_p_values(z)
    return LocalResult(np.asarray(lisa.Is, dtype=float), z, p, np.asarray(lisa.q, dtype=np.int64))


def counts_from_points(
    cells: Cells, points: gpd.GeoSeries, *, weights: FloatArray | None = None
) -> tuple[FloatArray, int]:
    """(sum of weights per cell (1 per point without weights), points outside every cell)."""
    idx = cells.index_of_points(points)
    w = np.ones(len(idx)) if weights is None else np.asarray(weights, dtype=float)
    inside = idx >= 0
    out = np.zeros(len(cells), dtype=float)
    np.add.at(out, idx[inside], w[inside])
    return out, int((~inside).sum())


def rates_per_households(counts: FloatArray, households: FloatArray) -> FloatArray:
    """Incidents per 100 households; NaN where households are unknown or zero (no residents, no rate)."""
    hh = np.asarray(households, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = RATE_BASE_HOUSEHOLDS * np.asarray(counts, dtype=float) / hh
    rate[~(hh > 0)] = np.nan
    return rate


def _check_values(values: FloatArray, cells: Cells, what: str) -> None:
    finite = values[~np.isnan(values)]
    if len(finite) == 0:
        raise ValidationError(f"cells {cells.spec}: no cell has a {what}", code="no_values")
    if np.all(finite == finite[0]):
        detail = "zero" if finite[0] == 0 else f"{finite[0]:g}"
        raise ValidationError(
            f"cells {cells.spec}: all {len(finite)} cells have the same {what} ({detail}); a hotspot test needs"
            " cells that differ (check the time window, the categories and that the incidents lie in the area)",
            code="constant_values",
        )


def hotspots_from_values(
    cells: Cells, values: FloatArray, options: HotspotOptions, *, incidents: FloatArray | None = None
) -> HotspotResult:
    """Test ``values`` (one per cell; NaN = left out, e.g. a rate without households) for hot and cold spots."""
    values = np.asarray(values, dtype=float)
    what = "rate per 100 households" if options.per_households else "value"
    _check_values(values, cells, what)
    keep = ~np.isnan(values)
    tested = _subset(cells, keep)
    w = weights_from_cells(tested)
    rng = np.random.default_rng(options.seed)
    run = gi_star if options.method == "gi_star" else local_moran
    local = run(values[keep], w, permutations=options.permutations, rng=rng)
    bins = confidence_bins(local.z, local.p, fdr=options.fdr)
    cluster = _labels(local, bins, options.method)
    if options.method == "local_moran":  # clusters of high (+) or low (-) values; outliers get 0
        level = np.abs(bins)
        bins = np.where(cluster == "HH", level, np.where(cluster == "LL", -level, 0)).astype(np.int64)
    frame = cells.frame.copy()
    frame[INCIDENTS] = incidents if incidents is not None else np.nan
    frame[VALUE] = values
    for column, data, fill in (
        (STATISTIC, local.statistic, np.nan), (Z, local.z, np.nan), (P, local.p, np.nan),
        (BIN, bins, 0), (CLUSTER, cluster, ""), (NEIGHBOURS, neighbour_counts(w), 0),
    ):
        full = np.full(len(cells), fill, dtype=np.asarray(data).dtype if fill != "" else object)
        full[keep] = data
        frame[column] = full
    summary = {
        "method": options.method, "cells": str(cells.spec), "n_cells": len(cells), "n_tested": int(keep.sum()),
        "permutations": options.permutations, "seed": options.seed, "fdr": options.fdr,
        "per_households": options.per_households, "weight_column": options.weight_column,
        "bins": {str(b): int((frame[BIN] == b).sum()) for b in range(-3, 4)},
        "notes": [n for n in (resolution_note(local.p, options.permutations, fdr=options.fdr),) if n],
        "resolution_limit": _limit_dict(resolution_limit(local.p, options.permutations, fdr=options.fdr)),
    }
    return HotspotResult(frame, summary)


def _limit_dict(limit: ResolutionLimit | None) -> dict[str, Any] | None:
    if limit is None:
        return None
    return {"permutations": limit.permutations, "min_p": limit.min_p, "cells": limit.cells, "needed": limit.needed,
            "suggested": limit.suggested}


def _subset(cells: Cells, keep: npt.NDArray[np.bool_]) -> Cells:
    if keep.all():
        return cells
    return Cells(cells.spec, cells.frame[keep].reset_index(drop=True), cells.working_crs)


def _labels(local: LocalResult, bins: npt.NDArray[np.int64], method: str) -> npt.NDArray[np.object_]:
    """hot/cold for Gi*; HH/LL/HL/LH for local Moran's I; "" where not significant."""
    out = np.full(len(bins), "", dtype=object)
    if method == "gi_star":
        out[bins > 0], out[bins < 0] = "hot", "cold"
        return out
    assert local.quadrant is not None
    significant = bins != 0
    for q, label in MORAN_QUADRANTS.items():
        out[significant & (local.quadrant == q)] = label
    return out


def hotspots_from_incidents(
    cells: Cells, incidents: gpd.GeoDataFrame, options: HotspotOptions, *, source: str = "incidents"
) -> HotspotResult:
    """Count (or weight) incidents per cell, optionally per 100 households, and test them.

    ``cells.frame[households]`` must be filled for ``per_households`` (grids and communities carry
    it; for H3 and squares use ``cells.households_from_buildings``).
    """
    points = incident_points(incidents, source=source)
    weights = incident_weights(incidents, options.weight_column, source=source)
    counts, outside = counts_from_points(cells, points)
    values = counts_from_points(cells, points, weights=weights)[0] if options.weight_column else counts
    if options.per_households:
        households = cells.frame[CELL_HOUSEHOLDS].to_numpy(dtype=float)
        if np.isnan(households).all():
            raise ValidationError(
                f"cells {cells.spec}: no cell has a household count, so rates per 100 households cannot be"
                " computed; give grids/communities with households, or buildings with households",
                code="no_households",
            )
        values = rates_per_households(values, households)
    if counts.sum() == 0:
        raise ValidationError(
            f"{source}: none of the {len(points)} incident(s) lies in the {len(cells)} cells ({cells.spec});"
            " all counts are zero",
            code="constant_values",
        )
    result = hotspots_from_values(cells, values, options, incidents=counts)
    result.summary.update({"n_incidents": len(points), "incidents_outside_cells": outside})
    return result
