"""Partition one community into grids: the pipeline from files (or a store) to certified grids.

Steps, all metric work in a projected working CRS (metres, m²):

1. dedicated grids for units (``grids/dedicated.py``) are cut out of the community (P-29);
2. the rest is cut into road blocks (``blocks/road_blocks.py``), buildings assigned whole (``blocks/households.py``);
3. estates that fit the band become one atom, bigger ones get their own grids (``blocks/estates.py``);
   blocks over ``band.max`` are split (``blocks/split.py``) into atoms (``blocks/atoms.py``);
4. ``grids/solve.py`` groups the atoms (connected parts; estates with grids of their own, with the small
   parts they enclose) and runs the strategy (default ``regions.strategy.region_result_from_problem``) on
   each group; an estate or split block that fits no grids of its own is tried both with its parts
   joining neighbours and kept whole; every grid out of band gets a reason that says whether it is
   proved infeasible or only the heuristic's best (``grids/flags.py``);
5. grids are assembled, re-noded into an exact coverage, numbered west->east, north->south,
   converted to the storage CRS (``grids/assemble.py``), certified by ``certificate.checks.check_partition``
   and measured (``grids/quality.py``).

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

from gridmap.codes import PROVISIONAL_COMMUNITY_CODE, validate_code
from gridmap.config import HouseholdBand, Settings
from gridmap.crs import working_crs_for
from gridmap.errors import ValidationError
from gridmap.model import AreaLevel
from gridmap.partition.blocks.atoms import atoms_from_blocks
from gridmap.partition.blocks.estates import estates_from_input, plan_estates
from gridmap.partition.blocks.households import (
    HOUSEHOLDS,
    BuildingAssignment,
    assign_buildings_to_blocks,
    buildings_from_input,
)
from gridmap.partition.blocks.road_blocks import (
    BLOCK_ID,
    MINOR_ROAD_CLASSES,
    block_edges_from_blocks,
    blocks_from_roads,
    lines_from_roads,
    polygon_from_input,
)
from gridmap.partition.certificate.checks import projected
from gridmap.partition.grids import assemble, quality
from gridmap.partition.grids.dedicated import DedicatedPlan, DedicatedRules, plan_dedicated, units_from_input
from gridmap.partition.grids.exact_edges import frame_with_exact_outer_edges
from gridmap.partition.grids.solve import solution_from_atoms
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
    allow_straddling: bool = False,
) -> PartitionResult:
    """Partition a community into base and dedicated grids within the household ``band``.

    ``boundary`` is a (multi)polygon in the storage CRS or a GeoDataFrame/GeoSeries with a CRS;
    ``roads`` need ``road_class`` (or OSM ``highway``), ``buildings`` a ``households`` count each.
    ``n_grids`` fixes the number of base grids (P-41/P-42). ``sources`` maps layer names
    (boundary, roads, buildings, estates, units) to file names for error messages.
    ``allow_straddling`` makes buildings cut by grid edges a warning instead of a failure.
    """
    started = time.perf_counter()
    if community_code != PROVISIONAL_COMMUNITY_CODE:  # a what-if on a boundary without a code yet
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
    assembled.grids = frame_with_exact_outer_edges(assembled.grids, inputs.boundary)
    certificate = _certify(assembled, inputs.boundary, problem_band, allow_straddling)
    report = quality.report_from_partition(
        assembled, result, problem_band, runtime_s=time.perf_counter() - started, seed=seed, n_grids=n_grids
    )
    report["buildings_kept_whole"] = assembled.buildings_moved_whole
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
    """Validate the inputs, drop Z coordinates (grids are 2-D) and project to the working CRS (the
    boundary densified first: its stored edges are straight in lon/lat, not in metres)."""
    geom = shapely.force_2d(polygon_from_input(boundary, source=names["boundary"]))
    src = boundary.crs if isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries) else None
    if src is None:
        src = pyproj.CRS.from_epsg(settings.storage_epsg)
    stored = stored_boundary(geom, pyproj.CRS.from_user_input(src), settings.storage_epsg)
    crs = working_crs_for(gpd.GeoSeries([stored], crs=settings.storage_epsg))
    # densified exactly as the certificate does, so grids follow the stored (lon/lat) edges
    area = projected(gpd.GeoDataFrame(geometry=[stored], crs=settings.storage_epsg), crs).geometry.iloc[0]
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


#: Longest boundary edge (m) kept when a projected boundary is converted to the storage CRS.
BOUNDARY_SEGMENT_M = 5.0


def stored_boundary(geom: BaseGeometry, src: pyproj.CRS, storage_epsg: int) -> BaseGeometry:
    """The boundary in the storage CRS, following the same line as in its own CRS.

    An edge is straight in the CRS it was drawn in. Converting only the vertices of a projected
    boundary (a survey office's Gauss-Krüger file, ETRS-TM35FIN) to lon/lat would make each long
    edge straight in lon/lat instead, which lies up to decimetres off the drawn one; so a
    projected boundary is first cut into edges of at most ``BOUNDARY_SEGMENT_M``.
    """
    if src.equals(pyproj.CRS.from_epsg(storage_epsg)):
        return geom
    if src.is_projected and all(a.unit_name in ("metre", "meter") for a in src.axis_info[:2]):
        geom = shapely.segmentize(geom, BOUNDARY_SEGMENT_M)
    return gpd.GeoSeries([geom], crs=src).to_crs(storage_epsg).iloc[0]


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
    solution = solution_from_atoms(atom_set.atoms, atom_edges, band, n_grids=n_grids,
                                   strategy=strategy or _default_strategy(), rng=rng)  # fmt: skip
    return assemble.Pipeline(
        blocks=blocks,
        buildings=counted,
        assignment=assignment,
        atoms=atom_set.atoms,
        atom_edges=atom_edges,
        building_atom=atom_set.building_atom,
        base_buildings=base_buildings,
        dedicated_buildings=dedicated_of_building,
        groups=solution.groups,
        labels=solution.labels,
        solved=solution.solved,
        dedicated=dplan,
        estates=eplan,
        splits=atom_set.splits,
        crs=inputs.crs,
        notes=solution.notes,
        islands=solution.islands,
        flexible=solution.flexible,
        strategy_s=solution.strategy_s,
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


def _default_strategy() -> Strategy:
    from gridmap.partition.regions.strategy import region_result_from_problem

    return region_result_from_problem


def _certify(assembled: assemble.Assembled, boundary: BaseGeometry, band: Band, allow_straddling: bool) -> Any:
    """The coverage certificate of ``checks.check_partition`` (run on every result)."""
    from gridmap.partition.certificate.checks import check_partition

    return check_partition(
        assembled.grids, boundary, buildings=assembled.buildings, band=band, allow_straddling=allow_straddling
    )


__all__ = ["PartitionResult", "band_from", "partition_community"]
