"""Import a file into a layer: read, check everything, then write it all in ONE transaction.

The order matters: file-level problems (bad geometry, swapped coordinates, missing columns...)
are collected over the whole file and raised together before the store is touched; then, inside
one store transaction, the rows are checked against what is stored (duplicate codes, parents
that must exist and contain their children) and written. Any error rolls the transaction back,
so a failed import writes nothing.

Layers: ``districts``, ``streets``, ``communities`` (all into schema.AREAS with ``level`` set),
``roads``, ``buildings`` (polygons or points; households estimated when absent, see
:mod:`gridmap.io.households`), ``estates``, ``units``, ``workers`` (CSV, no geometry) and
``incidents``. Buildings, estates, units and incidents without a community code get the code of
the stored community that contains them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap import audit, hierarchy, schema
from gridmap.codes import parent_code_of
from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.io import columns, prepare
from gridmap.io.checks import FeatureProblem
from gridmap.model import AreaLevel
from gridmap.store.base import Store, StoreTransaction, iter_chunks

#: ``progress(stage, done, total)``; stages: read, check, write. Called from the importing thread.
ProgressCallback = Callable[[str, int, int], None]

WRITE_CHUNK_ROWS = 5000
_CODE = schema.AREAS_SPEC.column("code").name
_LEVEL = schema.AREAS_SPEC.column("level").name
_PARENT = schema.AREAS_SPEC.column("parent_code").name
_COMMUNITY = schema.BUILDINGS_SPEC.column("community_code").name
_STREET = schema.INCIDENTS_SPEC.column("street_code").name
_SOURCE = schema.AREAS_SPEC.column("source").name
_SYNTHETIC = schema.AREAS_SPEC.column("synthetic").name


@dataclass
class ImportReport:
    """What an import did, for the CLI summary, ``--json`` and the portal."""

    layer: str
    target: str
    path: str
    crs: str = ""
    features_read: int = 0
    features_written: int = 0
    repaired: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    households_total: int | None = None
    households_estimated: int | None = None
    community_codes_assigned: int | None = None
    timings_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One paragraph for people: counts, repairs, households, warnings, time."""
        parts = [
            f"Imported {self.features_written} {self.layer} feature(s) from {Path(self.path).name} "
            f"({self.features_read} read, CRS {self.crs}) into layer {self.target} "
            f"in {self.timings_s.get('total', 0.0):.2f} s."
        ]
        if self.repaired:
            parts.append(f"{len(self.repaired)} geometry(ies) repaired with --fix.")
        if self.households_total is not None:
            parts.append(
                f"Households: {self.households_total:,} in total, {self.households_estimated or 0} building(s) "
                "estimated from footprint and floors."
            )
        if self.community_codes_assigned:
            parts.append(f"{self.community_codes_assigned} feature(s) got their community code from the map.")
        if self.warnings:
            parts.append(f"{len(self.warnings)} warning(s): " + " | ".join(self.warnings))
        return " ".join(parts)


def _tick(progress: ProgressCallback | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def raise_feature_problems(problems: Sequence[FeatureProblem], *, path: Path, layer: str, shown: int = 10) -> None:
    """One ValidationError naming the file, each feature and its rule; ``details`` lists all of them."""
    if not problems:
        return
    rules = sorted({p.rule for p in problems})
    lines = [f"[{p.rule}] {p.message}" for p in problems[:shown]]
    more = f"\n  ... and {len(problems) - shown} more (see details)" if len(problems) > shown else ""
    raise ValidationError(
        f"{path}: {len(problems)} problem(s) in {len({p.row for p in problems})} feature(s) stop the {layer} import "
        f"({', '.join(rules)}):\n  " + "\n  ".join(lines) + more,
        code="invalid_features",
        details=[{"file": str(path), **p.to_dict()} for p in problems],
    )


def import_layer(
    store: Store,
    settings: Settings,
    layer: str,
    path: str | Path,
    *,
    crs: str | None = None,
    column_map: Mapping[str, str] | None = None,
    fix: bool = False,
    file_layer: str | None = None,
    progress: ProgressCallback | None = None,
    actor: str | None = None,
) -> ImportReport:
    """Import ``path`` into ``layer`` all-or-nothing (see the module docstring for the steps).

    The audit log gets one ``data.import`` row (``actor``, layer, file, counts, repairs) in the same
    transaction, so a failed import leaves no trace and a done one always does.
    """
    started = time.perf_counter()
    spec = columns.import_layer_named(layer)
    p = Path(path)
    _tick(progress, "read", 0, 1)
    source = prepare.read_for_layer(p, spec, file_layer=file_layer, column_map=column_map)
    report = ImportReport(layer=spec.name, target=spec.target, path=str(p))
    report.timings_s["read"] = time.perf_counter() - started
    _tick(progress, "read", 1, 1)
    _tick(progress, "check", 0, len(source.frame))
    prepared = prepare.prepare_features(source, spec, settings, crs=crs, column_map=column_map, fix=fix)
    raise_feature_problems(prepared.problems, path=p, layer=spec.name)
    _tick(progress, "check", len(source.frame), len(source.frame))
    prepare.finish_geometries(prepared, spec)
    report.crs, report.features_read = prepared.crs.name, prepared.features_read
    report.repaired = [r.to_dict() for r in prepared.repairs]
    if spec.name == "buildings":
        report.households_total, report.households_estimated = prepare.add_households(prepared, settings)
    report.warnings = prepared.warnings
    checked = time.perf_counter()
    report.timings_s["check"] = checked - started - report.timings_s["read"]
    with store.transaction() as tx:
        _check_against_store(tx, spec, prepared, settings, path=p)
        report.community_codes_assigned = _assign_community_codes(tx, spec, prepared, report.warnings)
        rows = rows_for_store(prepared.frame, spec, source_name=p.name)
        report.features_written = _write(tx, spec.target, rows, progress)
        audit.record(tx, "data.import", actor=actor, target=spec.target, detail={
            "layer": spec.name, "file": p.name, "crs": report.crs, "features": report.features_written,
            "repaired": [r["feature"] for r in report.repaired]})
    report.timings_s["write"] = time.perf_counter() - checked
    report.timings_s["total"] = time.perf_counter() - started
    return report


def _check_against_store(
    tx: StoreTransaction, spec: columns.ImportLayer, prepared: prepare.Prepared, settings: Settings, *, path: Path
) -> None:
    frame = prepared.frame
    if spec.level is not None:
        violations = _area_violations(tx, spec.level, frame, settings)
    elif spec.spec.key:
        key = spec.spec.key[0]
        stored = tx.read(spec.target, columns=[key])[key].dropna().astype(str).tolist()
        violations = hierarchy.duplicate_code_violations(frame, existing=stored, key=(key,), what=key)
    else:
        return
    hierarchy.raise_if_any(violations, source=str(path))


def _area_violations(
    tx: StoreTransaction, level: AreaLevel, frame: pd.DataFrame, settings: Settings
) -> list[hierarchy.Violation]:
    """Codes well formed and unique (file and store), parent stored, child within parent."""
    frame[_PARENT] = [
        given if given is not None and not pd.isna(given) else _parent_or_none(code)
        for given, code in zip(frame[_PARENT], frame[_CODE], strict=True)
    ]
    violations = hierarchy.code_violations(frame, level)
    stored = tx.read(schema.AREAS, columns=[_CODE])[_CODE].dropna().astype(str).tolist()
    violations += hierarchy.duplicate_code_violations(frame, existing=stored)
    if level.parent is not None:
        parents = tx.read(schema.AREAS, where={_LEVEL: level.parent.value})
        violations += hierarchy.within_parent_violations(frame, parents, settings, child_label=level.value)
    return violations


def _parent_or_none(code: Any) -> str | None:
    try:
        return parent_code_of(str(code))
    except ValidationError:
        return None  # a malformed code is reported by code_violations


def _assign_community_codes(
    tx: StoreTransaction, spec: columns.ImportLayer, prepared: prepare.Prepared, warnings: list[str]
) -> int | None:
    """Fill an empty community_code (and street_code for incidents) from the stored community polygons."""
    frame = prepared.frame
    if not isinstance(frame, gpd.GeoDataFrame) or _COMMUNITY not in frame.columns:
        return None
    need = frame[_COMMUNITY].isna().to_numpy()
    if not need.any():
        return 0
    communities = tx.read(schema.AREAS, where={_LEVEL: AreaLevel.COMMUNITY.value})
    if len(communities) == 0:
        return 0
    points = shapely.point_on_surface(np.asarray(frame.geometry.to_numpy()[need]))
    tree = shapely.STRtree(np.asarray(communities.geometry.to_numpy()))
    hit_point, hit_comm = tree.query(points, predicate="within")
    codes = np.full(len(points), None, dtype=object)
    codes[hit_point[::-1]] = communities[_CODE].to_numpy()[hit_comm[::-1]]  # first hit wins
    column = np.array(frame[_COMMUNITY].astype(object).to_numpy(), dtype=object, copy=True)
    column[need] = codes
    frame[_COMMUNITY] = column
    if _STREET in frame.columns:
        frame[_STREET] = [
            s if s is not None and not pd.isna(s) else (c[:9] if c else None)
            for s, c in zip(frame[_STREET], column, strict=True)
        ]
    outside = int(pd.isna(codes).sum())
    if outside:
        warnings.append(f"{outside} {spec.name} feature(s) lie in no stored community; community_code left empty")
    return int(len(codes) - outside)


def rows_for_store(frame: pd.DataFrame, spec: columns.ImportLayer, *, source_name: str) -> pd.DataFrame:
    """Exactly the layer's columns (plus geometry): managed columns filled, helper columns dropped."""
    names = list(spec.spec.column_names)
    out = frame.reindex(columns=[c for c in names if c in frame.columns]).copy()
    if spec.level is not None:
        out[_LEVEL] = spec.level.value
    if _SYNTHETIC in names:
        out[_SYNTHETIC] = pd.array([False] * len(out), dtype="boolean")
    if _SOURCE in names:
        out[_SOURCE] = source_name
    out = out[[c for c in names if c in out.columns]]
    if isinstance(frame, gpd.GeoDataFrame):
        out[schema.GEOMETRY] = frame.geometry.to_numpy()
        return gpd.GeoDataFrame(out, geometry=schema.GEOMETRY, crs=frame.crs)
    return out


def _write(tx: StoreTransaction, target: str, rows: pd.DataFrame, progress: ProgressCallback | None) -> int:
    done = 0
    _tick(progress, "write", 0, len(rows))
    for chunk in iter_chunks(rows, WRITE_CHUNK_ROWS):
        done += len(tx.insert(target, chunk))
        _tick(progress, "write", done, len(rows))
    return done
