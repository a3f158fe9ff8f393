"""Partition one community into grids: the pipeline from files (or a store) to certified grids.

Steps, all metric work in a projected working CRS (metres, m²):

1. dedicated grids for units (``dedicated.py``) are cut out of the community (P-29);
2. the rest is cut into road blocks (``blocks.py``), buildings assigned whole (``households.py``);
3. estates that fit the band become one atom, bigger ones get their own grids (``estates.py``);
   blocks over ``band.max`` are split (``split.py``) into atoms (``atoms.py``);
4. the strategy (default ``regions.regions_from_problem``) labels the atoms of every connected
   part (and of every oversize estate) separately; parts below ``band.min`` join a neighbour;
5. grids are assembled, re-noded into an exact coverage, numbered west->east, north->south,
   converted to the storage CRS (``assemble.py``), certified by ``checks.check_partition`` and
   measured (``quality.py``).

Nothing is hidden: infeasible input yields flagged grids and report entries, bad input raises
``ValidationError`` naming the layer/file, the feature and the rule.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.codes import validate_code
from gridmap.config import HouseholdBand, Settings
from gridmap.crs import working_crs_for
from gridmap.errors import PartitionError, ValidationError
from gridmap.model import AreaLevel
from gridmap.partition import assemble, quality
from gridmap.partition.atoms import ESTATE_GROUP, atoms_from_blocks, problem_from_atoms
from gridmap.partition.blocks import (
    BLOCK_ID,
    MINOR_ROAD_CLASSES,
    block_edges_from_blocks,
    blocks_from_roads,
    lines_from_roads,
    polygon_from_input,
)
from gridmap.partition.dedicated import DedicatedPlan, DedicatedRules, plan_dedicated, units_from_input
from gridmap.partition.estates import estates_from_input, plan_estates
from gridmap.partition.faces import components_from_pairs
from gridmap.partition.households import (
    HOUSEHOLDS,
    BuildingAssignment,
    assign_buildings_to_blocks,
    buildings_from_input,
)
from gridmap.partition.problem import Band, Strategy


@dataclass
class PartitionResult:
    """Grids and everything needed to review them. Frames are in the storage CRS (lon/lat).

    ``grids`` has the columns of ``schema.GRIDS_SPEC`` (``generation_id`` is 0 until staged);
    ``blocks`` the road blocks with households; ``atoms`` what the strategy grouped, with their
    ``grid_code``; ``buildings`` every counted building with its ``grid_code``; ``grid_edges`` the
    lines between neighbouring grids with the road class they follow (None = a cut off-road).
    """

    grids: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame
    atoms: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    grid_edges: gpd.GeoDataFrame
    certificate: Any
    report: dict[str, Any]
    band: Band

    @property
    def ok(self) -> bool:
        return bool(self.certificate.ok)


@dataclass
class _Inputs:
    area: BaseGeometry
    boundary: BaseGeometry
    crs: pyproj.CRS
    roads: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    estates: gpd.GeoDataFrame
    units: gpd.GeoDataFrame


def band_from(band: Band | HouseholdBand) -> Band:
    """A problem Band from a Band or a settings preset."""
    if isinstance(band, Band):
        return band
    return Band(band.min_households, band.max_households, band.target_households)


def partition_community(
    boundary: Any,
    roads: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame,
    *,
    community_code: str,
    community_name: str,
    band: Band | HouseholdBand,
    settings: Settings,
    estates: gpd.GeoDataFrame | None = None,
    units: gpd.GeoDataFrame | None = None,
    n_grids: int | None = None,
    seed: int = 0,
    strategy: Strategy | None = None,
    dedicated_rules: DedicatedRules | None = None,
    sources: Mapping[str, str] | None = None,
) -> PartitionResult:
    """Partition a community into base and dedicated grids within the household ``band``.

    ``boundary`` is a (multi)polygon in the storage CRS or a GeoDataFrame/GeoSeries with a CRS;
    ``roads`` need ``road_class`` (or OSM ``highway``), ``buildings`` a ``households`` count each.
    ``n_grids`` fixes the number of base grids (P-41/P-42). ``sources`` maps layer names
    (boundary, roads, buildings, estates, units) to file names for error messages.
    """
    started = time.perf_counter()
    validate_code(community_code, AreaLevel.COMMUNITY)
    if not community_name.strip():
        raise ValidationError(f"community {community_code}: the community name is empty")
    if n_grids is not None and n_grids < 1:
        raise ValidationError(f"--grids must be at least 1, got {n_grids}")
    problem_band = band_from(band)
    rng = np.random.default_rng(seed)
    names = {k: (sources or {}).get(k, k) for k in ("boundary", "roads", "buildings", "estates", "units")}
    inputs = _prepare(boundary, roads, buildings, estates, units, settings=settings, names=names)
    result = _run(inputs, problem_band, settings, rng, n_grids, strategy, dedicated_rules or DedicatedRules(), names)
    meta = assemble.GridMeta(community_code, community_name, settings.storage_epsg)
    assembled = assemble.assemble_grids(result, inputs.area, meta, problem_band, roads=inputs.roads)
    certificate = _certify(assembled, inputs.boundary, problem_band)
    report = quality.report_from_partition(
        assembled, result, problem_band, runtime_s=time.perf_counter() - started, seed=seed, n_grids=n_grids
    )
    return PartitionResult(
        grids=assembled.grids,
        blocks=assembled.blocks,
        atoms=assembled.atoms,
        buildings=assembled.buildings,
        grid_edges=assembled.grid_edges,
        certificate=certificate,
        report=report,
        band=problem_band,
    )


def _prepare(
    boundary: Any,
    roads: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame,
    estates: gpd.GeoDataFrame | None,
    units: gpd.GeoDataFrame | None,
    *,
    settings: Settings,
    names: Mapping[str, str],
) -> _Inputs:
    """Validate the inputs, drop Z coordinates (grids are 2-D) and project to the working CRS."""
    geom = shapely.force_2d(polygon_from_input(boundary, source=names["boundary"]))
    src = boundary.crs if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries) else None
    if src is None:
        src = pyproj.CRS.from_epsg(settings.storage_epsg)
    stored = gpd.GeoSeries([geom], crs=src).to_crs(settings.storage_epsg).iloc[0]
    crs = working_crs_for(gpd.GeoSeries([stored], crs=settings.storage_epsg))
    area = gpd.GeoSeries([stored], crs=settings.storage_epsg).to_crs(crs).iloc[0]
    if not isinstance(buildings, gpd.GeoDataFrame):
        raise ValidationError(f"{names['buildings']}: buildings must be a layer with geometry")
    road_lines = lines_from_roads(roads, source=names["roads"])
    if len(road_lines):
        if road_lines.crs is None:
            raise ValidationError(f"{names['roads']}: the road layer has no CRS")
        road_lines = road_lines.to_crs(crs)
    else:
        road_lines = road_lines.set_crs(crs, allow_override=True)
    road_lines.geometry = shapely.force_2d(np.asarray(road_lines.geometry.values, dtype=object))
    flat = buildings.set_geometry(
        gpd.GeoSeries(shapely.force_2d(np.asarray(buildings.geometry.values, dtype=object)), crs=buildings.crs,
                      index=buildings.index)
    )  # fmt: skip
    return _Inputs(
        area=area,
        boundary=stored,
        crs=crs,
        roads=road_lines,
        buildings=buildings_from_input(flat, crs=crs, source=names["buildings"]),
        estates=estates_from_input(estates, crs=crs, source=names["estates"]),
        units=units_from_input(units, crs=crs, source=names["units"]),
    )


def _run(
    inputs: _Inputs,
    band: Band,
    settings: Settings,
    rng: np.random.Generator,
    n_grids: int | None,
    strategy: Strategy | None,
    rules: DedicatedRules,
    names: Mapping[str, str],
) -> assemble.Pipeline:
    """Dedicated grids, blocks, atoms and labels, all in the working CRS."""
    dplan = plan_dedicated(
        inputs.units,
        inputs.buildings,
        inputs.area,
        band=band,
        persons_per_household=settings.persons_per_household,
        rules=rules,
    )
    blocks, assignment, dedicated_of_building = _blocks_and_buildings(inputs, dplan, settings, names)
    counted = assignment.buildings
    base_buildings = counted[dedicated_of_building < 0].reset_index(drop=True)
    edges = block_edges_from_blocks(blocks, inputs.roads)
    eplan = plan_estates(blocks, edges, inputs.estates, band=band)
    minor = lines_from_roads(inputs.roads, classes=MINOR_ROAD_CLASSES)
    atom_set = atoms_from_blocks(
        blocks,
        base_buildings,
        eplan,
        band=band,
        rng=rng,
        minor_ways=np.asarray(minor.geometry.values, dtype=object),
        sliver_area_m2=settings.sliver_area_m2,
    )
    atom_edges = block_edges_from_blocks(atom_set.atoms, inputs.roads, id_column="atom_id")
    groups = _groups_of(atom_set.atoms, atom_edges)
    labels, solved = _solve(atom_set.atoms, atom_edges, groups, band, n_grids, strategy or _default_strategy(), rng)
    return assemble.Pipeline(
        blocks=blocks,
        buildings=counted,
        assignment=assignment,
        atoms=atom_set.atoms,
        atom_edges=atom_edges,
        building_atom=atom_set.building_atom,
        base_buildings=base_buildings,
        dedicated_buildings=dedicated_of_building,
        groups=groups,
        labels=labels,
        solved=solved,
        dedicated=dplan,
        estates=eplan,
        splits=atom_set.splits,
        crs=inputs.crs,
    )


def _blocks_and_buildings(
    inputs: _Inputs, dplan: DedicatedPlan, settings: Settings, names: Mapping[str, str]
) -> tuple[gpd.GeoDataFrame, BuildingAssignment, npt.NDArray[np.int64]]:
    """Road blocks of the base area (community minus dedicated sites) with their households, the
    building assignment (``block_id`` -1 for buildings in a dedicated site) and, per counted
    building, the index of its dedicated grid or -1."""
    base_area = inputs.area
    if dplan.grids:
        base_area = assemble.polygonal(shapely.difference(inputs.area, dplan.area))
    blocks = _blocks_of(base_area, inputs, settings, names)
    assignment = assign_buildings_to_blocks(inputs.buildings, _cells_of(blocks, dplan), area=inputs.area)
    counted = assignment.buildings
    cell = counted[BLOCK_ID].to_numpy(dtype=np.int64)
    counted[BLOCK_ID] = np.where(cell < len(blocks), cell, -1)
    base = cell < len(blocks)
    blocks[HOUSEHOLDS] = np.bincount(
        cell[base], weights=counted[HOUSEHOLDS].to_numpy(dtype=float)[base], minlength=len(blocks)
    ).astype(np.int64)
    return blocks, assignment, np.where(base, -1, cell - len(blocks)).astype(np.int64)


def _blocks_of(
    base_area: BaseGeometry, inputs: _Inputs, settings: Settings, names: Mapping[str, str]
) -> gpd.GeoDataFrame:
    if base_area.is_empty:
        return gpd.GeoDataFrame({BLOCK_ID: pd.Series([], dtype=np.int64)}, geometry=[], crs=inputs.crs)
    return blocks_from_roads(
        base_area, inputs.roads, sliver_area_m2=settings.sliver_area_m2, crs=inputs.crs, source=names["boundary"]
    )


def _cells_of(blocks: gpd.GeoDataFrame, dplan: DedicatedPlan) -> gpd.GeoDataFrame:
    """Blocks followed by dedicated sites (ids continue after the blocks) for building assignment."""
    if not dplan.grids:
        return blocks
    n = len(blocks)
    sites = gpd.GeoDataFrame(
        {BLOCK_ID: np.arange(n, n + len(dplan.grids), dtype=np.int64)},
        geometry=[g.geometry for g in dplan.grids],
        crs=blocks.crs,
    )
    return pd.concat([blocks[[BLOCK_ID, "geometry"]], sites], ignore_index=True)


def _groups_of(atoms: gpd.GeoDataFrame, edges: pd.DataFrame) -> list[assemble.Group]:
    """Oversize estates each form a group; the other atoms form one group per connected part."""
    n = len(atoms)
    estate = atoms[ESTATE_GROUP].tolist()
    kind = atoms["atom_kind"].tolist()
    own: dict[str, list[int]] = {}
    for i, key in enumerate(estate):
        if isinstance(key, str) and kind[i] != "estate":
            own.setdefault(key, []).append(i)
    in_estate = np.zeros(n, dtype=bool)
    for ids in own.values():
        in_estate[ids] = True
    a = edges["block_a"].to_numpy(dtype=np.int64)
    b = edges["block_b"].to_numpy(dtype=np.int64)
    free = ~in_estate[a] & ~in_estate[b]
    comp = components_from_pairs(n, a[free], b[free])
    hh = atoms[HOUSEHOLDS].to_numpy(dtype=np.int64)
    groups = [assemble.Group(f"estate:{k}", np.asarray(v, dtype=np.int64), int(hh[v].sum()), k) for k, v in own.items()]
    for c in np.unique(comp[~in_estate]) if n else []:
        members = np.flatnonzero((comp == c) & ~in_estate)
        groups.append(assemble.Group(f"part:{len(groups)}", members, int(hh[members].sum()), None))
    return groups


def _default_strategy() -> Strategy:
    from gridmap.partition.regions import regions_from_problem

    return regions_from_problem


def _allocate(groups: list[assemble.Group], solvable: list[int], n_grids: int | None) -> dict[int, int | None]:
    """Grids per solvable group: None (strategy decides) or a share of ``n_grids`` by households."""
    if n_grids is None:
        return dict.fromkeys(solvable)
    weights = np.asarray([max(groups[g].households, 1) for g in solvable], dtype=float)
    share = weights / weights.sum() * max(n_grids, len(solvable))
    base = np.maximum(np.floor(share).astype(int), 1)
    for i in np.argsort(-(share - np.floor(share)), kind="stable")[: max(0, n_grids - int(base.sum()))]:
        base[i] += 1
    return {g: min(int(k), len(groups[g].atoms)) for g, k in zip(solvable, base, strict=True)}


def _solve(
    atoms: gpd.GeoDataFrame,
    edges: pd.DataFrame,
    groups: list[assemble.Group],
    band: Band,
    n_grids: int | None,
    strategy: Strategy,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.int64], list[int]]:
    """Global grid label per atom (-1: left for joining a neighbour) and the solved group indices."""
    labels = np.full(len(atoms), -1, dtype=np.int64)
    big = [i for i, g in enumerate(groups) if g.households >= band.min or g.estate is not None]
    if not big and groups:
        big = [max(range(len(groups)), key=lambda i: (groups[i].households, -i))]
    allocation = _allocate(groups, big, n_grids)
    offset = 0
    for gi in big:
        local = _labels_of_group(atoms, edges, groups[gi], band, allocation[gi], strategy, rng)
        labels[groups[gi].atoms] = local + offset
        offset += int(local.max()) + 1
    return labels, big


def _labels_of_group(
    atoms: gpd.GeoDataFrame,
    edges: pd.DataFrame,
    group: assemble.Group,
    band: Band,
    n_grids: int | None,
    strategy: Strategy,
    rng: np.random.Generator,
) -> npt.NDArray[np.int64]:
    """Run the strategy on one connected group of atoms; labels relabelled to 0..k-1."""
    if len(group.atoms) == 1 or group.households < band.min:
        return np.zeros(len(group.atoms), dtype=np.int64)
    problem = problem_from_atoms(atoms.iloc[group.atoms], edges, band=band, n_grids=n_grids)
    raw = np.asarray(strategy(problem, rng=rng))
    if raw.shape != (problem.n,) or not np.issubdtype(raw.dtype, np.integer) or (raw < 0).any():
        raise PartitionError(
            f"partition strategy returned {raw.shape} labels of type {raw.dtype} for {problem.n} atoms;"
            " it must return one non-negative integer label per atom"
        )
    _, relabelled = np.unique(raw, return_inverse=True)
    return relabelled.astype(np.int64)


def _certify(assembled: assemble.Assembled, boundary: BaseGeometry, band: Band) -> Any:
    """The coverage certificate of ``checks.check_partition`` (run on every result)."""
    from gridmap.partition.checks import check_partition

    return check_partition(assembled.grids, boundary, buildings=assembled.buildings, band=band)


__all__ = ["PartitionResult", "band_from", "partition_community"]
