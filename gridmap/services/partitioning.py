"""Partition in store mode: read a community's inputs, fan out the work, stage generations.

Reading and writing happen in this process (a store connection is not picklable); only the pure
``partition_community`` computation is sent through the executor, so a city-wide ``--all`` run
moves to local processes or a Dask cluster without code changes. Results are dry runs unless
``commit=True``, in which case each community's grids become a new *staged* generation
(see ``services.generations``), never directly the active one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from gridmap import schema
from gridmap.config import Settings
from gridmap.errors import NotFoundError, ValidationError
from gridmap.executors import Executor, make_executor
from gridmap.io.readers import read_source as read_source
from gridmap.model import AreaLevel
from gridmap.partition.blocks.households import HOUSEHOLDS as HOUSEHOLDS
from gridmap.partition.certificate.checks import check_partition
from gridmap.partition.engine import PartitionResult, partition_community
from gridmap.partition.maps.preview import map_from_result as map_from_result
from gridmap.partition.problem import Band
from gridmap.services.delivery import DeliveryError, mismatches
from gridmap.services.generations import stage_generation
from gridmap.store.base import Store, StoreTransaction

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class CommunityInputs:
    """Everything ``partition_community`` needs for one community, picklable for executors."""

    code: str
    name: str
    boundary: BaseGeometry
    roads: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    estates: gpd.GeoDataFrame | None
    units: gpd.GeoDataFrame | None
    band: Band | None = None  # the community's own band when the run gives none


@dataclass
class CommunityOutcome:
    code: str
    name: str
    result: PartitionResult
    generation_id: int | None = None

    def summary(self) -> dict[str, Any]:
        grids = self.result.grids
        return {
            "community_code": self.code,
            "community_name": self.name,
            "grids": len(grids),
            "households": int(grids["households"].fillna(0).sum()),
            "certificate_ok": bool(self.result.certificate.ok),
            "generation_id": self.generation_id,
            "report": self.result.report,
        }


@dataclass
class PartitionRun:
    outcomes: list[CommunityOutcome] = field(default_factory=list)
    committed: bool = False

    @property
    def ok(self) -> bool:
        return all(o.result.certificate.ok for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        return {"committed": self.committed, "ok": self.ok, "communities": [o.summary() for o in self.outcomes]}


def community_codes(store: Store, *, street_code: str | None = None) -> list[str]:
    """Codes of every community in the store (optionally of one street), sorted."""
    where: dict[str, Any] = {"level": AreaLevel.COMMUNITY.value}
    if street_code is not None:
        where["parent_code"] = street_code
    areas = store.read(schema.AREAS, where=where, columns=["code"])
    return sorted(str(c) for c in areas["code"])


def _clip_to(frame: pd.DataFrame, boundary: BaseGeometry) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(frame, geometry=schema.GEOMETRY, crs=getattr(frame, "crs", None))
    return gdf.loc[gdf.intersects(boundary)].reset_index(drop=True)


def inputs_from_store(store: Store, community_code: str, *, band: Band | None = None) -> CommunityInputs:
    """Read one community's boundary, roads, buildings, estates and units (bbox query, then exact filter)."""
    rows = store.read(schema.AREAS, where={"code": community_code, "level": AreaLevel.COMMUNITY.value})
    if rows.empty:
        raise NotFoundError(f"community {community_code} is not in the store")
    row = rows.iloc[0]
    boundary: BaseGeometry = row[schema.GEOMETRY]
    bbox = tuple(float(v) for v in boundary.bounds)
    assert len(bbox) == 4
    roads = _clip_to(store.read(schema.ROADS, bbox=bbox), boundary)
    buildings = store.read(schema.BUILDINGS, bbox=bbox)
    buildings = gpd.GeoDataFrame(buildings, geometry=schema.GEOMETRY, crs=getattr(buildings, "crs", None))
    # a building belongs to the community that holds its representative point (never split)
    buildings = buildings.loc[buildings.representative_point().within(boundary)].reset_index(drop=True)
    estates = _clip_to(store.read(schema.ESTATES, bbox=bbox), boundary)
    units = _clip_to(store.read(schema.UNITS, bbox=bbox), boundary)
    return CommunityInputs(
        code=community_code,
        name=str(row["name"]),
        boundary=boundary,
        roads=roads,
        buildings=buildings,
        estates=estates if len(estates) else None,
        units=units if len(units) else None,
        band=band,
    )


@dataclass(frozen=True)
class PartitionJob:
    """A picklable callable: partition one community's inputs with fixed options."""

    band: Band | None
    settings: Settings
    n_grids: int | None = None
    seed: int = 0

    def __call__(self, inputs: CommunityInputs) -> CommunityOutcome:
        band = self.band or inputs.band
        if band is None:
            raise ValidationError(f"community {inputs.code}: no household band given")
        result = partition_community(
            inputs.boundary,
            inputs.roads,
            inputs.buildings,
            community_code=inputs.code,
            community_name=inputs.name,
            band=band,
            estates=inputs.estates,
            units=inputs.units,
            n_grids=self.n_grids,
            seed=self.seed,
            settings=self.settings,
        )
        return CommunityOutcome(code=inputs.code, name=inputs.name, result=result)


def band_for_community(community_code: str, settings: Settings) -> Band:
    """The configured band of a community: ``settings.band`` for 社区, ``settings.rural_band`` for 村 (P-5)."""
    preset = settings.band_for_community(community_code)
    return Band(preset.min_households, preset.max_households, preset.target_households)


def band_from_settings(settings: Settings, *, min_households: int | None, max_households: int | None) -> Band:
    preset = settings.household_band
    lo = preset.min_households if min_households is None else min_households
    hi = preset.max_households if max_households is None else max_households
    if lo > hi:
        raise ValidationError(f"--min ({lo}) is greater than --max ({hi})")
    target = preset.target_households if lo <= preset.target_households <= hi else (lo + hi) // 2
    return Band(lo, hi, target)


def partition_store(
    store: Store,
    settings: Settings,
    codes: Sequence[str],
    *,
    band: Band | None = None,
    n_grids: int | None = None,
    seed: int = 0,
    commit: bool = False,
    executor: Executor | str = "serial",
    actor: str | None = None,
    progress: ProgressFn | None = None,
) -> PartitionRun:
    """Partition the given communities; with ``commit`` stage one generation per community.

    ``band=None`` gives each community its configured band (urban or rural, see ``band_for_community``).
    """
    if not codes:
        raise ValidationError("no community to partition: the store has no communities (import them first)")
    if n_grids is not None and len(codes) > 1:
        raise ValidationError("--grids N applies to one community; do not combine it with --all")
    inputs = [inputs_from_store(store, code, band=band_for_community(code, settings)) for code in codes]
    job = PartitionJob(band=band, settings=settings, n_grids=n_grids, seed=seed)
    if isinstance(executor, str):
        with make_executor(executor) as runner:
            outcomes: list[CommunityOutcome] = runner.map(job, inputs, progress=progress)
    else:
        outcomes = executor.map(job, inputs, progress=progress)
    run = PartitionRun(outcomes=outcomes, committed=commit)
    if commit:
        boundaries = {i.code: i.boundary for i in inputs}
        for outcome in outcomes:
            with store.transaction() as tx:
                outcome.generation_id = stage_certified(
                    tx, outcome, boundaries[outcome.code], store_label=store_label(store), actor=actor, seed=seed
                )
    return run


def store_label(store: Store) -> str:
    """How a store is named in certificates and messages (its URL, passwords redacted)."""
    return str(getattr(store, "url", type(store).__name__))


def stage_certified(
    tx: StoreTransaction,
    outcome: CommunityOutcome,
    boundary: BaseGeometry,
    *,
    store_label: str,
    actor: str | None,
    seed: int,
) -> int:
    """Stage ``outcome``'s grids, read them back inside the transaction and certify what was stored.

    The generation keeps the certificate of the grids *as read back* (issue 16: the certificate
    must hold for what is delivered). A read-back that differs from the computed grids, or that
    fails a check the computed grids passed, raises :class:`DeliveryError` and the transaction
    rolls back, so no half-certified generation is left.
    """
    result = outcome.result
    gen_id = stage_generation(
        tx,
        outcome.code,
        result.grids,
        created_by=actor,
        note=f"partition seed={seed} band={result.band.min}-{result.band.max}",
        certificate=result.certificate.to_dict(),
    )
    stored = tx.read(schema.GRIDS, where={"generation_id": gen_id})
    assert isinstance(stored, gpd.GeoDataFrame)
    stored = stored.sort_values("code").reset_index(drop=True)
    computed = result.grids.sort_values("code").reset_index(drop=True)
    parent = gpd.GeoDataFrame({"code": [outcome.code]}, geometry=[boundary], crs=stored.crs)
    subject = f"{store_label} generation {gen_id} as read back"
    certificate = check_partition(
        stored, parent, buildings=result.buildings, band=result.band, certified=subject, source=subject
    )
    problems = mismatches(stored, computed)
    if certificate.ok is False and result.certificate.ok:
        failed = ", ".join(c.name for c in certificate.failed)
        problems.append(f"the stored grids fail {failed} while the computed ones pass")
    if problems:
        raise DeliveryError(
            f"community {outcome.code}: {subject} does not hold the computed grids ({'; '.join(problems[:5])});"
            " nothing was staged",
            details=problems,
        )
    tx.update(schema.GENERATIONS, {"generation_id": gen_id}, {"certificate": certificate.to_dict()})
    outcome.result.certificate = certificate
    return gen_id


def partition_and_activate_all(
    store: Store,
    settings: Settings,
    *,
    seed: int = 0,
    executor: Executor | str = "serial",
    actor: str | None = None,
    progress: ProgressFn | None = None,
) -> gpd.GeoDataFrame:
    """Partition every community with its own band, stage and activate the results; returns the active grids.

    This is the one-shot path of ``gridmap demo``: a planner normally reviews staged generations
    before activating them (``gridmap generations``).
    """
    from gridmap.services.generations import activate_generation, active_grids

    run = partition_store(store, settings, community_codes(store), seed=seed, commit=True,
                          executor=executor, actor=actor, progress=progress)  # fmt: skip
    for outcome in run.outcomes:
        assert outcome.generation_id is not None
        activate_generation(store, outcome.generation_id, actor=actor)
    return active_grids(store)
