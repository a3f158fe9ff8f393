"""Hand edits of a community's grids: move a block, split a grid along a line, merge two grids.

Why edits are operations and not geometry sent by the browser: the server replays the list of
operations on a known generation every time (preview and save), so what is validated and saved is
computed here, never trusted from a client, and a planner's work is a small JSON list that can be
kept and replayed on a newer version after a conflict.

Operations (lon/lat in the storage CRS; codes are 15-digit grid codes):

* ``{"op": "move_block", "point": [lon, lat], "to": CODE}``: the road block under ``point`` (its part
  inside the grid holding ``point``) moves to the neighbouring grid ``to``;
* ``{"op": "split", "grid": CODE, "line": [[lon, lat], ...]}``: the line must cross the grid from edge
  to edge and cut it in two; the part with more households keeps the code, the other gets the next
  code of the community (never a retired one);
* ``{"op": "merge", "grids": [KEEP, GONE]}``: two neighbouring grids become one under ``KEEP``.

All geometry work happens in the community's working CRS (metres, m²); the grids are re-noded into
an exact coverage at the end and every count comes from the buildings' representative points.
Besides the coverage certificate, edits are checked for lines that cut through buildings (P-23).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from shapely.geometry import LineString, Point
from shapely.geometry.base import BaseGeometry

from gridmap.codes import grid_code, grid_name, validate_code
from gridmap.errors import ValidationError
from gridmap.model import AreaLevel, GridKind
from gridmap.partition.blocks.faces import coverage_from_polygons, faces_from_lines
from gridmap.partition.blocks.households import HOUSEHOLDS, POPULATION
from gridmap.partition.certificate.checks import projected
from gridmap.partition.grids.assemble import polygonal
from gridmap.partition.problem import Band
from gridmap.partition.rebalance.plan import sequence_of
from gridmap.schema import GRIDS_SPEC

OPS = ("move_block", "split", "merge")
#: Shared boundary (m) needed for two grids (or a block and a grid) to count as neighbours.
MIN_SHARED_M = 0.5
#: Distance (m) within which two outlines count as the same line (projection and noding noise).
SNAP_M = 0.05
#: Pieces smaller than this (m²) are noise, not a part of a split or a moved block.
MIN_PIECE_M2 = 1.0
MAX_EDITS = 200
MAX_LINE_POINTS = 500
_COLUMNS = GRIDS_SPEC.column_names


@dataclass(frozen=True)
class Edit:
    """One validated operation (see the module docstring)."""

    op: str
    point: tuple[float, float] | None = None
    to: str | None = None
    grid: str | None = None
    line: tuple[tuple[float, float], ...] = ()
    grids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        if self.op == "move_block":
            return {"op": self.op, "point": list(self.point or ()), "to": self.to}
        if self.op == "split":
            return {"op": self.op, "grid": self.grid, "line": [list(p) for p in self.line]}
        return {"op": self.op, "grids": list(self.grids)}


def _lonlat(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValidationError(f"{where}: expected [lon, lat], got {value!r}")
    try:
        lon, lat = float(value[0]), float(value[1])
    except (TypeError, ValueError):
        raise ValidationError(f"{where}: expected two numbers [lon, lat], got {value!r}") from None
    if not (np.isfinite(lon) and np.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90):
        raise ValidationError(f"{where}: [{lon}, {lat}] is not a longitude/latitude pair")
    return lon, lat


def _grid_code_of(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{where}: expected a 15-digit grid code, got {value!r}")
    validate_code(value, AreaLevel.GRID)
    return value


def edits_from_json(raw: Any) -> list[Edit]:
    """Validate a JSON list of operations; errors name the operation's position and the rule."""
    if not isinstance(raw, list):
        raise ValidationError('edits must be a list of operations like {"op": "merge", "grids": [A, B]}')
    if len(raw) > MAX_EDITS:
        raise ValidationError(f"{len(raw)} edits is more than {MAX_EDITS}; save and continue in a new draft")
    out: list[Edit] = []
    for i, item in enumerate(raw):
        where = f"edit {i + 1}"
        if not isinstance(item, Mapping) or item.get("op") not in OPS:
            raise ValidationError(f"{where}: op must be one of {', '.join(OPS)}")
        op = str(item["op"])
        if op == "move_block":
            out.append(Edit(op, point=_lonlat(item.get("point"), f"{where} point"),
                            to=_grid_code_of(item.get("to"), f"{where} to")))  # fmt: skip
        elif op == "split":
            line = item.get("line")
            if not isinstance(line, list) or not 2 <= len(line) <= MAX_LINE_POINTS:
                raise ValidationError(f"{where}: line must be a list of 2..{MAX_LINE_POINTS} [lon, lat] points")
            out.append(Edit(op, grid=_grid_code_of(item.get("grid"), f"{where} grid"),
                            line=tuple(_lonlat(p, f"{where} line point {k + 1}") for k, p in enumerate(line))))
        else:
            pair = item.get("grids")
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValidationError(f"{where}: grids must be [code to keep, code to merge into it]")
            codes = tuple(_grid_code_of(c, f"{where} grids") for c in pair)
            if codes[0] == codes[1]:
                raise ValidationError(f"{where}: a grid cannot be merged with itself ({codes[0]})")
            out.append(Edit(op, grids=codes))
    return out


@dataclass
class EditState:
    """The grids being edited (metric CRS), in a fixed order, with their attributes by code."""

    crs: pyproj.CRS
    area: BaseGeometry
    geoms: dict[str, BaseGeometry]
    rows: dict[str, dict[str, Any]]
    next_sequence: int
    changes: list[dict[str, Any]] = field(default_factory=list)
    cut_buildings: list[str] = field(default_factory=list)


#: Returns the road blocks (metric CRS) of the community, computed only when a move needs them.
BlocksFn = Callable[[], gpd.GeoDataFrame]


def state_from_grids(grids: gpd.GeoDataFrame, boundary: BaseGeometry, *, crs: pyproj.CRS, storage_epsg: int,
                     used_codes: Iterable[str]) -> EditState:  # fmt: skip
    """The editing state of a generation's grids (storage CRS in, metric inside)."""
    metric = projected(grids, crs)  # lon/lat edges densified first, as the certificate projects them
    area = projected(gpd.GeoDataFrame(geometry=[boundary], crs=storage_epsg), crs).geometry.iloc[0]
    rows = {str(r["code"]): {c: r[c] for c in _COLUMNS if c in r.index} for _, r in metric.iterrows()}
    used = {*map(str, used_codes), *rows}
    return EditState(crs, area, dict(zip(metric["code"].astype(str), metric.geometry, strict=True)), rows,
                     max(map(sequence_of, used)) + 1)  # fmt: skip


def _grid(state: EditState, code: str, where: str) -> BaseGeometry:
    """A base grid's geometry; dedicated and other grids are kept as they are (their own rules)."""
    if code not in state.geoms:
        raise ValidationError(f"{where}: grid {code} is not in this generation")
    kind = state.rows[code].get("kind")
    if kind != GridKind.BASE.value:
        raise ValidationError(f"{where}: grid {code} is a {kind} grid; only base grids are edited here")
    return state.geoms[code]


def _shared(a: BaseGeometry, b: BaseGeometry) -> float:
    """Length (m) of ``a``'s boundary lying on ``b``'s, within ``SNAP_M`` (a block's edge comes from a
    road line, a grid's from its stored outline: they agree to millimetres, not exactly)."""
    return float(shapely.intersection(a.boundary, shapely.buffer(b.boundary, SNAP_M)).length)


def _to_metric(state: EditState, geom: BaseGeometry, storage_epsg: int) -> BaseGeometry:
    return gpd.GeoSeries([geom], crs=storage_epsg).to_crs(state.crs).iloc[0]


def _move_block(state: EditState, edit: Edit, blocks: BlocksFn, storage_epsg: int, where: str) -> None:
    assert edit.point is not None and edit.to is not None
    point = _to_metric(state, Point(edit.point), storage_epsg)
    source = next((c for c, g in state.geoms.items() if g.covers(point)), None)
    if source is None:
        raise ValidationError(f"{where}: the point {list(edit.point)} is not inside any grid of the community")
    _grid(state, source, where)
    target = _grid(state, edit.to, where)
    if source == edit.to:
        raise ValidationError(f"{where}: the block is already in grid {edit.to}")
    frame = blocks()
    hit = frame.loc[frame.geometry.covers(point)]
    if hit.empty:
        raise ValidationError(f"{where}: no road block under the point {list(edit.point)}")
    piece = polygonal(shapely.intersection(hit.geometry.iloc[0], state.geoms[source]))
    if piece.area < MIN_PIECE_M2:
        raise ValidationError(f"{where}: the block under the point has no area inside grid {source}")
    if _shared(piece, target) < MIN_SHARED_M:
        raise ValidationError(f"{where}: the block is not next to grid {edit.to}; a block can only move to a"
                              " grid it shares a boundary with")  # fmt: skip
    rest = polygonal(shapely.difference(state.geoms[source], piece))
    if rest.area < MIN_PIECE_M2:
        raise ValidationError(f"{where}: moving the block would leave grid {source} empty; merge the grids instead")
    state.geoms[source] = rest
    state.geoms[edit.to] = shapely.union(target, piece)
    state.changes.append({"op": "move_block", "from": source, "to": edit.to, "area_m2": round(piece.area, 1)})


def _split(state: EditState, edit: Edit, buildings: gpd.GeoDataFrame, storage_epsg: int, where: str,
           community_code: str, community_name: str) -> None:  # fmt: skip
    assert edit.grid is not None
    geom = _grid(state, edit.grid, where)
    line = _to_metric(state, LineString(edit.line), storage_epsg)
    faces = [f for f in faces_from_lines(geom, [line]) if f.area >= MIN_PIECE_M2]
    if len(faces) != 2:
        raise ValidationError(f"{where}: the line must cross grid {edit.grid} from edge to edge once and cut it in"
                              f" two (it cuts it into {len(faces)} part(s))")  # fmt: skip
    inside = shapely.intersection(line, geom)  # only the part of the line that does the cutting
    cut = buildings.loc[buildings.geometry.crosses(inside) | buildings.geometry.contains(inside)]
    state.cut_buildings.extend(str(b) for b in cut["building_id"])
    hh = [_households_in(buildings, f) for f in faces]
    keep = 0 if (hh[0], faces[0].area) >= (hh[1], faces[1].area) else 1
    new = grid_code(community_code, state.next_sequence)
    state.next_sequence += 1
    state.geoms[edit.grid] = faces[keep]
    state.geoms[new] = faces[1 - keep]
    state.rows[new] = {**state.rows[edit.grid], "code": new, "name": grid_name(community_name, sequence_of(new)),
                       "flags": [], "subtype": None}  # fmt: skip
    state.changes.append({"op": "split", "grid": edit.grid, "new": new})


def _merge(state: EditState, edit: Edit, where: str) -> None:
    keep, gone = edit.grids
    a, b = _grid(state, keep, where), _grid(state, gone, where)
    if _shared(a, b) < MIN_SHARED_M:
        raise ValidationError(f"{where}: grids {keep} and {gone} do not share a boundary; only neighbours can merge")
    state.geoms[keep] = shapely.union(a, b)
    del state.geoms[gone]
    del state.rows[gone]
    state.changes.append({"op": "merge", "keep": keep, "retired": gone})


def _households_in(buildings: gpd.GeoDataFrame, geom: BaseGeometry) -> int:
    if buildings.empty:
        return 0
    inside = shapely.covers(geom, np.asarray(buildings["rep"].values, dtype=object))
    return int(buildings.loc[inside, HOUSEHOLDS].sum())


def apply_edits(
    state: EditState,
    edits: Sequence[Edit],
    *,
    buildings: gpd.GeoDataFrame,
    blocks: BlocksFn,
    storage_epsg: int,
    community_code: str,
    community_name: str,
) -> None:
    """Apply ``edits`` in order to ``state`` (in place). ``buildings`` are metric with a ``rep`` point."""
    for i, edit in enumerate(edits):
        where = f"edit {i + 1} ({edit.op})"
        if edit.op == "move_block":
            _move_block(state, edit, blocks, storage_epsg, where)
        elif edit.op == "split":
            _split(state, edit, buildings, storage_epsg, where, community_code, community_name)
        else:
            _merge(state, edit, where)


def grids_from_state(state: EditState, buildings: gpd.GeoDataFrame, band: Band, storage_epsg: int
                     ) -> gpd.GeoDataFrame:  # fmt: skip
    """The edited grids re-noded into an exact coverage, recounted, flagged, in the storage CRS."""
    codes = list(state.geoms)
    renoded = coverage_from_polygons([state.geoms[c] for c in codes], state.area)
    rep = np.asarray(buildings["rep"].values, dtype=object) if len(buildings) else np.zeros(0, dtype=object)
    owner = np.full(len(rep), -1, dtype=np.int64)
    geoms = [polygonal(g) for g in renoded]
    if len(rep):
        p_idx, g_idx = shapely.STRtree(np.asarray(geoms, dtype=object)).query(rep, predicate="intersects")
        for p, g in sorted(zip(p_idx.tolist(), g_idx.tolist(), strict=True), reverse=True):
            owner[p] = g
    hh = buildings[HOUSEHOLDS].to_numpy(dtype=float) if len(rep) else np.zeros(0)
    pop = pd.to_numeric(buildings[POPULATION], errors="coerce").fillna(0).to_numpy() if POPULATION in buildings \
        else None
    rows = []
    for k, code in enumerate(codes):
        row = dict(state.rows[code])
        households = round(float(hh[owner == k].sum()))
        row.update(code=code, households=households, area_m2=round(float(geoms[k].area), 1),
                   population=None if pop is None else round(float(pop[owner == k].sum())))  # fmt: skip
        row["flags"] = _flags(row.get("flags"), geoms[k], households, band, row.get("kind"))
        rows.append({c: row.get(c) for c in _COLUMNS if c not in ("valid_from", "valid_to")})
    frame = gpd.GeoDataFrame(rows, geometry=[shapely.MultiPolygon(list(shapely.get_parts(g))) for g in geoms],
                             crs=state.crs).to_crs(storage_epsg)  # fmt: skip
    for col in ("households", "population", "generation_id"):
        frame[col] = pd.array([None if pd.isna(v) else int(v) for v in frame[col]], dtype="Int64")
    return frame


def _flags(old: Any, geom: BaseGeometry, households: int, band: Band, kind: Any) -> list[dict[str, str]]:
    """Informational flags kept; band and contiguity flags recomputed (base grids only for the band)."""
    kept = [f for f in (old if isinstance(old, list) else []) if isinstance(f, dict)
            and f.get("code") not in ("under_min", "over_max", "not_contiguous")]  # fmt: skip
    if len(shapely.get_parts(geom)) > 1 and not any(f.get("code") in ("disconnected_part", "multipart") for f in kept):
        kept.append({"code": "not_contiguous", "message": "the grid is in several pieces"})
    if kind == GridKind.BASE.value and households < band.min:
        kept.append({"code": "under_min", "message": f"{households} households, below the band minimum {band.min}"})
    elif kind == GridKind.BASE.value and households > band.max:
        kept.append({"code": "over_max", "message": f"{households} households, above the band maximum {band.max}"})
    return kept
