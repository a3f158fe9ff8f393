"""Editing grids on the map (portal): preview, validate-before-save, optimistic concurrency, drafts.

The editor opens a community on a *base* generation (default: the newest staged or approved one,
else the active one) and remembers the community's **planning token** (newest generation id and
version / active generation id and version). Every preview and save replays the planner's edit list
(``partition.edits``) on the base, so what is checked and saved is computed on the server.

Saving:

* needs a savable result: the coverage certificate holds, except that grids out of the household
  band are accepted when there are no more of them than before the edits; no line cuts a building;
* creates a staged generation, or updates the planner's own staged generation in place (the "draft
  generation": staged and created by them) with compare-and-set on its version;
* is refused with 409 (ConflictError) when the token changed since the editor was opened: someone
  saved, partitioned, rebalanced, approved or activated meanwhile. The edits are then kept in
  ``planner_drafts`` (committed on their own) and the error names the draft, so nothing is lost; the
  planner reopens the newest version and re-applies the draft's edits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

import geopandas as gpd
import pandas as pd
import shapely

from gridmap import audit, schema
from gridmap.config import Settings
from gridmap.crs import working_crs_for
from gridmap.errors import ConflictError, NotFoundError, PartitionError
from gridmap.model import GenerationStatus
from gridmap.partition.blocks.households import buildings_from_input
from gridmap.partition.blocks.road_blocks import blocks_from_roads, lines_from_roads
from gridmap.partition.certificate.checks import check_partition
from gridmap.partition.certificate.report import HOUSEHOLDS_IN_BAND, Certificate
from gridmap.partition.edits import Edit, apply_edits, edits_from_json, grids_from_state, state_from_grids
from gridmap.partition.problem import Band
from gridmap.services.generations import get_generation, stage_generation, update_staged_generation
from gridmap.services.partitioning import CommunityInputs, inputs_from_store
from gridmap.services.planner import used_codes
from gridmap.store.base import Store, StoreTransaction

DRAFT_CONFLICT = "conflict"


def planning_token(store_or_tx: Store | StoreTransaction, community_code: str) -> str:
    """``head_id.head_version/active_id.active_version`` of the community (``0.0`` when none).

    Any save, partition, rebalance, approval or activation changes it, which is what makes a save
    from an older view stale.
    """
    gens = store_or_tx.read(schema.GENERATIONS, where={"community_code": community_code},
                            columns=["generation_id", "status", "version"])  # fmt: skip
    if gens.empty:
        return "0.0/0.0"
    head = gens.sort_values("generation_id").iloc[-1]
    active = gens.loc[gens["status"] == GenerationStatus.ACTIVE.value]
    act = f"{int(active['generation_id'].iloc[0])}.{int(active['version'].iloc[0])}" if len(active) else "0.0"
    return f"{int(head['generation_id'])}.{int(head['version'])}/{act}"


@dataclass(frozen=True)
class EditorBase:
    """The generation being edited, its version and the community's planning token."""

    community_code: str
    generation_id: int
    version: int
    status: str
    created_by: str | None
    token: str

    def to_dict(self) -> dict[str, Any]:
        return {"community_code": self.community_code, "generation_id": self.generation_id,
                "version": self.version, "status": self.status, "created_by": self.created_by,
                "token": self.token}  # fmt: skip


def editor_base(store: Store, community_code: str, *, generation_id: int | None = None) -> EditorBase:
    """The base to edit: ``generation_id`` if given, else the newest pending, else the active generation."""
    gens = store.read(schema.GENERATIONS, where={"community_code": community_code})
    if generation_id is None:
        pending = gens.loc[gens["status"].isin([GenerationStatus.STAGED.value, GenerationStatus.APPROVED.value])]
        active = gens.loc[gens["status"] == GenerationStatus.ACTIVE.value]
        pick = pending if len(pending) else active
        if pick.empty:
            raise NotFoundError(f"community {community_code} has no generation to edit; partition it first")
        generation_id = int(pick["generation_id"].max())
    row = gens.loc[gens["generation_id"] == generation_id]
    if row.empty:
        raise NotFoundError(f"generation {generation_id} of community {community_code} does not exist")
    r = row.iloc[0]
    return EditorBase(community_code, int(generation_id), int(r["version"]), str(r["status"]),
                      None if pd.isna(r["created_by"]) else str(r["created_by"]),
                      planning_token(store, community_code))  # fmt: skip


@dataclass
class EditPreview:
    """The grids after the edits, their certificate and whether they may be saved (and why not)."""

    base: EditorBase
    edits: list[Edit]
    grids: gpd.GeoDataFrame
    certificate: Certificate
    base_out_of_band: int
    cut_buildings: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def out_of_band(self) -> int:
        return _out_of_band(self.certificate)

    @property
    def problems(self) -> list[str]:
        """Why the result cannot be saved (empty: it can)."""
        out = [c.message for c in self.certificate.checks if not c.ok and not c.skipped
               and c.name != HOUSEHOLDS_IN_BAND]  # fmt: skip
        if self.out_of_band > self.base_out_of_band:
            out.append(f"{self.out_of_band} grid(s) are outside the household band (before the edits:"
                       f" {self.base_out_of_band})")  # fmt: skip
        if self.cut_buildings:
            out.append(f"a split line cuts through building(s) {', '.join(sorted(set(self.cut_buildings))[:10])};"
                       " draw it along a road or between buildings")  # fmt: skip
        if not self.edits:
            out.append("there is nothing to save: no edits")
        return out

    @property
    def savable(self) -> bool:
        return not self.problems


def _out_of_band(cert: Certificate) -> int:
    check = next((c for c in cert.checks if c.name == HOUSEHOLDS_IN_BAND), None)
    return 0 if check is None or check.skipped else len(check.issues)


@dataclass
class _Context:
    inputs: CommunityInputs
    crs: Any
    buildings: gpd.GeoDataFrame


def _context(store: Store, settings: Settings, community_code: str) -> _Context:
    inputs = inputs_from_store(store, community_code)
    crs = working_crs_for(gpd.GeoSeries([inputs.boundary], crs=settings.storage_epsg))
    buildings = inputs.buildings
    if len(buildings):
        buildings = buildings_from_input(buildings, crs=crs, source=f"buildings of community {community_code}")
        buildings["rep"] = shapely.point_on_surface(buildings.geometry.values)
    else:
        buildings = gpd.GeoDataFrame({"building_id": [], "households": [], "rep": []}, geometry=[], crs=crs)
    return _Context(inputs, crs, buildings)


def blocks_of(ctx: _Context, settings: Settings) -> gpd.GeoDataFrame:
    """Road blocks of the whole community (metric CRS): what ``move_block`` moves and the map shows."""
    area = gpd.GeoSeries([ctx.inputs.boundary], crs=settings.storage_epsg).to_crs(ctx.crs)
    roads = lines_from_roads(ctx.inputs.roads)
    return blocks_from_roads(area, roads if len(roads) else None, sliver_area_m2=settings.sliver_area_m2,
                             crs=ctx.crs, source=f"community {ctx.inputs.code}")  # fmt: skip


def community_blocks(store: Store, settings: Settings, community_code: str) -> gpd.GeoDataFrame:
    """The community's road blocks in the storage CRS (for the editor's map)."""
    return blocks_of(_context(store, settings, community_code), settings).to_crs(settings.storage_epsg)


def _certify(grids: gpd.GeoDataFrame, ctx: _Context, band: Band, settings: Settings) -> Certificate:
    parent = gpd.GeoDataFrame({"code": [ctx.inputs.code]}, geometry=[ctx.inputs.boundary], crs=settings.storage_epsg)
    return check_partition(grids, parent, buildings=ctx.buildings.drop(columns=["rep"]), band=band,
                           parent_code_column="code", source=f"community {ctx.inputs.code}")  # fmt: skip


def preview_edits(
    store: Store, settings: Settings, community_code: str, *, generation_id: int, edits: Any, band: Band
) -> EditPreview:
    """Replay ``edits`` (JSON list) on the generation and certify the result."""
    parsed = edits_from_json(edits)
    base = editor_base(store, community_code, generation_id=generation_id)
    ctx = _context(store, settings, community_code)
    grids = store.read(schema.GRIDS, where={"generation_id": generation_id})
    assert isinstance(grids, gpd.GeoDataFrame)
    codes = used_codes(store, community_code)

    def fresh() -> Any:
        return state_from_grids(grids, ctx.inputs.boundary, crs=ctx.crs, storage_epsg=settings.storage_epsg,
                                used_codes=codes)  # fmt: skip

    before = grids_from_state(fresh(), ctx.buildings, band, settings.storage_epsg)
    state = fresh()
    cache: dict[str, gpd.GeoDataFrame] = {}

    def blocks() -> gpd.GeoDataFrame:
        if "blocks" not in cache:
            cache["blocks"] = blocks_of(ctx, settings)
        return cache["blocks"]

    apply_edits(state, parsed, buildings=ctx.buildings, blocks=blocks, storage_epsg=settings.storage_epsg,
                community_code=community_code, community_name=ctx.inputs.name)  # fmt: skip
    after = grids_from_state(state, ctx.buildings, band, settings.storage_epsg)
    return EditPreview(base, parsed, after, _certify(after, ctx, band, settings),
                       _out_of_band(_certify(before, ctx, band, settings)), state.cut_buildings,
                       state.changes)  # fmt: skip


@dataclass(frozen=True)
class SaveResult:
    generation_id: int
    version: int
    updated: bool  # True: the planner's own staged generation was updated in place
    token: str


def save_edits(
    store: Store,
    settings: Settings,
    community_code: str,
    *,
    generation_id: int,
    token: str,
    edits: Any,
    band: Band,
    actor: str,
    note: str | None = None,
) -> SaveResult:
    """Validate and save; 409 (edits kept as a draft) when stale, 422 when the result breaks a rule.

    Staleness is checked first (a preview of an outdated base means nothing) and again inside the
    transaction that writes, so two saves racing from the same view cannot both succeed.
    """
    if planning_token(store, community_code) != token:
        _stale(store, community_code, actor=actor, generation_id=generation_id, token=token,
               edits=edits_from_json(edits))  # fmt: skip
    preview = preview_edits(store, settings, community_code, generation_id=generation_id, edits=edits, band=band)
    if not preview.savable:
        raise PartitionError("the edited grids cannot be saved: " + "; ".join(preview.problems),
                             code="edits_invalid", details={"problems": preview.problems})
    text = note or f"edited on the map from generation {generation_id}: " + ", ".join(
        f"{c['op']}" for c in preview.changes)
    cert = preview.certificate.to_dict()
    try:
        with store.transaction() as tx:
            if planning_token(tx, community_code) != token:
                raise ConflictError(f"community {community_code} changed while saving")
            base = get_generation(tx, generation_id)
            own = base["status"] == GenerationStatus.STAGED.value and base["created_by"] == actor
            if own:
                version = update_staged_generation(tx, generation_id, preview.grids, expected_version=int(
                    base["version"]), note=text, certificate=cert)  # fmt: skip
                gid, updated = generation_id, True
            else:
                gid = stage_generation(tx, community_code, preview.grids, created_by=actor, note=text,
                                       certificate=cert)  # fmt: skip
                version, updated = 1, False
            audit.record(tx, "planner.save", actor=actor, target=f"{community_code}#{gid}",
                         detail={"base": generation_id, "edits": [e.to_dict() for e in preview.edits]})  # fmt: skip
    except ConflictError:
        _stale(store, community_code, actor=actor, generation_id=generation_id, token=token, edits=preview.edits)
    return SaveResult(gid, version, updated, planning_token(store, community_code))


def _stale(store: Store, community_code: str, *, actor: str, generation_id: int, token: str,
           edits: Sequence[Edit]) -> NoReturn:  # fmt: skip
    """Keep the edits as a draft, then raise the 409 that names it."""
    current = planning_token(store, community_code)
    message = (f"community {community_code} was changed by someone else since you opened it (version {token},"
               f" now {current})")  # fmt: skip
    draft_id = keep_draft(store, community_code, owner=actor, generation_id=generation_id, token=token,
                          edits=edits, status=DRAFT_CONFLICT, note=message)  # fmt: skip
    raise ConflictError(
        f"{message}; your edits were not lost: they are kept as draft {draft_id}. Reload the newest version and"
        " re-apply them.",
        code="stale_version",
        details={"draft_id": draft_id, "token": current},
    )


def keep_draft(store: Store, community_code: str, *, owner: str, generation_id: int, token: str | None,
               edits: Sequence[Edit], status: str, note: str | None = None) -> str:  # fmt: skip
    """Store a planner's edit list (its own transaction); returns the draft id."""
    draft_id = uuid.uuid4().hex
    row = {"draft_id": draft_id, "community_code": community_code, "owner": owner,
           "base_generation_id": generation_id, "token": token, "edits": [e.to_dict() for e in edits],
           "status": status, "note": note, "created_at": pd.Timestamp(datetime.now(UTC))}  # fmt: skip
    with store.transaction() as tx:
        tx.insert(schema.PLANNER_DRAFTS, pd.DataFrame([row]))
    return draft_id


def drafts_of(store: Store, community_code: str, *, owner: str) -> list[dict[str, Any]]:
    """The planner's kept drafts for a community, newest first."""
    rows = store.read(schema.PLANNER_DRAFTS, where={"community_code": community_code, "owner": owner})
    return [_draft_dict(r) for _, r in rows.sort_values("created_at", ascending=False).iterrows()]


def get_draft(store: Store, draft_id: str, *, owner: str) -> dict[str, Any]:
    """One draft of ``owner``; 404 for a missing draft and for another planner's alike."""
    rows = store.read(schema.PLANNER_DRAFTS, where={"draft_id": draft_id, "owner": owner})
    if rows.empty:
        raise NotFoundError(f"draft {draft_id} not found")
    return _draft_dict(rows.iloc[0])


def _draft_dict(row: pd.Series) -> dict[str, Any]:
    return {"draft_id": str(row["draft_id"]), "community_code": str(row["community_code"]),
            "base_generation_id": int(row["base_generation_id"]), "status": str(row["status"]),
            "edits": row["edits"], "note": None if pd.isna(row["note"]) else str(row["note"]),
            "created_at": row["created_at"].isoformat()}  # fmt: skip


def band_of(settings: Settings, community_code: str) -> Band:
    """The community's household band: urban (社区) or rural (村) from the settings (P-1, P-5)."""
    preset = settings.band_for_community(community_code)
    return Band(preset.min_households, preset.max_households, preset.target_households)

