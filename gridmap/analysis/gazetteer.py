"""Address search over our own buildings and estates: no external geocoder (offline, and no resident data leaves).

Residents type addresses the way they write them: full-width digits (１２号), traditional 號, building
markers 栋/幢/号楼/座/号 used interchangeably, with or without the district/street/community prefix,
with spaces. Every entry and every query is brought to one canonical form:

* NFKC (full-width -> half-width digits and letters), lower case, whitespace and punctuation removed;
* 號 -> 号; Chinese numerals before a marker (三号楼) -> digits;
* a number followed by a marker (号楼, 栋, 幢, 座, 号) -> ``<n>#``; unit/room parts after it are dropped;
* leading province/city names and known area names (淇滨区, 黎阳街道, 甲社区, also without their suffix)
  are stripped.

A canonical form is split into a *name* (road or estate) and a *number*. Names are compared with
rapidfuzz (edit-distance ratio; a query name contained in the entry name counts as a near match, so
翠苑 finds 翠苑小区), numbers must match exactly. Scores are in [0, 1].
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rapidfuzz import fuzz, process

from gridmap.errors import ValidationError

_MARKER = r"(?:号楼|號樓|栋|棟|幢|座|号|號|#)"
_CN_NUM = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER_RE = re.compile(rf"(\d+)\s*{_MARKER}")
_CN_NUMBER_RE = re.compile(rf"([零一二两三四五六七八九十]{{1,4}})(?={_MARKER})")
_TAIL_RE = re.compile(r"#.*$")
_PUNCT_RE = re.compile(r"[\s\-_,，。、·.()（）/\\:：;；'\"“”‘’]+")
_PREFIX_RE = re.compile(
    r"^(?:[\u4e00-\u9fff]{2,7}?(?:省|自治区))?"  # province
    r"(?:[\u4e00-\u9fff]{2,4}?市(?=[\u4e00-\u9fff]{2,4}[区县]))?"  # city, only when a district follows
)
_AREA_SUFFIXES = ("街道办事处", "街道", "社区", "区", "县", "镇", "乡", "村")
#: Score factors when numbers disagree: a wrong building of the right estate still beats nothing.
_WRONG_NUMBER = 0.3
_NUMBER_MISSING_IN_ENTRY = 0.7
_NUMBER_MISSING_IN_QUERY = 0.6
_CONTAINED = 0.9


@dataclass(frozen=True)
class AddressCandidate:
    """One match: ``label`` as stored, ``point`` (lon, lat) = a representative point of the footprint."""

    label: str
    kind: str  # "address" (road + number), "building" (estate + building), "estate"
    score: float
    lon: float
    lat: float
    ref: str  # building_id or estate_id


def _cn_to_int(text: str) -> int:
    """三 -> 3, 十二 -> 12, 二十 -> 20, 二十三 -> 23 (enough for building numbers)."""
    if "十" not in text:
        return int("".join(str(_CN_NUM[c]) for c in text))
    tens, _, ones = text.partition("十")
    return (_CN_NUM[tens] if tens else 1) * 10 + (_CN_NUM[ones] if ones else 0)


def canonical(text: str) -> str:
    """The canonical form described in the module docstring (no area prefix stripping here)."""
    out = unicodedata.normalize("NFKC", text).lower().replace("號", "号").replace("樓", "楼").replace("棟", "栋")
    out = _PUNCT_RE.sub("", out)
    out = _CN_NUMBER_RE.sub(lambda m: str(_cn_to_int(m.group(1))), out)
    out = _NUMBER_RE.sub(lambda m: f"{int(m.group(1))}#", out, count=1)
    return _TAIL_RE.sub("#", out)


def split_number(form: str) -> tuple[str, str | None]:
    """``淇河路12#`` -> (``淇河路``, ``12``); a form without a marker -> (form, None)."""
    m = re.search(r"(\d+)#$", form)
    if m:
        return form[: m.start()], m.group(1)
    m = re.search(r"(\d+)$", form)  # a bare trailing number (淇河路12) is read as the house number
    if m and m.start() > 0:
        return form[: m.start()], m.group(1)
    return form, None


def _area_names(names: Iterable[str]) -> list[str]:
    """Canonical area names and their suffix-less variants, longest first (greedy prefix stripping)."""
    out: set[str] = set()
    for name in names:
        c = canonical(name)
        if len(c) < 2:
            continue
        out.add(c)
        for suffix in _AREA_SUFFIXES:
            if c.endswith(suffix) and len(c) - len(suffix) >= 2:
                out.add(c[: -len(suffix)])
                break
    return sorted(out, key=len, reverse=True)


@dataclass(frozen=True)
class _Entry:
    name: str
    number: str | None
    label: str
    kind: str
    lon: float
    lat: float
    ref: str


class Gazetteer:
    """Search buildings and estates by address; build once per store snapshot, then query many times."""

    def __init__(self, entries: list[_Entry], area_names: list[str]) -> None:
        self._entries = entries
        self._area_names = area_names
        self._by_name: dict[str, list[_Entry]] = {}
        for e in entries:
            self._by_name.setdefault(e.name, []).append(e)
        self._names = list(self._by_name)

    @classmethod
    def from_frames(
        cls, buildings: gpd.GeoDataFrame, estates: gpd.GeoDataFrame, *, area_names: Iterable[str] = ()
    ) -> Gazetteer:
        """Entries from BUILDINGS (road_name + house_number, estate_name + building_no) and ESTATES."""
        entries: list[_Entry] = []
        entries += _entries_from_buildings(buildings)
        entries += _entries_from_estates(estates)
        return cls(entries, _area_names(area_names))

    def __len__(self) -> int:
        return len(self._entries)

    def query_forms(self, text: str) -> list[str]:
        """Canonical forms of a query: as typed, then with leading province/city and area names removed.

        Every form is scored and the best score per entry wins, because an area name can also start a
        road name (淇河社区 vs 淇河路) and stripping blindly would break the road.
        """
        form = canonical(text)
        forms = [form]
        stripped = _PREFIX_RE.sub("", form)
        if stripped != form:
            forms.append(stripped)
        changed = True
        while changed:
            changed = False
            for name in self._area_names:
                if stripped.startswith(name) and len(stripped) > len(name):
                    stripped = stripped[len(name) :]
                    forms.append(stripped)
                    changed = True
                    break
        return forms

    def search(self, text: str, *, limit: int = 5) -> list[AddressCandidate]:
        """Ranked candidates (best first, scores in [0, 1]); ValidationError for an empty query."""
        if not text or not text.strip():
            raise ValidationError("address search: the address is empty; type a road and number or an estate name")
        scored: dict[tuple[str, str], AddressCandidate] = {}
        for form in self.query_forms(text):
            name, number = split_number(form)
            if not name:
                continue
            for entry_name, sim in self._similar_names(name):
                for e in self._by_name[entry_name]:
                    score = round(sim * _number_factor(number, e.number), 4)
                    key = (e.kind, e.label)
                    if score > 0 and (key not in scored or scored[key].score < score):
                        scored[key] = AddressCandidate(e.label, e.kind, score, e.lon, e.lat, e.ref)
        ranked = sorted(scored.values(), key=lambda c: (-c.score, c.kind != "address", c.label))
        return ranked[:limit]

    def _similar_names(self, name: str) -> list[tuple[str, float]]:
        """Entry names similar to ``name`` with a similarity in [0, 1]."""
        hits = process.extract(name, self._names, scorer=fuzz.ratio, limit=20, score_cutoff=50)
        out = {n: s / 100.0 for n, s, _ in hits}
        if len(name) >= 2:
            for n in self._names:
                if name in n or (len(n) >= 2 and n in name):
                    shorter, longer = sorted((len(name), len(n)))
                    out[n] = max(out.get(n, 0.0), _CONTAINED * (0.5 + 0.5 * shorter / longer))
        return sorted(out.items(), key=lambda kv: -kv[1])


def _number_factor(query: str | None, entry: str | None) -> float:
    if query is None:
        return 1.0 if entry is None else _NUMBER_MISSING_IN_QUERY
    if entry is None:
        return _NUMBER_MISSING_IN_ENTRY
    return 1.0 if query == entry else _WRONG_NUMBER


def _points(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    frame = frame.to_crs(4326) if frame.crs is not None and frame.crs.to_epsg() != 4326 else frame
    pts = shapely.point_on_surface(np.asarray(frame.geometry.values, dtype=object))
    return shapely.get_x(pts), shapely.get_y(pts)


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and value is not pd.NA


def _entries_from_buildings(buildings: gpd.GeoDataFrame) -> list[_Entry]:
    if buildings.empty:
        return []
    b = buildings.loc[buildings.geometry.notna()]
    xs, ys = _points(b)
    out: list[_Entry] = []
    for row, x, y in zip(b.to_dict("records"), xs, ys, strict=True):
        ref = str(row.get("building_id") or row.get("fid"))
        road, number = row.get("road_name"), row.get("house_number")
        if _present(road) and _present(number):
            label = f"{road}{number}" if str(number).endswith(("号", "號")) else f"{road}{number}号"
            name, num = split_number(canonical(label))
            out.append(_Entry(name, num, label, "address", float(x), float(y), ref))
        estate, bno = row.get("estate_name"), row.get("building_no")
        if _present(estate) and _present(bno):
            label = f"{estate}{bno}" if re.search(_MARKER + "$", str(bno)) else f"{estate}{bno}号楼"
            name, num = split_number(canonical(label))
            out.append(_Entry(name, num, label, "building", float(x), float(y), ref))
    return out


def _entries_from_estates(estates: gpd.GeoDataFrame) -> list[_Entry]:
    if estates.empty:
        return []
    e = estates.loc[estates.geometry.notna()]
    xs, ys = _points(e)
    return [
        _Entry(canonical(str(row["name"])), None, str(row["name"]), "estate", float(x), float(y), str(row["estate_id"]))
        for row, x, y in zip(e.to_dict("records"), xs, ys, strict=True)
    ]
