"""Checks of the district > street > community > grid hierarchy, on plain GeoDataFrames.

Pure functions (no store, no files) so that the importer, the partition planner and the
activation step all apply the same rules:

* codes follow :mod:`gridmap.codes` (length per level, prefix of the parent's code);
* codes are unique (within the frame, and against codes already stored);
* a child's parent exists and the child lies within it, allowing ``settings.within_tolerance_m``
  of digitising noise; the part outside is measured in a metric working CRS (area in m², how
  far it reaches out in m) so the message says how bad it is;
* every grid lies in exactly one community, by code prefix AND by geometry (a grid whose
  interior reaches more than the tolerance into a second community breaks the rule).

Frames hold lon/lat geometry (storage CRS) and the columns of ``schema.AREAS`` / ``schema.GRIDS``.
Each function returns a list of :class:`Violation`; :func:`raise_if_any` turns them into one
ValidationError that lists them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.codes import validate_code
from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.model import AreaLevel
from gridmap.schema import AREAS_SPEC, GRIDS_SPEC

# Column names, looked up in the schema so that a renamed column fails at import, not silently.
CODE = AREAS_SPEC.column("code").name
NAME = AREAS_SPEC.column("name").name
LEVEL = AREAS_SPEC.column("level").name
PARENT_CODE = AREAS_SPEC.column("parent_code").name
COMMUNITY_CODE = GRIDS_SPEC.column("community_code").name
GENERATION_ID = GRIDS_SPEC.column("generation_id").name


@dataclass(frozen=True)
class Violation:
    """One broken rule: which features (codes, names, 0-based rows), by how much (m or m²)."""

    rule: str
    message: str
    codes: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    rows: tuple[int, ...] = ()
    measures: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["codes"], out["names"], out["rows"] = list(self.codes), list(self.names), list(self.rows)
        return out


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _who(code: str, name: str) -> str:
    return f"{code} {name}".strip() or "(no code)"


def code_violations(frame: pd.DataFrame, level: AreaLevel) -> list[Violation]:
    """Every row whose code is malformed for ``level`` or does not start with its parent_code."""
    out = []
    parents = frame[PARENT_CODE] if PARENT_CODE in frame.columns else pd.Series([None] * len(frame))
    for row, (code, name, parent) in enumerate(zip(frame[CODE], frame[NAME], parents, strict=True)):
        parent_code = _text(parent) or None
        try:
            validate_code(_text(code), level, parent_code if level is not AreaLevel.DISTRICT else None)
        except ValidationError as exc:
            rule = "code_parent_prefix" if "does not start with" in exc.message else "code_format"
            out.append(
                Violation(
                    rule,
                    f"{level.value} {_who(_text(code), _text(name))}: {exc.message}",
                    (_text(code),),
                    (_text(name),),
                    (row,),
                )
            )
    return out


def duplicate_code_violations(
    frame: pd.DataFrame, *, existing: Iterable[str] = (), key: Sequence[str] = (CODE,), what: str = "code"
) -> list[Violation]:
    """Codes (or key tuples) used twice in ``frame``, or already present in ``existing`` (the store)."""
    keys = [tuple(_text(v) for v in values) for values in frame[list(key)].itertuples(index=False, name=None)]
    names = [_text(n) for n in frame[NAME]] if NAME in frame.columns else [""] * len(frame)
    seen: dict[tuple[str, ...], list[int]] = {}
    for row, k in enumerate(keys):
        seen.setdefault(k, []).append(row)
    stored = {(e,) if isinstance(e, str) else tuple(_text(v) for v in e) for e in existing}
    out = []
    for k, rows in seen.items():
        label = "/".join(k)
        if len(rows) > 1:
            shown = ", ".join(f"feature {r + 1}" + (f" ({names[r]})" if names[r] else "") for r in rows)
            out.append(
                Violation(
                    "duplicate_code",
                    f"{what} {label} is used {len(rows)} times: {shown}",
                    (label,) * len(rows),
                    tuple(names[r] for r in rows),
                    tuple(rows),
                )
            )
        if k in stored:
            out.append(
                Violation(
                    "duplicate_code",
                    f"{what} {label} already exists in the store",
                    (label,),
                    (names[rows[0]],),
                    (rows[0],),
                )
            )
    return out


#: Longest edge (degrees, ~100 m) kept before projecting. Stored edges are straight in lon/lat; a
#: 20 km edge projected by its end points alone bows by metres, enough to fake "outside parent".
DENSIFY_DEG = 0.001


def _metric(frames: Sequence[gpd.GeoDataFrame | gpd.GeoSeries]) -> list[gpd.GeoSeries]:
    """The geometries of ``frames`` in one shared metric working CRS (m, m²), densified first."""
    from gridmap.crs import working_crs_for

    series = [f.geometry if isinstance(f, gpd.GeoDataFrame) else f for f in frames]
    boxes = [s.total_bounds for s in series if len(s) and not s.is_empty.all()]
    if not boxes:
        return series
    stacked = np.vstack(boxes)
    bounds = (stacked[:, 0].min(), stacked[:, 1].min(), stacked[:, 2].max(), stacked[:, 3].max())
    crs = working_crs_for(tuple(float(b) for b in bounds))
    return [s.segmentize(DENSIFY_DEG).to_crs(crs) for s in series]


def outside_measures(child_m: Any, parent_m: Any) -> tuple[float, float]:
    """(area outside the parent in m², farthest reach outside in m) of metric geometries."""
    outside = shapely.difference(child_m, parent_m)
    if outside.is_empty:
        return 0.0, 0.0
    boundary = outside.boundary if outside.geom_type in {"Polygon", "MultiPolygon"} else outside
    step = max(0.5, float(boundary.length) / 2000.0)
    points = np.asarray(shapely.points(shapely.get_coordinates(shapely.segmentize(boundary, step))))
    reach = float(np.max(shapely.distance(points, parent_m))) if len(points) else 0.0
    return float(outside.area), reach


def within_parent_violations(
    children: gpd.GeoDataFrame,
    parents: gpd.GeoDataFrame,
    settings: Settings,
    *,
    parent_column: str = PARENT_CODE,
    child_label: str = "area",
) -> list[Violation]:
    """Children whose parent (by ``parent_column`` -> parents.code) is missing or who stick out of it."""
    lookup = {_text(c): i for i, c in enumerate(parents[CODE])}
    child_m, parent_m = _metric([children, parents])
    out = []
    for row, (code, name, parent) in enumerate(
        zip(children[CODE], children[NAME], children[parent_column], strict=True)
    ):
        who = f"{child_label} {_who(_text(code), _text(name))}"
        i = lookup.get(_text(parent))
        if i is None:
            out.append(
                Violation(
                    "missing_parent",
                    f"{who}: its parent {_text(parent) or '(none)'} does not exist; import the parent level first",
                    (_text(code),),
                    (_text(name),),
                    (row,),
                )
            )
            continue
        geom = child_m.iloc[row]
        if geom is None or geom.is_empty:
            continue
        area, reach = outside_measures(geom, parent_m.iloc[i])
        if reach > settings.within_tolerance_m:
            pname = _text(parents[NAME].iloc[i]) if NAME in parents.columns else ""
            msg = (
                f"{who} lies partly outside its parent {_who(_text(parent), pname)}: {area:.1f} m² outside, "
                f"reaching {reach:.1f} m beyond it (tolerance {settings.within_tolerance_m:g} m)"
            )
            out.append(
                Violation(
                    "outside_parent",
                    msg,
                    (_text(code), _text(parent)),
                    (_text(name), pname),
                    (row,),
                    {"area_outside_m2": area, "distance_outside_m": reach},
                )
            )
    return out


def grid_violations(grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, settings: Settings) -> list[Violation]:
    """Each grid: code under its community_code, inside that community, and in no other community."""
    out = []
    for row, (code, name, comm) in enumerate(zip(grids[CODE], grids[NAME], grids[COMMUNITY_CODE], strict=True)):
        try:
            validate_code(_text(code), AreaLevel.GRID, _text(comm))
        except ValidationError as exc:
            out.append(
                Violation(
                    "grid_community_prefix",
                    f"grid {_who(_text(code), _text(name))}: {exc.message}",
                    (_text(code),),
                    (_text(name),),
                    (row,),
                )
            )
    out += within_parent_violations(grids, communities, settings, parent_column=COMMUNITY_CODE, child_label="grid")
    out += _grids_in_other_communities(grids, communities, settings)
    key = [GENERATION_ID, CODE] if GENERATION_ID in grids.columns else [CODE]
    out += duplicate_code_violations(grids, key=key, what="grid code")
    return out


def _grids_in_other_communities(
    grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, settings: Settings
) -> list[Violation]:
    grid_m, comm_m = _metric([grids, communities])
    shrunk = grid_m.buffer(-settings.within_tolerance_m)
    tree = shapely.STRtree(np.asarray(comm_m.to_numpy()))
    pairs = tree.query(np.asarray(shrunk.to_numpy()), predicate="intersects")
    out = []
    for g, c in zip(*pairs, strict=True):
        own, other = _text(grids[COMMUNITY_CODE].iloc[g]), _text(communities[CODE].iloc[c])
        if own == other:
            continue
        overlap = float(shapely.area(shapely.intersection(grid_m.iloc[g], comm_m.iloc[c])))
        code, name = _text(grids[CODE].iloc[g]), _text(grids[NAME].iloc[g])
        cname = _text(communities[NAME].iloc[c])
        msg = (
            f"grid {_who(code, name)} belongs to community {own} but {overlap:.1f} m² of it lies in community "
            f"{_who(other, cname)}; a grid must lie in exactly one community"
        )
        out.append(
            Violation(
                "grid_in_several_communities", msg, (code, other), (name, cname), (int(g),), {"overlap_m2": overlap}
            )
        )
    return out


def hierarchy_violations(
    areas: gpd.GeoDataFrame, settings: Settings, *, grids: gpd.GeoDataFrame | None = None
) -> list[Violation]:
    """All rules over a whole areas layer (levels district, street, community) and optionally grids."""
    out = duplicate_code_violations(areas)
    for level in (AreaLevel.DISTRICT, AreaLevel.STREET, AreaLevel.COMMUNITY):
        children = areas[areas[LEVEL] == level.value].reset_index(drop=True)
        out += code_violations(children, level)
        if level.parent is not None and len(children):
            parents = areas[areas[LEVEL] == level.parent.value].reset_index(drop=True)
            out += within_parent_violations(children, parents, settings, child_label=level.value)
    if grids is not None and len(grids):
        communities = areas[areas[LEVEL] == AreaLevel.COMMUNITY.value].reset_index(drop=True)
        out += grid_violations(grids, communities, settings)
    return out


def _line(v: Violation) -> str:
    where = ", ".join(f"feature {r + 1}" for r in v.rows)
    return f"[{v.rule}] " + (f"{where}: " if where else "") + v.message


def raise_if_any(violations: Sequence[Violation], *, source: str, shown: int = 10) -> None:
    """One ValidationError listing every violation in ``details`` (and the first ``shown`` in the message)."""
    if not violations:
        return
    rules = sorted({v.rule for v in violations})
    lines = [_line(v) for v in violations[:shown]]
    more = f"\n  ... and {len(violations) - shown} more (see details)" if len(violations) > shown else ""
    raise ValidationError(
        f"{source}: {len(violations)} hierarchy violation(s) ({', '.join(rules)}):\n  " + "\n  ".join(lines) + more,
        code="hierarchy_violation",
        details=[v.to_dict() for v in violations],
    )


__all__ = [
    "Violation",
    "code_violations",
    "duplicate_code_violations",
    "grid_violations",
    "hierarchy_violations",
    "outside_measures",
    "raise_if_any",
    "within_parent_violations",
]
