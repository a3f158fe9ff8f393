"""Which grids are in force: the read side of boundary generations (now, or as of an instant).

Why here and not in ``services.generations``: lookups, patrol reports and the tracking device
registry all need "the active grids", and they sit below the services layer; the write side
(stage, approve, activate) stays a service. Instants are UTC ``pd.Timestamp``; naive input is UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap import schema
from gridmap.errors import ValidationError
from gridmap.model import GenerationStatus
from gridmap.store.base import Store, StoreTransaction

#: (generation_id, version) of every active generation, sorted: changes whenever an activation happens.
GenerationKey = tuple[tuple[int, int], ...]


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


def _utc(when: datetime | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(when)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_as_of(text: str | datetime | pd.Timestamp) -> pd.Timestamp:
    """An instant from ISO 8601 text (``2024-05-01``, ``2024-05-01T08:00:00+08:00``); naive means UTC.

    Raises ValidationError naming the value: ``as_of`` arrives from query strings and the CLI.
    """
    if isinstance(text, datetime | pd.Timestamp):
        return _utc(text)
    value = str(text).strip()
    try:
        ts: pd.Timestamp | None = pd.Timestamp(value) if value else None
    except (ValueError, TypeError):
        ts = None
    if ts is None or pd.isna(ts):
        raise ValidationError(
            f"as_of {text!r} is not a date or time; use ISO 8601 such as 2024-05-01 or 2024-05-01T08:00:00+08:00",
            details={"parameter": "as_of"},
        )
    return _utc(ts)


def generation_ids_as_of(store_or_tx: Store | StoreTransaction, when: datetime | pd.Timestamp) -> list[int]:
    """Ids of the generations in force at ``when``: activated at or before it, not retired by then."""
    ts = _utc(when)
    gens = store_or_tx.read(
        schema.GENERATIONS,
        where={"status": [GenerationStatus.ACTIVE.value, GenerationStatus.RETIRED.value]},
        columns=["generation_id", "activated_at", "retired_at"],
    )
    started = gens["activated_at"].notna() & (gens["activated_at"] <= ts)
    not_ended = gens["retired_at"].isna() | (gens["retired_at"] > ts)
    return sorted(int(g) for g in gens.loc[started & not_ended, "generation_id"])


def grids_as_of(
    store: Store | StoreTransaction, when: datetime | pd.Timestamp, *, community_code: str | None = None
) -> gpd.GeoDataFrame:
    """Grids that were in force at ``when`` (valid_from <= when < valid_to, open ends allowed).

    Only the grids of generations in force then are read (not the whole history).
    """
    ts = _utc(when)
    where: dict[str, Any] = {"generation_id": generation_ids_as_of(store, ts) or [-1]}
    if community_code is not None:
        where["community_code"] = community_code
    grids = store.read(schema.GRIDS, where=where)
    assert isinstance(grids, gpd.GeoDataFrame)
    started = grids["valid_from"].notna() & (grids["valid_from"] <= ts)
    not_ended = grids["valid_to"].isna() | (grids["valid_to"] > ts)
    return grids.loc[started & not_ended].reset_index(drop=True)


def generation_key_from_store(store: Store) -> GenerationKey:
    """The active generations' (id, version) pairs: one small read, done per key check."""
    gens = store.read(
        schema.GENERATIONS,
        where={"status": GenerationStatus.ACTIVE.value},
        columns=["generation_id", "status", "version"],
    )
    return generation_key_from_frame(gens)


def generation_key_from_frame(generations: pd.DataFrame) -> GenerationKey:
    """The key of the active generations in a GENERATIONS frame (any status mix)."""
    active = generations.loc[generations["status"] == GenerationStatus.ACTIVE.value]
    pairs = zip(active["generation_id"].tolist(), active["version"].tolist(), strict=True)
    return tuple(sorted((int(g), int(v)) for g, v in pairs))
