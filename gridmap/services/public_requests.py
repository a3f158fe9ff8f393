"""The anonymous Open311 reader's use case: public categories only, redacted (see
:mod:`gridmap.incidents.open311_public` for what is shown and why).

Both the listing and the by-id read go through here, so the web route, a future CLI export and
the tests share one definition of "public". A request of a staff-only category answers the same
404 as a missing one: an anonymous caller cannot even learn that it exists.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from gridmap import schema
from gridmap.incidents.open311_public import (
    codes_to_name,
    is_public,
    public_category_values,
    public_request_dict,
    public_request_dicts,
)
from gridmap.incidents.query import IncidentFilter
from gridmap.incidents.workflow import incident_not_found
from gridmap.services.incidents import IncidentService


def area_and_grid_names(service: IncidentService, codes: Iterable[str]) -> dict[str, str]:
    """Names of the given community (12-digit) and grid (15-digit) codes; unknown codes are left out."""
    wanted = sorted(set(codes))
    names: dict[str, str] = {}
    communities = [c for c in wanted if len(c) == 12]
    grids = [c for c in wanted if len(c) == 15]
    if communities:
        rows = service.store.read(schema.AREAS, where={"code": communities}, columns=["code", "name"])
        names.update(zip(rows["code"].astype(str), rows["name"].astype(str), strict=True))
    if grids:  # the newest generation's name wins (rows come in fid order)
        rows = service.store.read(schema.GRIDS, where={"code": grids}, columns=["code", "name"])
        names.update(zip(rows["code"].astype(str), rows["name"].astype(str), strict=True))
    return names


def public_filter(service: IncidentService, f: IncidentFilter) -> IncidentFilter | None:
    """``f`` narrowed to the public categories; None when it asks only for staff-only ones."""
    allowed = public_category_values(service.policy.catalogue)
    wanted = allowed if f.categories is None else tuple(c for c in f.categories if c in allowed)
    return dataclasses.replace(f, categories=wanted) if wanted else None


def public_requests(service: IncidentService, f: IncidentFilter, lang: str) -> list[dict[str, Any]]:
    """The redacted requests matching ``f`` among the public categories, newest first."""
    narrowed = public_filter(service, f)
    if narrowed is None:
        return []
    rows = service.matching(narrowed)
    names = area_and_grid_names(service, codes_to_name(rows))
    return public_request_dicts(rows, service.policy.catalogue, lang, names)


def public_request(service: IncidentService, incident_id: str, lang: str) -> dict[str, Any]:
    """One redacted request; NotFoundError for a missing one and for one of a staff-only category."""
    row = service.get(incident_id)
    if not is_public(service.policy.catalogue, row.get("category")):
        raise incident_not_found(incident_id)  # the same 404 as a missing one
    names = area_and_grid_names(service, codes_to_name([row]))
    return public_request_dict(row, service.policy.catalogue, lang, names)


__all__ = ["area_and_grid_names", "public_filter", "public_request", "public_requests"]
