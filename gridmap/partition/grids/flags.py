"""Flags on drafted grids: what a planner must know about each grid, and why a grid misses the band.

Every base grid out of band gets ``under_min`` or ``over_max`` with a reason that starts with
"proved infeasible:" (arithmetic, a single building over the maximum, or the exact model showed
that no grouping of the atoms does better) or "heuristic:" (the strategy found nothing better but
nothing proves that nothing better exists), so a planner knows where redrawing by hand can help.

Other flags: ``estate_split`` (part of an estate that has grids of its own), ``estate_over_max``
(an estate kept whole in one grid over the maximum because it fits no grids of its own),
``estate_shared`` (part of such an estate whose parts joined neighbouring blocks instead),
``block_split`` (part of a block whose pieces lie in several grids), ``not_contiguous`` and, for
dedicated grids of separate unit sites, ``multipart``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from gridmap.model import GridKind
from gridmap.partition.blocks.atoms import ATOM_KIND, BLOCK_IDS, ESTATE_GROUP
from gridmap.partition.problem import Band

if TYPE_CHECKING:
    from gridmap.partition.grids.pipeline import Draft, Pipeline

#: Reason prefixes (the flag message says which kind of knowledge stands behind a miss).
PROVED = "proved infeasible"
HEURISTIC = "heuristic"


def flag_drafts(drafts: list[Draft], p: Pipeline, households: np.ndarray, band: Band) -> None:
    """Flags for estate grids, split blocks, multipart shapes and every base grid out of band."""
    n_base = sum(d.kind is GridKind.BASE for d in drafts)
    split_blocks = _blocks_in_several_drafts(drafts, p)
    estate_of_atom = p.atoms[ESTATE_GROUP].tolist()
    decisions: dict[int, list[dict[str, Any]]] = {}
    for dec in p.flexible:
        for label in dec["labels"]:
            decisions.setdefault(int(label), []).append(dec)
    for i, d in enumerate(drafts):
        if d.kind is not GridKind.BASE:
            if d.geometry.geom_type == "MultiPolygon":
                d.flag("multipart", "a cluster of separate unit sites (P-29) forms this dedicated grid")
            continue
        group = p.groups[d.group] if d.group is not None else None
        if group is not None and group.estate is not None and any(estate_of_atom[a] == group.estate for a in d.atoms):
            d.flag("estate_split", f"estate {group.estate.split('#')[0]} has {group.households} households, more than"
                   f" {band.max}: it is split into grids of its own")  # fmt: skip
        mine = decisions.get(d.label, []) if d.label is not None else []
        for dec in (x for x in mine if x["kind"] == "estate"):
            _flag_flexible_estate(d, dec, band)
        if any(b in split_blocks for b in _piece_blocks(d, p)):
            d.flag("block_split", "contains part of a block that held more households than one grid may")
        if d.geometry.geom_type == "MultiPolygon" and not any(f["code"] == "disconnected_part" for f in d.flags):
            d.flag("not_contiguous", "the grid is in several pieces")
        h = int(households[i])
        if h < band.min:
            why = reason_of(d, p, h, band, n_base)
            d.flag("under_min", f"{h} households, below the band minimum {band.min}: {why}")
        elif h > band.max:
            why = reason_of(d, p, h, band, n_base)
            d.flag("over_max", f"{h} households, above the band maximum {band.max}: {why}")


def _flag_flexible_estate(d: Draft, dec: dict[str, Any], band: Band) -> None:
    span = f"{band.min}..{band.max}"
    if dec["choice"] == "kept_whole":
        d.flag("estate_over_max", f"estate {dec['id']} ({dec['households']} households) is kept whole in one grid: "
               f"it cannot be divided into grids of {span} of its own (P-25)")  # fmt: skip
    else:
        d.flag("estate_shared", f"holds part of estate {dec['id']} ({dec['households']} households), which fits no "
               f"number of grids of {span} of its own: its parts join neighbouring blocks")  # fmt: skip


def _piece_blocks(d: Draft, p: Pipeline) -> set[int]:
    kinds, blocks = p.atoms[ATOM_KIND].to_numpy(), p.atoms[BLOCK_IDS].to_numpy()
    return {int(blocks[a][0]) for a in d.atoms if kinds[a] == "piece"}


def _blocks_in_several_drafts(drafts: list[Draft], p: Pipeline) -> set[int]:
    """Ids of split blocks whose pieces ended up in more than one grid."""
    seen: dict[int, set[int]] = {}
    for i, d in enumerate(drafts):
        for b in _piece_blocks(d, p):
            seen.setdefault(b, set()).add(i)
    return {b for b, where in seen.items() if len(where) > 1}


def reason_of(d: Draft, p: Pipeline, h: int, band: Band, n_base: int) -> str:
    """Why a base grid is out of band, in words a planner can act on, prefixed PROVED or HEURISTIC."""
    group = p.groups[d.group] if d.group is not None else None
    total = int(sum(g.households for g in p.groups))
    if n_base == 1 and total < band.min:
        return f"{PROVED}: the community has only {total} households outside dedicated grids, too few for one grid"
    note = p.notes.get(d.label, "") if d.label is not None else ""
    kept = [x for x in p.flexible if d.label in x["labels"] and x["choice"] == "kept_whole"]
    if kept:
        return _kept_whole_reason(kept[0], band)
    if len(d.atoms) == 1 and h > band.max:
        return _heavy_atom_reason(d.atoms[0], p, band) or note or f"{HEURISTIC}: one atom over the band maximum"
    if any(f["code"] == "disconnected_part" for f in d.flags) and not note:
        return (f"{HEURISTIC}: a separate part (across a river, a railway or a gap in the boundary) joined this grid "
                "after partitioning")  # fmt: skip
    if note:
        return note
    if group is not None and group.households < band.min:
        return f"{PROVED}: its connected part has only {group.households} households"
    return f"{HEURISTIC}: the partition strategy found no better balance for this part of the community"


def _kept_whole_reason(dec: dict[str, Any], band: Band) -> str:
    what = f"{dec['kind']} {dec['id']} ({dec['households']} households) is kept whole: it cannot be divided into " \
           f"grids of {band.min}..{band.max} of its own, and "  # fmt: skip
    if dec.get("parts_proved"):
        return (
            f"{PROVED}: {what}no grouping of its parts with neighbouring blocks keeps those grids in band (exact model)"
        )
    return f"{HEURISTIC}: {what}letting its parts join neighbouring blocks left more households outside the band"


def _heavy_atom_reason(atom: int, p: Pipeline, band: Band) -> str:
    """A single atom over the maximum: proved when it is one building (buildings are never split)."""
    members = np.flatnonzero(p.building_atom == atom)
    if len(members) == 1:
        h = int(p.base_buildings["households"].to_numpy()[members[0]])
        return (
            f"{PROVED}: one building holds {h} households, more than {band.max}, and a building is never split (P-23)"
        )
    return ""
