"""Everything a deployment configures about incidents, in one object built once from Settings.

Sources, first found wins: ``Settings.incidents_config`` (a TOML or JSON file), else
``Settings.extra["incidents"]`` (a mapping, for tests and plug-ins), else the built-in defaults.
Example TOML::

    penalty_after_failures = 3          # failed verifications before the penalty flag (E-44)
    media_dir = "/var/lib/gridmap/media" # photos uploaded with reports (Open311 "media"); "" = off

    [duplicates]
    radius_m = 100                      # metres
    days = 7

    [cards]
    yellow_after_overdues = 1
    red_after_overdues = 2
    red_overdue_factor = 2.0

    [scoring]
    pass_score = 80
    weights = { closure_rate = 30, on_time_rate = 30, satisfaction = 20, verification = 20 }
    deductions = { yellow = 2, red = 5, penalty = 5 }
    ab_weights = [0.6, 0.4]

    [[categories]]                      # when present, replaces the built-in list
    service_code = "sanitation"
    name_zh = "环境卫生"
    name_en = "Sanitation"
    group_zh = "城市管理"
    group_en = "Urban management"
    deadline_hours = { grid = 24, community = 48, street = 72, district = 120 }
    urgent = false
    public = true                       # anonymous Open311 readers see it, redacted (default true)
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gridmap.config import Settings
from gridmap.errors import ValidationError
from gridmap.incidents.assessment import ScoreRules
from gridmap.incidents.categories import DEFAULT_CATEGORIES, CategoryCatalogue, category_from_mapping
from gridmap.incidents.duplicates import DuplicateRules
from gridmap.incidents.escalation import CardRules

_SECTIONS = {"categories", "duplicates", "cards", "scoring", "penalty_after_failures", "media_dir"}


@dataclass(frozen=True)
class IncidentPolicy:
    catalogue: CategoryCatalogue = field(default_factory=lambda: CategoryCatalogue(DEFAULT_CATEGORIES))
    duplicates: DuplicateRules = field(default_factory=DuplicateRules)
    cards: CardRules = field(default_factory=CardRules)
    scoring: ScoreRules = field(default_factory=ScoreRules)
    #: Failed verifications after which the case gets the penalty flag and a 督办 (E-44: 3).
    penalty_after_failures: int = 3
    #: Directory for photos uploaded with reports; "" turns uploads off (media_url links still work).
    media_dir: str = ""


def _section(data: Mapping[str, Any], name: str, source: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise ValidationError(f"{source}: [{name}] must be a table")
    return dict(value)


def _build(kind: type, values: dict[str, Any], source: str, name: str) -> Any:
    try:
        return kind(**values)
    except TypeError as exc:
        raise ValidationError(f"{source}: [{name}]: {exc}") from None
    except ValidationError as exc:
        raise ValidationError(f"{source}: {exc.message}") from None


def policy_from_mapping(data: Mapping[str, Any], *, source: str = "incident settings") -> IncidentPolicy:
    """An IncidentPolicy from a parsed config; every error names ``source`` and the offending part."""
    unknown = sorted(set(data) - _SECTIONS)
    if unknown:
        known = ", ".join(sorted(_SECTIONS))
        raise ValidationError(f"{source}: unknown setting(s) {', '.join(unknown)}; known: {known}")
    raw_categories = data.get("categories")
    if raw_categories is None:
        catalogue = CategoryCatalogue(DEFAULT_CATEGORIES)
    elif isinstance(raw_categories, list) and all(isinstance(c, Mapping) for c in raw_categories):
        catalogue = CategoryCatalogue(category_from_mapping(c, source=source) for c in raw_categories)
    else:
        raise ValidationError(f"{source}: categories must be a list of tables ([[categories]])")
    scoring = _section(data, "scoring", source)
    if "ab_weights" in scoring:
        scoring["ab_weights"] = tuple(scoring["ab_weights"])
    penalty = data.get("penalty_after_failures", 3)
    if isinstance(penalty, bool) or not isinstance(penalty, int) or penalty < 1:
        raise ValidationError(f"{source}: penalty_after_failures must be a whole number >= 1, got {penalty!r}")
    return IncidentPolicy(
        catalogue=catalogue,
        duplicates=_build(DuplicateRules, _section(data, "duplicates", source), source, "duplicates"),
        cards=_build(CardRules, _section(data, "cards", source), source, "cards"),
        scoring=_build(ScoreRules, scoring, source, "scoring"),
        penalty_after_failures=penalty,
        media_dir=str(data.get("media_dir", "")),
    )


def policy_from_file(path: str | Path) -> IncidentPolicy:
    """Read a TOML (``.toml``) or JSON (anything else) incident config file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(f"incidents config file {p} does not exist") from None
    try:
        data = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError(f"incidents config file {p} cannot be parsed: {exc}") from None
    if not isinstance(data, Mapping):
        raise ValidationError(f"incidents config file {p} must hold a table/object at the top")
    return policy_from_mapping(data, source=str(p))


def policy_from_settings(settings: Settings) -> IncidentPolicy:
    """The policy of this process (see the module docstring for where it comes from)."""
    if settings.incidents_config:
        return policy_from_file(settings.incidents_config)
    extra = settings.extra.get("incidents") if settings.extra else None
    if extra is not None:
        if not isinstance(extra, Mapping):
            raise ValidationError("settings.extra['incidents'] must be a mapping")
        return policy_from_mapping(extra, source="settings.extra['incidents']")
    return IncidentPolicy()
