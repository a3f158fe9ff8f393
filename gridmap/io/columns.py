"""Which file column feeds which layer column, and the conversion of values to schema types.

Real files name things in many ways (``CODE``, ``adcode``, ``区划代码``; ``building:levels``,
``层数``...), so each layer field has aliases; ``--map FIELD=COLUMN`` overrides them. A missing
required column is an error that lists the file's columns and the ``--map`` that would fix it.
Shapefile-truncated names written by :mod:`gridmap.io.writers` are aliases too, so exported
shapefiles import back without any ``--map``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd

from gridmap import schema
from gridmap.errors import ValidationError
from gridmap.io.checks import FeatureProblem
from gridmap.io.writers import shapefile_field_names
from gridmap.model import AreaLevel

#: Fields a file may carry that are not layer columns but feed the import.
AUX_FIELDS: dict[str, tuple[str, ...]] = {
    "building_type": ("building_type", "building", "type", "use", "usage", "类型", "用途", "建筑类型"),
}

_ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "adcode", "areacode", "area_code", "gb", "dm", "区划代码", "代码", "编码", "编号"),
    "name": ("name", "mc", "名称", "名字", "姓名"),
    "parent_code": ("parent_code", "parent", "pcode", "上级代码", "上级编码"),
    "households": ("households", "hh", "hhs", "户数"),
    "population": ("population", "pop", "人口", "人数"),
    "road_id": ("road_id", "osm_id", "id"),
    "road_class": ("road_class", "class", "fclass", "highway", "道路等级", "等级"),
    "building_id": ("building_id", "osm_id", "id", "楼栋编码"),
    "road_name": ("road_name", "addr:street", "street", "街路巷", "路名"),
    "house_number": ("house_number", "addr:housenumber", "housenumber", "门牌号", "门牌"),
    "estate_id": ("estate_id", "小区编码"),
    "estate_name": ("estate_name", "estate", "小区", "小区名称"),
    "building_no": ("building_no", "楼栋号", "楼号"),
    "floors": ("floors", "building:levels", "levels", "floor", "层数"),
    "community_code": ("community_code", "社区代码", "社区编码"),
    "unit_id": ("unit_id", "id", "单位编码"),
    "unit_type": ("unit_type", "type", "类型"),
    "persons": ("persons", "人数"),
    "responsible_person": ("responsible_person", "负责人"),
    "key_unit": ("key_unit", "重点单位"),
    "worker_id": ("worker_id", "id", "工号"),
    "phone": ("phone", "mobile", "tel", "电话", "手机"),
    "role": ("role", "岗位", "职务"),
    "grid_code": ("grid_code", "grid", "wgbm", "wgdm", "网格编码", "网格代码"),
    "incident_id": ("incident_id", "id", "事件编号"),
    "category": ("category", "type", "类别", "事件类型"),
    "reported_at": ("reported_at", "time", "datetime", "上报时间"),
    "status": ("status", "状态"),
    "kind": ("kind", "type", "类型"),
}


@dataclass(frozen=True)
class ImportLayer:
    """An importable layer: ``districts`` / ``streets`` / ``communities`` all land in schema.AREAS."""

    name: str
    target: str
    level: AreaLevel | None = None
    #: Columns the importer fills itself (never read from the file).
    managed: tuple[str, ...] = ("synthetic", "source")
    aux: tuple[str, ...] = ()
    #: Fields read as text and parsed later (floors: OSM levels like "3;4" or "2.5").
    as_text: tuple[str, ...] = ()

    @property
    def spec(self) -> schema.LayerSpec:
        return schema.LAYERS[self.target]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(c for c in self.spec.column_names if c not in self.managed)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.spec.columns if not c.nullable and c.name in self.fields)


_AREA_MANAGED = ("level", "synthetic", "source")
IMPORT_LAYERS: dict[str, ImportLayer] = {
    "districts": ImportLayer("districts", schema.AREAS, AreaLevel.DISTRICT, _AREA_MANAGED),
    "streets": ImportLayer("streets", schema.AREAS, AreaLevel.STREET, _AREA_MANAGED),
    "communities": ImportLayer("communities", schema.AREAS, AreaLevel.COMMUNITY, _AREA_MANAGED),
    "roads": ImportLayer("roads", schema.ROADS),
    "buildings": ImportLayer(
        "buildings",
        schema.BUILDINGS,
        managed=("synthetic", "source", "footprint_m2"),
        aux=("building_type",),
        as_text=("floors",),
    ),
    "estates": ImportLayer("estates", schema.ESTATES),
    "units": ImportLayer("units", schema.UNITS),
    "workers": ImportLayer("workers", schema.WORKERS, managed=("synthetic",)),
    "incidents": ImportLayer("incidents", schema.INCIDENTS),
}


def import_layer_named(name: str) -> ImportLayer:
    """The import layer by name, with an error listing the importable layers."""
    try:
        return IMPORT_LAYERS[name]
    except KeyError:
        raise ValidationError(
            f"cannot import layer {name!r}; importable layers: {', '.join(IMPORT_LAYERS)}", code="unknown_layer"
        ) from None


def _norm(name: str) -> str:
    return re.sub(r"[\s:\-.]+", "_", name.strip().lower())


#: Field names of Chinese survey-office and 网格化 platform files, per level (pinyin initials:
#: 街道代码 JDDM, 街道名称 JDMC, 社区代码 SQDM, 社区名称 SQMC, 网格编码 WGBM, 网格名称 WGMC; 乡镇 XZ, 村 CJ).
#: They are level-specific: a community file carries both its own SQDM and its street's JDDM.
_LEVEL_ALIASES: dict[AreaLevel, dict[str, tuple[str, ...]]] = {
    AreaLevel.DISTRICT: {"code": ("qxdm", "xzqdm", "xzqhdm"), "name": ("qxmc", "xzqmc")},
    AreaLevel.STREET: {"code": ("jddm", "jdbm", "xzdm"), "name": ("jdmc", "xzmc"), "parent_code": ("qxdm", "xzqdm")},
    AreaLevel.COMMUNITY: {"code": ("sqdm", "sqbm", "cjdm", "cdm"), "name": ("sqmc", "cjmc", "cmc"),
                          "parent_code": ("jddm", "jdbm", "xzdm")},
}  # fmt: skip


def _aliases(layer: ImportLayer, field: str) -> tuple[str, ...]:
    short = shapefile_field_names(layer.spec.column_names).get(field, field)
    by_level = _LEVEL_ALIASES.get(layer.level, {}) if layer.level is not None else {}
    return (field, short, *by_level.get(field, ()), *_ALIASES.get(field, ()), *AUX_FIELDS.get(field, ()))


def resolve_columns(
    columns: Sequence[str], layer: ImportLayer, column_map: Mapping[str, str], *, path: Path
) -> dict[str, str]:
    """``{field: file column}`` for every field the file provides; errors name the file and the fix."""
    allowed = set(layer.fields) | set(layer.aux) | {"lon", "lat", "wkt"}
    unknown = sorted(set(column_map) - allowed)
    if unknown:
        raise ValidationError(
            f"{path}: --map names unknown field(s) {', '.join(unknown)} for layer {layer.name}; "
            f"fields are: {', '.join(sorted(allowed))}",
            code="unknown_field",
        )
    by_norm = {_norm(c): c for c in columns}
    mapping: dict[str, str] = {}
    for field, col in column_map.items():
        if field in {"lon", "lat", "wkt"}:
            continue
        if col not in columns:
            raise ValidationError(
                f"{path}: --map {field}={col}: the file has no column {col!r}; its columns are: {', '.join(columns)}",
                code="missing_columns",
            )
        mapping[field] = col
    used = set(mapping.values())
    for field in (*layer.fields, *layer.aux):
        if field in mapping:
            continue
        for alias in _aliases(layer, field):
            found = by_norm.get(_norm(alias))
            if found is not None and found not in used:
                mapping[field] = found
                used.add(found)
                break
    missing = [f for f in layer.required if f not in mapping]
    if missing:
        fixes = " ".join(f"--map {f}=COLUMN" for f in missing)
        # A hotline export has no ids or statuses of ours: it enters the closed loop through its own command.
        hint = (f" (a hotline export without them: gridmap incidents import {Path(str(path)).name})"
                if layer.name == "incidents" else "")
        raise ValidationError(
            f"{path}: layer {layer.name} needs column(s) {', '.join(missing)} but the file has none of their "
            f"usual names; its columns are: {', '.join(columns) or '(none)'}. Say which column holds them: {fixes}"
            + hint,
            code="missing_columns",
            details={"file": str(path), "missing": missing, "columns": list(columns), "fix": fixes},
        )
    return mapping


class FeatureLabels(Sequence[str]):
    """``feature 3 (code 410611001, name 朝阳街道)`` per row, built only when a message needs one.

    The number is the 1-based position in the file (``rows`` maps positions after rows were
    dropped or split back to the file). Lazy because a clean 100k-row file needs no label at all.
    """

    def __init__(self, frame: pd.DataFrame, keys: Sequence[str], *, rows: Sequence[int] | None = None) -> None:
        self._keys = [k for k in keys if k in frame.columns]
        self._values = [frame[k].tolist() for k in self._keys]
        self._rows = list(range(len(frame))) if rows is None else list(rows)

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        row = self._rows[index]
        ids = [
            f"{k} {t}" for k, vals in zip(self._keys, self._values, strict=True) if (t := _text(vals[row])) is not None
        ]
        return f"feature {row + 1}" + (f" ({', '.join(ids)})" if ids else "")

    def take(self, positions: Sequence[int]) -> FeatureLabels:
        """Labels of the given positions (after dropping or splitting rows), still numbered as in the file."""
        out = FeatureLabels.__new__(FeatureLabels)
        out._keys, out._values = self._keys, self._values
        out._rows = [self._rows[int(p)] for p in positions]
        return out


def feature_labels(frame: pd.DataFrame, keys: Sequence[str]) -> FeatureLabels:
    """Lazy labels of ``frame``'s rows, identified by whichever of ``keys`` it has (see FeatureLabels)."""
    return FeatureLabels(frame, keys)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # codes stored as numbers in shapefiles: 410611001.0 -> "410611001"
    text = str(value).strip()
    return text or None


_TRUE = {"1", "true", "t", "yes", "y", "是", "真"}
_FALSE = {"0", "false", "f", "no", "n", "否", "假"}


def _convert_one(value: Any, typ: str) -> Any:
    """One value to its logical type; raises ValueError with a short reason when it cannot be."""
    if typ == "json" and isinstance(value, list | tuple | dict | np.ndarray):
        return value.tolist() if isinstance(value, np.ndarray) else value  # GDAL StringList / JSON field
    text = _text(value)
    if text is None:
        return None
    if typ == "text":
        return text
    if typ == "int":
        number = float(text)
        if not number.is_integer():
            raise ValueError("is not a whole number")
        return int(number)
    if typ == "float":
        return float(text)
    if typ == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("is not true/false")
    if typ == "datetime":
        stamp = pd.Timestamp(text)
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if typ == "json":
        if text[:1] in "[{":
            return json.loads(text)
        return [part.strip() for part in re.split(r"[;,|、]", text) if part.strip()]
    raise ValueError(f"unknown type {typ}")


_PANDAS_TYPES: dict[str, Callable[[list[Any]], Any]] = {
    "int": lambda vals: pd.array(vals, dtype="Int64"),
    "float": lambda vals: pd.array([np.nan if v is None else v for v in vals], dtype="float64"),
    "bool": lambda vals: pd.array(vals, dtype="boolean"),
    "datetime": lambda vals: pd.to_datetime(pd.Series(vals, dtype=object), utc=True),
}


def typed_columns(
    frame: pd.DataFrame, layer: ImportLayer, mapping: Mapping[str, str], labels: Sequence[str]
) -> tuple[pd.DataFrame, list[FeatureProblem]]:
    """A frame with every field of ``layer`` (None where the file has no column), typed per schema.

    Values that cannot be converted become problems naming the feature, the column and the value.
    """
    out: dict[str, Any] = {}
    problems: list[FeatureProblem] = []
    for field in (*layer.fields, *layer.aux):
        known = field in layer.spec.column_names and field not in layer.as_text
        typ = layer.spec.column(field).type if known else "text"
        source = mapping.get(field)
        if source is None:  # the file lacks it: all empty, no per-value work
            empty: list[Any] = [None] * len(frame)
            out[field] = _PANDAS_TYPES[typ](empty) if typ in _PANDAS_TYPES else pd.Series(empty, dtype=object)
            continue
        raw = frame[source].tolist()
        values: list[Any] = []
        for row, value in enumerate(raw):
            try:
                values.append(_convert_one(value, typ))
            except (ValueError, TypeError, json.JSONDecodeError) as exc:
                values.append(None)
                msg = f"{labels[row]}: column {source} = {value!r} {str(exc) or 'cannot be read'} ({field}: {typ})"
                problems.append(FeatureProblem("bad_value", row, labels[row], msg))
        out[field] = _PANDAS_TYPES[typ](values) if typ in _PANDAS_TYPES else pd.Series(values, dtype=object)
    return pd.DataFrame({k: pd.Series(v) if not isinstance(v, pd.Series) else v for k, v in out.items()}), problems


def missing_value_problems(frame: pd.DataFrame, fields: Sequence[str], labels: Sequence[str]) -> list[FeatureProblem]:
    """Required (non-nullable) fields that are empty in some rows."""
    problems = []
    for field in fields:
        for row in np.flatnonzero(frame[field].isna().to_numpy()).tolist():
            problems.append(FeatureProblem("missing_value", row, labels[row], f"{labels[row]}: {field} is empty"))
    return problems
