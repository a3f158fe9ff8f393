"""The public, redacted Open311 view of service requests (GeoReport v2 GET without an api_key).

GeoReport v2 makes ``GET requests`` and ``GET requests/{id}`` public; only POST needs a key.
Standard clients (the ``georeport`` package, FixMyStreet's Open311 adapter, city dashboards)
therefore read anonymously. A resident's report can still name people, so anonymous callers get
only what a public noticeboard shows:

* requests of categories flagged ``public`` (disputes, special groups, petitions and stability
  reports, population registration and 110 referrals default to staff-only);
* ``service_request_id``, ``service_code``/``service_name``, ``status``, ``agency_responsible``,
  ``requested_datetime``/``updated_datetime``, and in ``extended_attributes`` the grid's and the
  community's names;
* the location rounded to :data:`PUBLIC_DECIMALS` decimals (0.001° is about 111 m north-south,
  about 90 m east-west at 35° N), so a point shows the block, not the door.

Never: the description, status notes, address, media, reporter fields, token, the exact point,
deadlines, cards or satisfaction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gridmap.incidents.categories import CategoryCatalogue
from gridmap.incidents.open311 import agency_label, iso, open_or_closed

#: Decimals of lon/lat shown to anonymous readers (about 100 m).
PUBLIC_DECIMALS = 3
#: Keys of a public request; a test asserts nothing else leaves the server.
PUBLIC_KEYS = (
    "service_request_id", "status", "service_name", "service_code", "agency_responsible", "requested_datetime",
    "updated_datetime", "lat", "long", "extended_attributes",
)  # fmt: skip


def public_category_values(catalogue: CategoryCatalogue) -> tuple[str, ...]:
    """Every stored spelling (code, Chinese name, aliases) of the categories flagged public."""
    out: list[str] = []
    for cat in catalogue:
        if cat.public:
            out += [cat.service_code, cat.name_zh, *cat.aliases]
    return tuple(dict.fromkeys(out))


def is_public(catalogue: CategoryCatalogue, category: Any) -> bool:
    """True when ``category`` (any stored spelling) is a known category flagged public."""
    found = catalogue.find(category)
    return found is not None and found.public


def rounded(value: Any) -> float | None:
    """A coordinate rounded to :data:`PUBLIC_DECIMALS`, None when missing."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else round(number, PUBLIC_DECIMALS)


def public_request_dict(
    row: Mapping[str, Any], catalogue: CategoryCatalogue, lang: str, names: Mapping[str, str]
) -> dict[str, Any]:
    """One request as an anonymous reader sees it; ``names`` maps grid/community codes to names."""
    category = catalogue.find(row.get("category"))
    grid, community = row.get("grid_code"), row.get("community_code")
    lon, lat = row.get("lon"), row.get("lat")
    geometry = row.get("geometry")
    if lon is None and geometry is not None and not getattr(geometry, "is_empty", True):
        lon, lat = float(geometry.x), float(geometry.y)
    return {
        "service_request_id": str(row["incident_id"]),
        "status": open_or_closed(row.get("status")),
        "service_name": category.name(lang) if category else None,
        "service_code": category.service_code if category else None,
        "agency_responsible": agency_label(row.get("department"), row.get("level")),
        "requested_datetime": iso(row.get("reported_at")),
        "updated_datetime": iso(row.get("updated_at")),
        "lat": rounded(lat),
        "long": rounded(lon),
        "extended_attributes": {
            "grid_name": names.get(str(grid)) if isinstance(grid, str) else None,
            "community_name": names.get(str(community)) if isinstance(community, str) else None,
        },
    }


def public_request_dicts(
    records: Sequence[Mapping[str, Any]], catalogue: CategoryCatalogue, lang: str, names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """:func:`public_request_dict` of each record whose category is public (others are dropped)."""
    return [public_request_dict(r, catalogue, lang, names) for r in records if is_public(catalogue, r.get("category"))]


def codes_to_name(records: Iterable[Mapping[str, Any]]) -> set[str]:
    """The grid and community codes whose names a listing needs."""
    codes: set[str] = set()
    for r in records:
        for key in ("grid_code", "community_code"):
            value = r.get(key)
            if isinstance(value, str) and value:
                codes.add(value)
    return codes


__all__ = [
    "PUBLIC_DECIMALS",
    "PUBLIC_KEYS",
    "codes_to_name",
    "is_public",
    "public_category_values",
    "public_request_dict",
    "public_request_dicts",
    "rounded",
]
