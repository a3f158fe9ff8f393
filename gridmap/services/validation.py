"""The coverage certificate in store mode: validate a community's active (or a given) generation.

This is what ``gridmap validate --community CODE | --all`` runs. It reads the same inputs as the
partition (the community outline and its buildings) so a generation staged from a partition and a
generation drawn by hand are judged by exactly the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd

from gridmap import schema
from gridmap.errors import NotFoundError, ValidationError
from gridmap.model import AreaLevel
from gridmap.partition.certificate.checks import DEFAULT_TOLERANCE_M2 as DEFAULT_TOLERANCE_M2
from gridmap.partition.certificate.checks import HOUSEHOLDS as HOUSEHOLDS
from gridmap.partition.certificate.checks import Certificate, validate_community
from gridmap.partition.certificate.checks import check_partition as check_partition
from gridmap.partition.problem import Band
from gridmap.services.generations import active_grids, get_generation
from gridmap.services.partitioning import band_for_community, inputs_from_store, store_label
from gridmap.store.base import Store


@dataclass
class CommunityValidation:
    community_code: str
    generation_id: int | None
    certificate: Certificate

    def to_dict(self) -> dict[str, Any]:
        return {
            "community_code": self.community_code,
            "generation_id": self.generation_id,
            "ok": self.certificate.ok,
            "certificate": self.certificate.to_dict(),
        }


def _grids_for(store: Store, community_code: str, generation_id: int | None) -> tuple[gpd.GeoDataFrame, int | None]:
    if generation_id is None:
        grids = active_grids(store, community_code=community_code)
        if grids.empty:
            raise NotFoundError(
                f"community {community_code} has no active generation of grids; partition and activate it, "
                "or pass --generation ID"
            )
        return grids, int(grids["generation_id"].iloc[0])
    gen = get_generation(store, generation_id)
    if gen["community_code"] != community_code:
        raise ValidationError(
            f"generation {generation_id} belongs to community {gen['community_code']}, not {community_code}"
        )
    grids = store.read(schema.GRIDS, where={"generation_id": generation_id})
    assert isinstance(grids, gpd.GeoDataFrame)
    return grids, generation_id


def validate_store(
    store: Store,
    codes: Sequence[str],
    *,
    band: Band | None = None,
    generation_id: int | None = None,
    coverage_only: bool = False,
) -> list[CommunityValidation]:
    """One certificate per community code (its active generation, or ``generation_id`` for one code).

    ``band=None`` judges each community by its own configured band (社区 urban, 村 rural; P-5), the
    band the partition used.
    """
    if not codes:
        raise ValidationError("no community to validate: the store has no communities")
    if generation_id is not None and len(codes) != 1:
        raise ValidationError("--generation applies to one community; give --community CODE")
    results = []
    for code in codes:
        inputs = inputs_from_store(store, code)
        grids, gen_id = _grids_for(store, code, generation_id)
        community = store.read(schema.AREAS, where={"code": code, "level": AreaLevel.COMMUNITY.value})
        assert isinstance(community, gpd.GeoDataFrame)
        buildings = inputs.buildings if len(inputs.buildings) else None
        own_band = band if band is not None else band_for_community(code, store.settings)
        subject = f"{store_label(store)} generation {gen_id} as read back"
        certificate = validate_community(grids, community, buildings, own_band, certified=subject,
                                         coverage_only=coverage_only)
        results.append(CommunityValidation(code, gen_id, certificate))
    return results
