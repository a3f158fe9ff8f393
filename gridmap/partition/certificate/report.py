"""The coverage certificate: per-check results with the offending features, as JSON and as text.

Why its own module: the certificate is stored with every generation (``generations.certificate``),
printed by ``gridmap validate`` and shown in the portal, so its shape is a contract of its own,
independent of how ``checks.py`` computes it. ``to_dict()`` is plain JSON (no numpy scalars, no
shapely objects: geometries are GeoJSON in EPSG:4326 lon/lat).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

# Check names, in the order they are run and printed.
GEOMETRY_VALID = "geometry_valid"
COVERAGE_VALID = "coverage_valid"
NO_OVERLAPS = "no_overlaps"
COVERS_PARENT = "covers_parent"
CONTIGUOUS = "contiguous"
WITHIN_ONE_COMMUNITY = "within_one_community"
BUILDINGS_ASSIGNED = "buildings_assigned"
HOUSEHOLDS_IN_BAND = "households_in_band"
HOUSEHOLDS_MATCH_BUILDINGS = "households_match_buildings"
#: Buildings cut by a grid edge (a failure unless allowed, then a warning).
BUILDINGS_STRADDLING = "buildings_straddling"

#: Issues listed per check in ``summary()``; ``to_dict()`` always has all of them.
SUMMARY_ISSUES = 5


@dataclass(frozen=True)
class CheckResult:
    """One rule: did it hold, a one-line message, the offenders and the measured numbers."""

    name: str
    ok: bool
    message: str
    issues: tuple[dict[str, Any], ...] = ()
    metrics: dict[str, float | int] = field(default_factory=dict)
    skipped: bool = False
    #: A warning check: it always holds (``ok``) and its issues are things to look at, not failures.
    warning: bool = False

    @property
    def status(self) -> str:
        """``"passed"``, ``"failed"``, ``"warning"`` (held, with things to look at) or ``"not checked"``."""
        if self.skipped:
            return "not checked"
        if not self.ok:
            return "failed"
        return "warning" if self.warning and self.issues else "passed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "status": self.status,
            "skipped": self.skipped,
            "warning": self.warning,
            "message": self.message,
            "metrics": {k: _plain(v) for k, v in self.metrics.items()},
            "issues": [_plain(i) for i in self.issues],
        }


@dataclass(frozen=True)
class Certificate:
    """All checks of one validation run. ``ok`` only if every check that ran holds."""

    checks: tuple[CheckResult, ...]
    communities: tuple[str, ...]
    working_crs: str
    tolerance_m2: float
    n_grids: int
    #: What was certified: ``"grids in memory"``, ``"grids.geojson as written"``, ``"store ... as read back"``.
    certified: str = "grids in memory"

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name`` (KeyError if it was not part of the run)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"certificate has no check {name!r}; it has {', '.join(c.name for c in self.checks)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "certified": self.certified,
            "n_grids": self.n_grids,
            "communities": list(self.communities),
            "working_crs": self.working_crs,
            "tolerance_m2": self.tolerance_m2,
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def summary(self) -> list[str]:
        """Human-readable lines: a verdict, then one line per check and a few offenders each."""
        verdict = "PASS" if self.ok else "FAIL"
        lines = [
            f"{verdict}: {self.n_grids} grids in {len(self.communities)} communit"
            f"{'y' if len(self.communities) == 1 else 'ies'} ({len(self.failed)} of {len(self.checks)} checks failed)"
        ]
        for c in self.checks:
            warn = c.warning and bool(c.issues)
            mark = "skip" if c.skipped else ("warn" if warn else ("ok" if c.ok else "FAIL"))
            lines.append(f"  [{mark:>4}] {c.name}: {c.message}")
            if not c.ok or warn:
                lines.extend(f"         - {_issue_line(i)}" for i in c.issues[:SUMMARY_ISSUES])
                if len(c.issues) > SUMMARY_ISSUES:
                    lines.append(f"         ... and {len(c.issues) - SUMMARY_ISSUES} more (see --json)")
        return lines


def _issue_line(issue: dict[str, Any]) -> str:
    return "; ".join(f"{k}={v}" for k, v in issue.items() if k != "geometry")


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, tuples to lists, dict values recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


class GeoJsonWriter:
    """Turns working-CRS geometries into GeoJSON dicts in EPSG:4326 for the report."""

    def __init__(self, working_crs: pyproj.CRS) -> None:
        self._crs = working_crs
        self._to_lonlat: pyproj.Transformer | None = None  # built on first use: most reports need none

    def __call__(self, geom: BaseGeometry) -> dict[str, Any]:
        if self._to_lonlat is None:
            self._to_lonlat = pyproj.Transformer.from_crs(self._crs, "EPSG:4326", always_xy=True)
        to_lonlat = self._to_lonlat

        def project(xy: np.ndarray) -> np.ndarray:
            lon, lat = to_lonlat.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([lon, lat])

        return dict(json.loads(shapely.to_geojson(rounded_lonlat(shapely.transform(geom, project)))))


def rounded_lonlat(geom: BaseGeometry) -> BaseGeometry:
    """``geom`` with coordinates rounded to 1e-8 degrees (~1 mm: smaller reports, same shapes).

    A sliver projected to lon/lat can come out invalid (a hole outside its shell), and GEOS cannot
    round such a shape ("unable to assign free hole to a shell"): it is repaired first, and if even
    the repaired shape cannot be rounded it is reported unrounded. The result is always valid.
    """
    valid = geom if geom.is_valid else shapely.make_valid(geom)
    try:
        rounded = shapely.set_precision(valid, 1e-8)
    except shapely.errors.GEOSException:
        return valid
    return rounded if rounded.is_valid else shapely.make_valid(rounded)
