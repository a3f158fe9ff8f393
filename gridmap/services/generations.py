"""Boundary generations (版本) of grids: staged -> approved -> active -> retired.

Every partition or edit writes a *staged* generation for one community; it is validated (the
coverage certificate), approved, then activated, which retires the community's previous active
generation. Old generations stay in the store, so lookups "as of a date" keep working (MapIt keeps
old boundary sets the same way). Activation is one transaction and uses the generation's
``version`` for compare-and-set, so two planners cannot both activate from a stale view.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap import audit, schema
from gridmap.errors import ConflictError, NotFoundError, ValidationError
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
    frame = grids.copy()
    frame["generation_id"] = gen_id
    # tz-aware NaT: the stores reject naive datetime columns (set on activation)
    frame["valid_from"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    frame["valid_to"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    columns = [c for c in schema.GRIDS_SPEC.column_names if c in frame.columns] + [schema.GEOMETRY]
    tx.insert(schema.GRIDS, gpd.GeoDataFrame(frame[columns], geometry=schema.GEOMETRY, crs=grids.crs))
    return gen_id


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
    ``grids_as_of`` can answer for any instant.
    """
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
        return retired


def newest_pending_generations(store_or_tx: Store | StoreTransaction) -> list[int]:
    """Per community, the newest staged or approved generation (what ``activate --all-staged`` activates)."""
    gens = store_or_tx.read(
        schema.GENERATIONS,
        where={"status": [GenerationStatus.STAGED.value, GenerationStatus.APPROVED.value]},
        columns=["generation_id", "community_code"],
    )
    if gens.empty:
        return []
    newest = gens.groupby("community_code")["generation_id"].max()
    return sorted(int(g) for g in newest)


def active_generation_ids(store_or_tx: Store | StoreTransaction) -> list[int]:
    gens = store_or_tx.read(schema.GENERATIONS, where={"status": GenerationStatus.ACTIVE.value})
    return sorted(int(g) for g in gens["generation_id"])


def active_grids(store_or_tx: Store | StoreTransaction, *, community_code: str | None = None) -> gpd.GeoDataFrame:
    """Grids of every community's active generation (optionally one community)."""
    ids = active_generation_ids(store_or_tx)
    where: dict[str, Any] = {"generation_id": ids or [-1]}
    if community_code is not None:
        where["community_code"] = community_code
    grids = store_or_tx.read(schema.GRIDS, where=where)
    assert isinstance(grids, gpd.GeoDataFrame)
    return grids


def grids_as_of(store: Store, when: datetime | pd.Timestamp) -> gpd.GeoDataFrame:
    """Grids that were in force at ``when`` (valid_from <= when < valid_to, open ends allowed)."""
    ts = pd.Timestamp(when)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    grids = store.read(schema.GRIDS)
    assert isinstance(grids, gpd.GeoDataFrame)
    started = grids["valid_from"].notna() & (grids["valid_from"] <= ts)
    not_ended = grids["valid_to"].isna() | (grids["valid_to"] > ts)
    return grids.loc[started & not_ended].reset_index(drop=True)
