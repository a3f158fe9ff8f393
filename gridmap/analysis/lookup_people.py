"""Workers and service centres as the public sees them, indexed by grid and area code.

Split from :mod:`gridmap.analysis.lookup` to keep modules small. Privacy (R-32..R-34): only the
fields in ``PUBLIC_WORKER_FIELDS`` ever leave this module; ids, devices, partners and inactive
workers stay behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import geopandas as gpd
import pandas as pd

from gridmap.model import WorkerRole

#: The only worker fields a resident may see (R-22, R-27); nothing else leaves the index.
PUBLIC_WORKER_FIELDS: tuple[str, ...] = ("name", "role", "phone", "photo", "duties")


@dataclass(frozen=True)
class WorkerCard:
    """A worker as the public sees them: exactly ``PUBLIC_WORKER_FIELDS``, no id, device or partner."""

    name: str
    role: str
    phone: str | None
    photo: str | None
    duties: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CentreInfo:
    name: str
    address: str | None
    phone: str | None
    opening_hours: str | None
    lon: float
    lat: float


def text_or_none(value: Any) -> str | None:
    """None for missing values (None, NaN, pd.NA), else the value as str."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _card(row: Mapping[str, Any]) -> WorkerCard:
    return WorkerCard(
        name=str(row["name"]),
        role=str(row["role"]),
        phone=text_or_none(row.get("phone")),
        photo=text_or_none(row.get("photo")),
        duties=text_or_none(row.get("duties")),
    )


def _grid_codes_of(row: Mapping[str, Any]) -> list[str]:
    codes = [text_or_none(row.get("grid_code"))]
    extra = row.get("extra_grid_codes")
    if isinstance(extra, Iterable) and not isinstance(extra, str):
        codes.extend(text_or_none(c) for c in extra)
    return [c for c in codes if c]


def _active_rows(workers: pd.DataFrame) -> list[dict[str, Any]]:
    if workers.empty:
        return []
    ordered = workers.sort_values("worker_id", kind="stable") if "worker_id" in workers else workers
    rows = [{str(k): v for k, v in r.items()} for r in ordered.to_dict("records")]
    return [r for r in rows if r.get("active") is not False]


def workers_by_grid(workers: pd.DataFrame) -> dict[str, list[WorkerCard]]:
    """Grid code -> workers serving it (main grid or an extra grid); leaders first, then by id."""
    out: dict[str, list[WorkerCard]] = {}
    for row in _active_rows(workers):
        card = _card(row)
        for code in _grid_codes_of(row):
            out.setdefault(code, []).append(card)
    for cards in out.values():
        cards.sort(key=lambda c: c.role != WorkerRole.GRID_LEADER.value)
    return out


def leaders_by_code(workers: pd.DataFrame) -> dict[str, WorkerCard]:
    """Grid or community code -> grid leader (网格长); a leader of any grid leads its community."""
    out: dict[str, WorkerCard] = {}
    for row in _active_rows(workers):
        if row.get("role") != WorkerRole.GRID_LEADER.value:
            continue
        card = _card(row)
        for code in _grid_codes_of(row):
            out.setdefault(code, card)
            out.setdefault(code[:12], card)
    return out


def centres_by_area(centres: gpd.GeoDataFrame) -> dict[str, CentreInfo]:
    out: dict[str, CentreInfo] = {}
    if centres.empty:
        return out
    centres = centres.to_crs(4326) if centres.crs is not None and centres.crs.to_epsg() != 4326 else centres
    for _, r in centres.sort_values("centre_id", kind="stable").iterrows():
        pt = r.geometry
        out.setdefault(
            str(r["area_code"]),
            CentreInfo(
                name=str(r["name"]),
                address=text_or_none(r.get("address")),
                phone=text_or_none(r.get("phone")),
                opening_hours=text_or_none(r.get("opening_hours")),
                lon=float(pt.x),
                lat=float(pt.y),
            ),
        )
    return out
