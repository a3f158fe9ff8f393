"""Boundary generations (版本) of grids: staged -> approved -> active -> retired.

Every partition or edit writes a *staged* generation for one community; it is validated (the
coverage certificate), approved, then activated, which retires the community's previous active
generation. Old generations stay in the store, so lookups "as of a date" keep working (MapIt keeps
old boundary sets the same way). Activation is one transaction and uses the generation's
``version`` for compare-and-set, so two planners cannot both activate from a stale view.

Activation runs *hooks* inside its transaction (by default ``relink.relink_on_activation``: workers
and open incidents follow the new grids, P-45 同步调整), so the records change together with the
boundaries or not at all. ``grids_as_of`` / ``generation_ids_as_of`` answer "which grids were in force
at instant T" for lookups with ``as_of``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap import audit, schema
from gridmap.errors import ConflictError, NotFoundError, ValidationError
from gridmap.grid_generations import active_generation_ids as active_generation_ids
from gridmap.grid_generations import active_grids as active_grids
from gridmap.grid_generations import generation_ids_as_of as generation_ids_as_of
from gridmap.grid_generations import grids_as_of as grids_as_of
from gridmap.grid_generations import newest_pending_generations as newest_pending_generations
from gridmap.grid_generations import parse_as_of as parse_as_of
from gridmap.model import GenerationStatus
from gridmap.store.base import Store, StoreTransaction


def _now() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC))


def next_generation_id(tx: StoreTransaction) -> int:
    """One more than the largest generation id in the store (ids are never reused)."""
    gens = tx.read(schema.GENERATIONS, columns=["generation_id"])
    return 1 if gens.empty else int(gens["generation_id"].max()) + 1


def stage_generation(
    tx: StoreTransaction,
    community_code: str,
    grids: gpd.GeoDataFrame,
    *,
    created_by: str | None = None,
    note: str | None = None,
    certificate: Mapping[str, Any] | None = None,
) -> int:
    """Write ``grids`` (schema.GRIDS_SPEC columns, EPSG:4326) as a new staged generation; returns its id."""
    if grids.empty:
        raise ValidationError(f"community {community_code}: a generation needs at least one grid")
    wrong = grids.loc[grids["community_code"] != community_code, "code"].tolist()
    if wrong:
        raise ValidationError(f"grids {wrong[:10]} do not belong to community {community_code}")
    gen_id = next_generation_id(tx)
    now = _now()
    tx.insert(
        schema.GENERATIONS,
        pd.DataFrame(
            [
                {
                    "generation_id": gen_id,
                    "community_code": community_code,
                    "status": GenerationStatus.STAGED.value,
                    "version": 1,
                    "created_at": now,
                    "created_by": created_by,
                    "note": note,
                    "certificate": dict(certificate) if certificate is not None else None,
                }
            ]
        ),
    )
    _insert_grids(tx, gen_id, grids)
    return gen_id


def _insert_grids(tx: StoreTransaction, generation_id: int, grids: gpd.GeoDataFrame) -> None:
    frame = grids.copy()
    frame["generation_id"] = generation_id
    # tz-aware NaT: the stores reject naive datetime columns (set on activation)
    frame["valid_from"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    frame["valid_to"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    columns = [c for c in schema.GRIDS_SPEC.column_names if c in frame.columns] + [schema.GEOMETRY]
    tx.insert(schema.GRIDS, gpd.GeoDataFrame(frame[columns], geometry=schema.GEOMETRY, crs=grids.crs))


def update_staged_generation(
    tx: StoreTransaction,
    generation_id: int,
    grids: gpd.GeoDataFrame,
    *,
    expected_version: int,
    note: str | None = None,
    certificate: Mapping[str, Any] | None = None,
) -> int:
    """Replace the grids of a *staged* generation (a planner's draft saved again); returns the new version.

    Compare-and-set on ``version``: a generation that was approved, activated or saved by someone
    else since ``expected_version`` raises ConflictError and nothing is written.
    """
    gen = get_generation(tx, generation_id)
    if gen["status"] != GenerationStatus.STAGED.value:
        raise ConflictError(f"generation {generation_id} is {gen['status']}; only a staged generation can be changed")
    wrong = grids.loc[grids["community_code"] != gen["community_code"], "code"].tolist()
    if wrong or grids.empty:
        raise ValidationError(f"generation {generation_id}: grids {wrong[:10]} do not belong to community"
                              f" {gen['community_code']}" if wrong else "a generation needs at least one grid")
    changed = tx.update(
        schema.GENERATIONS,
        {"generation_id": generation_id, "version": expected_version},
        {"version": expected_version + 1, "note": note,
         "certificate": dict(certificate) if certificate is not None else None},
    )  # fmt: skip
    if changed != 1:
        raise ConflictError(f"generation {generation_id} changed since version {expected_version}; reload and retry")
    tx.delete(schema.GRIDS, {"generation_id": generation_id})
    _insert_grids(tx, generation_id, grids)
    return expected_version + 1


def get_generation(store_or_tx: Store | StoreTransaction, generation_id: int) -> dict[str, Any]:
    rows = store_or_tx.read(schema.GENERATIONS, where={"generation_id": generation_id})
    if rows.empty:
        raise NotFoundError(f"generation {generation_id} does not exist")
    return {str(k): v for k, v in rows.iloc[0].to_dict().items()}


def approve_generation(store: Store, generation_id: int, *, actor: str, expected_version: int | None = None) -> None:
    """Mark a staged generation approved (a planner with rights over the community did so)."""
    with store.transaction() as tx:
        gen = get_generation(tx, generation_id)
        if gen["status"] != GenerationStatus.STAGED.value:
            raise ConflictError(f"generation {generation_id} is {gen['status']}, only a staged one can be approved")
        version = int(gen["version"]) if expected_version is None else expected_version
        changed = tx.update(
            schema.GENERATIONS,
            {"generation_id": generation_id, "version": version},
            {
                "status": GenerationStatus.APPROVED.value,
                "version": version + 1,
                "approved_at": _now(),
                "approved_by": actor,
            },
        )
        if changed != 1:
            raise ConflictError(f"generation {generation_id} changed since version {version}; reload and retry")


@dataclass(frozen=True)
class ActivationContext:
    """What an activation hook is told: the community, the new and the retired generation, who."""

    community_code: str
    generation_id: int
    retired_generation_id: int | None
    actor: str | None


#: A hook runs inside the activation transaction; what it returns is kept in the result by its name.
ActivationHook = Callable[[StoreTransaction, ActivationContext], Any]


def relink_hook(tx: StoreTransaction, ctx: ActivationContext) -> Any:
    """Workers and open incidents follow the new grids (``services.relink``)."""
    from gridmap.services.relink import relink_on_activation

    return relink_on_activation(tx, community_code=ctx.community_code, generation_id=ctx.generation_id,
                                retired_generation_id=ctx.retired_generation_id, actor=ctx.actor)  # fmt: skip


#: Hooks every activation runs unless told otherwise (immutable: pass ``hooks=`` to change them).
DEFAULT_ACTIVATION_HOOKS: tuple[ActivationHook, ...] = (relink_hook,)


@dataclass
class ActivationResult:
    """The activated and the retired generation, and each hook's result by hook name."""

    generation_id: int
    community_code: str
    retired: int | None
    hook_results: dict[str, Any] = field(default_factory=dict)

    @property
    def relink(self) -> Any:
        """The ``RelinkReport`` of the default hook (None when it did not run)."""
        return self.hook_results.get(relink_hook.__name__)


def activate_generation(
    store: Store,
    generation_id: int,
    *,
    actor: str | None = None,
    require_approval: bool = False,
    expected_version: int | None = None,
) -> int | None:
    """Make a generation the active one of its community; retire the previous one. Returns the retired id.

    The new grids get ``valid_from = now``; the retired grids get ``valid_to = now``, so
    ``grids_as_of`` can answer for any instant. Workers and open incidents are re-linked in the same
    transaction (see :func:`activate_with_report` for the re-link report).
    """
    return activate_with_report(
        store, generation_id, actor=actor, require_approval=require_approval, expected_version=expected_version
    ).retired


def activate_with_report(
    store: Store,
    generation_id: int,
    *,
    actor: str | None = None,
    require_approval: bool = False,
    expected_version: int | None = None,
    hooks: Sequence[ActivationHook] | None = None,
) -> ActivationResult:
    """:func:`activate_generation`, returning what the hooks did (default: the re-link report)."""
    with store.transaction() as tx:
        gen = get_generation(tx, generation_id)
        allowed = {GenerationStatus.APPROVED.value} if require_approval else {
            GenerationStatus.STAGED.value,
            GenerationStatus.APPROVED.value,
        }
        if gen["status"] not in allowed:
            raise ConflictError(
                f"generation {generation_id} is {gen['status']}; it must be {' or '.join(sorted(allowed))} to activate"
            )
        version = int(gen["version"]) if expected_version is None else expected_version
        now = _now()
        community = gen["community_code"]
        previous = tx.read(
            schema.GENERATIONS,
            where={"community_code": community, "status": GenerationStatus.ACTIVE.value},
        )
        retired: int | None = None
        for prev_id in previous["generation_id"].tolist():
            tx.update(
                schema.GENERATIONS,
                {"generation_id": int(prev_id)},
                {"status": GenerationStatus.RETIRED.value, "retired_at": now},
            )
            tx.update(schema.GRIDS, {"generation_id": int(prev_id)}, {"valid_to": now})
            retired = int(prev_id)
        changed = tx.update(
            schema.GENERATIONS,
            {"generation_id": generation_id, "version": version},
            {"status": GenerationStatus.ACTIVE.value, "version": version + 1, "activated_at": now},
        )
        if changed != 1:
            raise ConflictError(f"generation {generation_id} changed since version {version}; reload and retry")
        tx.update(schema.GRIDS, {"generation_id": generation_id}, {"valid_from": now})
        audit.record(
            tx, "generation.activate", actor=actor, target=f"{community}#{generation_id}", detail={"retired": retired}
        )
        ctx = ActivationContext(str(community), generation_id, retired, actor)
        results = {hook.__name__: hook(tx, ctx) for hook in (DEFAULT_ACTIVATION_HOOKS if hooks is None else hooks)}
        return ActivationResult(generation_id, str(community), retired, results)
