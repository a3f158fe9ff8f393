"""Planner use cases shared by the CLI and the portal: rebalance a community, edit grids, save drafts.

Why here and not in ``partition``: these read the store (current buildings, active grids, every code
a community ever used) and write staged generations; the geometry work itself is pure and lives in
``partition.rebalance`` and ``partition.edits``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gridmap import schema
from gridmap.config import Settings
from gridmap.errors import NotFoundError
from gridmap.partition.certificate.report import HOUSEHOLDS_IN_BAND as HOUSEHOLDS_IN_BAND
from gridmap.partition.maps.rebalance_plan import map_from_plan as map_from_plan
from gridmap.partition.problem import Band
from gridmap.partition.rebalance.plan import RebalancePlan, rebalance_community
from gridmap.services.generations import active_grids, stage_generation
from gridmap.services.partitioning import inputs_from_store
from gridmap.store.base import Store, StoreTransaction


@dataclass
class RebalanceOutcome:
    """A rebalance proposal and, when committed, the staged generation holding it."""

    plan: RebalancePlan
    generation_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**self.plan.to_dict(), "committed": self.generation_id is not None,
                "generation_id": self.generation_id}  # fmt: skip


def used_codes(store_or_tx: Store | StoreTransaction, community_code: str) -> set[str]:
    """Every grid code the community has had in any generation (retired codes are never reused)."""
    rows = store_or_tx.read(schema.GRIDS, where={"community_code": community_code}, columns=["code"])
    return {str(c) for c in rows["code"]}


def rebalance_from_store(
    store: Store,
    settings: Settings,
    community_code: str,
    *,
    band: Band,
    commit: bool = False,
    actor: str | None = None,
    seed: int = 0,
) -> RebalanceOutcome:
    """Propose a minimal-change rebalance of the community's active grids; ``commit`` stages it.

    Nothing is staged when the plan changes nothing (the active generation already fits the band).
    """
    inputs = inputs_from_store(store, community_code)
    active = active_grids(store, community_code=community_code)
    if active.empty:
        raise NotFoundError(
            f"community {community_code} has no active generation to rebalance; partition it and activate one first"
        )
    plan = rebalance_community(
        inputs.boundary, inputs.roads, inputs.buildings, active,
        community_code=community_code, community_name=inputs.name, band=band, settings=settings,
        used_codes=used_codes(store, community_code), seed=seed,
    )  # fmt: skip
    outcome = RebalanceOutcome(plan)
    if commit and plan.changed:
        report = plan.report
        note = (f"rebalance of generation {int(active['generation_id'].iloc[0])}: {report['blocks_moved']} blocks /"
                f" {report['households_moved']} households moved, {len(report['codes_new'])} new,"
                f" {len(report['codes_retired'])} retired codes")  # fmt: skip
        with store.transaction() as tx:
            outcome.generation_id = stage_generation(
                tx, community_code, plan.after, created_by=actor, note=note, certificate=plan.certificate.to_dict()
            )
    return outcome
