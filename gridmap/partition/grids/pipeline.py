"""The engine's intermediate records: what was computed before assembly, and the grids after it.

Why a module of its own: assembly (``assemble``), flagging (``flags``) and measuring (``quality``)
all read these records; keeping them here lets each of those import the types without importing
one another (no import cycle). Lengths and areas are in metres of the working CRS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.model import GridKind
from gridmap.partition.blocks.estates import EstatePlan
from gridmap.partition.blocks.households import BuildingAssignment
from gridmap.partition.grids.dedicated import DedicatedPlan


@dataclass
class Group:
    """Atoms the strategy partitions together: a connected part, or an oversize estate."""

    key: str
    atoms: npt.NDArray[np.int64]
    households: int
    estate: str | None


@dataclass
class Pipeline:
    """Everything the engine computed before assembly (working CRS)."""

    blocks: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame  # counted buildings, with block_id (-1: in a dedicated site)
    assignment: BuildingAssignment
    atoms: gpd.GeoDataFrame
    atom_edges: pd.DataFrame
    building_atom: npt.NDArray[np.int64]  # aligned with base buildings
    base_buildings: gpd.GeoDataFrame
    dedicated_buildings: npt.NDArray[np.int64]  # aligned with ``buildings``: dedicated grid index or -1
    groups: list[Group]
    labels: npt.NDArray[np.int64]
    solved: list[int]
    dedicated: DedicatedPlan
    estates: EstatePlan
    splits: list[dict[str, Any]]
    crs: pyproj.CRS
    #: Region label -> why it is out of band ("proved infeasible: ..." / "heuristic: ...").
    notes: dict[int, str] = field(default_factory=dict)
    #: Per island the strategy reported: households, grids, status, reason (``solve.Solution``).
    islands: list[dict[str, Any]] = field(default_factory=list)
    #: Estates and blocks that fit no in-band grids of their own, and what was chosen for them.
    flexible: list[dict[str, Any]] = field(default_factory=list)
    strategy_s: float = 0.0


@dataclass(frozen=True)
class GridMeta:
    community_code: str
    community_name: str
    storage_epsg: int


@dataclass
class Draft:
    """A grid before numbering: its atoms (base) or dedicated plan index, and its flags."""

    kind: GridKind
    atoms: list[int] = field(default_factory=list)
    group: int | None = None
    label: int | None = None  # the strategy's region label of a base grid
    dedicated: int | None = None
    geometry: BaseGeometry = field(default_factory=shapely.Polygon)
    flags: list[dict[str, str]] = field(default_factory=list)

    def flag(self, code: str, message: str) -> None:
        self.flags.append({"code": code, "message": message})


@dataclass
class Assembled:
    """Grids and companions in the storage CRS, plus the metric grids for measurements."""

    grids: gpd.GeoDataFrame
    grids_metric: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame
    atoms: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    grid_edges: gpd.GeoDataFrame
    grid_edges_metric: pd.DataFrame
    #: The strategy's region label of each base grid -> the grid's code.
    code_of_label: dict[int, str] = field(default_factory=dict)
    #: Buildings a road or cut line crossed, given whole to the grid of their representative point.
    buildings_moved_whole: int = 0
