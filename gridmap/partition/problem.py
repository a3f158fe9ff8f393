"""The graph problem that every partition strategy solves, and the strategy seam.

The geometry side (``blocks/road_blocks.py``, ``blocks/split.py``) turns a community into *atoms*: road blocks, or
groups of blocks that must stay together (an estate, 小区). This module describes atoms as a
weighted graph; a strategy (``regions/strategy.py`` or a third-party one) returns a label per atom.
``check_partition`` (``certificate/checks.py``) runs on every result, whatever the strategy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from gridmap.errors import ValidationError


@dataclass(frozen=True)
class Band:
    """Household band of a grid: every grid should hold ``min..max`` households, ideally ``target``."""

    min: int
    max: int
    target: int

    def __post_init__(self) -> None:
        if self.min < 0 or self.max <= 0:
            raise ValidationError(f"household band {self.min}..{self.max}: bounds must be positive")
        if self.min > self.max:
            raise ValidationError(f"household band: min ({self.min}) is greater than max ({self.max})")
        if not self.min <= self.target <= self.max:
            raise ValidationError(f"household band: target {self.target} is outside {self.min}..{self.max}")

    def contains(self, households: float) -> bool:
        return self.min <= households <= self.max


@dataclass(frozen=True)
class PartitionProblem:
    """Atoms of one community as a graph.

    Attributes (n atoms, m adjacency edges):
        households: int[n], households per atom.
        xy_m: float[n, 2], atom centroids in a metric CRS (metres), for compactness.
        area_m2: float[n].
        edges: int[m, 2], pairs (i, j), i < j, of atoms that share a boundary of positive length.
        edge_length_m: float[m], length of the shared boundary.
        edge_cut_weight: float[m], cost per metre of putting a grid edge here; low on big roads,
            high where no road separates the atoms. Strategies minimise sum(length * weight) over
            cut edges as their "follow the roads" objective.
        band: the household band.
        n_grids: an exact number of grids (e.g. number of available workers, P-41/P-42) or None
            to choose it from total households.
    """

    households: npt.NDArray[np.int64]
    xy_m: npt.NDArray[np.float64]
    area_m2: npt.NDArray[np.float64]
    edges: npt.NDArray[np.int64]
    edge_length_m: npt.NDArray[np.float64]
    edge_cut_weight: npt.NDArray[np.float64]
    band: Band
    n_grids: int | None = None
    atom_ids: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.households)
        if self.xy_m.shape != (n, 2) or self.area_m2.shape != (n,):
            raise ValidationError("partition problem: per-atom arrays have inconsistent lengths")
        m = len(self.edges)
        if self.edges.shape != (m, 2) if m else False:
            raise ValidationError("partition problem: edges must be an (m, 2) array")
        if self.edge_length_m.shape != (m,) or self.edge_cut_weight.shape != (m,):
            raise ValidationError("partition problem: per-edge arrays have inconsistent lengths")
        if (self.households < 0).any():
            raise ValidationError("partition problem: negative household counts")
        if self.n_grids is not None and self.n_grids < 1:
            raise ValidationError(f"number of grids must be at least 1, got {self.n_grids}")

    @property
    def n(self) -> int:
        return len(self.households)

    @property
    def total_households(self) -> int:
        return int(self.households.sum())


@runtime_checkable
class StrategyResult(Protocol):
    """What a strategy may return instead of bare labels: labels plus diagnostics.

    The engine reads ``diagnostics.region_notes`` (per region label, why it is out of band:
    "proved infeasible: ..." or "heuristic: ...") and ``diagnostics.components`` (per island) when
    they exist; ``regions.RegionResult`` is the built-in example.
    """

    @property
    def labels(self) -> npt.NDArray[np.int64]: ...

    @property
    def diagnostics(self) -> Any: ...


#: A partition strategy: atoms -> a label 0..k-1 per atom (or a ``StrategyResult`` carrying them).
#: Randomness only through ``rng``.
Strategy = Callable[..., npt.NDArray[np.int64] | StrategyResult]
