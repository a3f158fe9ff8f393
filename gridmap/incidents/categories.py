"""Incident categories (事件类别) and the handling levels they climb through.

Why configurable: the seeds mandate time-limited handling (限时办结, E-36) but give no hours for any
category or level, so every deployment sets its own. The defaults below follow the consolidated
taxonomy of requirements.md §5.1; a TOML/JSON file (``Settings.incidents_config``, see
:mod:`gridmap.incidents.policy`) replaces them.

A category is an Open311 *service*: ``service_code`` is the stable machine name stored in
``incidents.category``; the Chinese name is also accepted on input (the demo and imported files
use it, e.g. ``环境卫生``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from gridmap.errors import ValidationError


class Level(StrEnum):
    """Where a case sits now, bottom up (E-20, E-24): the escalation ladder."""

    GRID = "grid"  # 网格: the grid worker handles it
    COMMUNITY = "community"  # 社区服务站
    STREET = "street"  # 街道 (乡镇) 综治中心
    DISTRICT = "district"  # 区 (县) 指挥中心, routes to departments
    COMMAND = "command"  # 指挥中心 direct path for urgent events (E-21)

    @property
    def label_zh(self) -> str:
        return {"grid": "网格", "community": "社区", "street": "街道", "district": "区县", "command": "指挥中心"}[
            self.value
        ]

    @property
    def code_length(self) -> int:
        """Length of the area code responsible at this level (command sits at the district)."""
        return {"grid": 15, "community": 12, "street": 9, "district": 6, "command": 6}[self.value]


#: Bottom-up order of the ladder; escalation moves one step to the right.
LADDER: tuple[Level, ...] = (Level.GRID, Level.COMMUNITY, Level.STREET, Level.DISTRICT, Level.COMMAND)
#: Levels a category sets a deadline for; the command centre uses the district's.
DEADLINE_LEVELS: tuple[Level, ...] = (Level.GRID, Level.COMMUNITY, Level.STREET, Level.DISTRICT)


def level_from_text(text: Any) -> Level:
    """A Level from its stored string; ValidationError naming the allowed values otherwise."""
    try:
        return Level(str(text))
    except ValueError:
        raise ValidationError(
            f"unknown level {text!r}; choose one of {', '.join(lv.value for lv in LADDER)}"
        ) from None


def next_level(level: Level) -> Level | None:
    """The level above ``level`` on the ladder; None at the top (the command centre)."""
    i = LADDER.index(level)
    return LADDER[i + 1] if i + 1 < len(LADDER) else None


@dataclass(frozen=True)
class Category:
    """One incident category = one Open311 service, with its deadlines in hours per level."""

    service_code: str
    name_zh: str
    name_en: str
    group_zh: str
    group_en: str
    #: Hours allowed for handling at each level (grid, community, street, district).
    deadline_hours: Mapping[str, float]
    #: Urgent categories skip the ladder and go straight to the command centre (E-21, E-32).
    urgent: bool = False
    description_zh: str = ""
    description_en: str = ""
    keywords: tuple[str, ...] = ()
    #: Other names accepted on input (legacy codes, the Chinese group name used in files).
    aliases: tuple[str, ...] = field(default=())
    #: Shown (redacted) to anonymous Open311 readers. Disputes, special groups, petitions and
    #: stability reports concern named people and stay staff-only whatever the redaction.
    public: bool = True

    def __post_init__(self) -> None:
        if not self.service_code or not self.service_code.replace("_", "").isalnum():
            raise ValidationError(f"category {self.service_code!r}: service_code must be letters, digits and '_'")
        missing = [lv.value for lv in DEADLINE_LEVELS if lv.value not in self.deadline_hours]
        if missing:
            raise ValidationError(
                f"category {self.service_code}: deadline_hours lacks level(s) {', '.join(missing)}"
            )
        bad = {k: v for k, v in self.deadline_hours.items() if not isinstance(v, int | float) or v <= 0}
        if bad:
            raise ValidationError(f"category {self.service_code}: deadline hours must be positive numbers, got {bad}")

    def deadline(self, level: Level) -> timedelta:
        """Time allowed at ``level`` (the command centre has the district's)."""
        key = Level.DISTRICT.value if level is Level.COMMAND else level.value
        return timedelta(hours=float(self.deadline_hours[key]))

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh

    def group(self, lang: str) -> str:
        return self.group_en if lang == "en" else self.group_zh

    def description(self, lang: str) -> str:
        return (self.description_en if lang == "en" else self.description_zh) or self.name(lang)


def _hours(grid: float, community: float, street: float, district: float) -> dict[str, float]:
    return {"grid": grid, "community": community, "street": street, "district": district}


_SOCIAL = ("社会治理", "Social governance")
_SAFETY = ("公共安全", "Public safety")
_CITY = ("城市管理", "Urban management")
_SERVICE = ("民生服务", "Public services")

#: Built-in categories from requirements.md §5.1 (hours are this product's defaults: the seeds give none).
DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category("dispute", "矛盾纠纷", "Disputes", *_SOCIAL, _hours(48, 72, 120, 168),
             description_zh="邻里、物业、婚姻家庭、劳资、征地拆迁等矛盾纠纷",
             description_en="Neighbour, property, family, wage and land disputes",
             keywords=("纠纷", "邻里", "物业"), public=False),
    Category("safety_hazard", "安全隐患", "Safety hazards", *_SAFETY, _hours(12, 24, 48, 72),
             description_zh="生产安全、交通安全、食品药品安全、危房等隐患",
             description_en="Work, traffic, food and building safety hazards",
             keywords=("隐患", "危房", "井盖")),
    Category("fire", "消防", "Fire safety", *_SAFETY, _hours(12, 24, 48, 72),
             description_zh="消防通道堵塞、三小场所、电动车违规充电等消防隐患",
             description_en="Blocked fire lanes, small premises, e-bike charging indoors",
             keywords=("消防", "火灾", "充电")),
    Category("sanitation", "环境卫生", "Sanitation", *_CITY, _hours(24, 48, 72, 120),
             description_zh="垃圾堆积、污水外溢、楼道杂物等", description_en="Rubbish, sewage, clutter",
             keywords=("垃圾", "污水", "卫生")),
    Category("urban_order", "市容秩序", "Urban order", *_CITY, _hours(24, 48, 72, 120),
             description_zh="占道经营、乱停乱放、小广告、违法搭建、僵尸车",
             description_en="Street trading, parking, fly-posting, illegal structures, abandoned cars",
             keywords=("占道", "违建", "小广告")),
    Category("special_groups", "特殊人群", "Special groups", *_SOCIAL, _hours(24, 48, 96, 168),
             description_zh="社区矫正、刑满释放、严重精神障碍、独居老人、留守儿童",
             description_en="People under community correction, released prisoners, elderly living alone",
             public=False),
    Category("public_facilities", "公共设施", "Public facilities", *_CITY, _hours(48, 72, 120, 168),
             description_zh="路灯、道路、健身器材、护栏等公共设施损坏",
             description_en="Broken street lights, roads, fitness equipment, railings",
             keywords=("路灯", "道路", "设施")),
    Category("population", "人口动态", "Population changes", *_SOCIAL, _hours(72, 120, 168, 240),
             description_zh="流动人口、出租房屋、出生、迁入迁出登记",
             description_en="Migrants, rented housing, births, moves", public=False),
    Category("public_health", "公共卫生", "Public health", *_SAFETY, _hours(12, 24, 48, 72),
             description_zh="传染病疫情、饮用水、食品卫生、非法行医",
             description_en="Infectious disease, drinking water, food hygiene, illegal medical practice"),
    Category("welfare", "民生服务", "Welfare services", *_SERVICE, _hours(72, 120, 168, 240),
             description_zh="低保、优抚、残疾人、就业、医保等服务诉求",
             description_en="Subsistence allowance, disability, employment, insurance requests"),
    Category("non_police", "非警务110", "Non-police 110 calls", *_SERVICE, _hours(24, 48, 72, 120),
             description_zh="110分流的非警务事件", description_en="Non-police calls routed from 110",
             public=False),
    Category("public_opinion", "社情舆情", "Public opinion", *_SOCIAL, _hours(24, 48, 72, 96),
             description_zh="社情民意、舆情信息（含信访、涉稳）",
             description_en="Public opinion, petitions (信访) and stability reports",
             aliases=("信访", "涉稳"), public=False),
    Category("emergency", "突发事件", "Emergencies", *_SAFETY, _hours(2, 4, 8, 12), urgent=True,
             description_zh="突发事件、意外事故：直报指挥中心",
             description_en="Sudden events and accidents: straight to the command centre",
             keywords=("突发", "事故", "应急")),
)


class CategoryCatalogue:
    """The categories in force, looked up by service code, Chinese or English name, or alias."""

    def __init__(self, categories: Iterable[Category]) -> None:
        self.categories: tuple[Category, ...] = tuple(categories)
        if not self.categories:
            raise ValidationError("incident categories: at least one category is required")
        self._by_key: dict[str, Category] = {}
        for cat in self.categories:
            for key in (cat.service_code, cat.name_zh, cat.name_en.lower(), *cat.aliases):
                other = self._by_key.get(key)
                if other is not None and other is not cat:
                    raise ValidationError(
                        f"incident categories: {key!r} names both {other.service_code} and {cat.service_code}"
                    )
                self._by_key[key] = cat

    def __iter__(self) -> Any:
        return iter(self.categories)

    def __len__(self) -> int:
        return len(self.categories)

    def find(self, text: Any) -> Category | None:
        """The category named ``text`` (code, name or alias), or None."""
        if not isinstance(text, str):
            return None
        key = text.strip()
        return self._by_key.get(key) or self._by_key.get(key.lower())

    def get(self, text: Any) -> Category:
        """The category named ``text``; ValidationError listing the service codes otherwise."""
        found = self.find(text)
        if found is None:
            codes = ", ".join(c.service_code for c in self.categories)
            raise ValidationError(f"unknown service_code {text!r}; known service codes: {codes}",
                                  code="unknown_service_code")
        return found


def _flag(value: Any, *, source: str, code: Any) -> bool:
    """A TOML/JSON boolean; a string such as "no" is an error, not silently true."""
    if not isinstance(value, bool):
        raise ValidationError(f"{source}: category {code}: public must be true or false, got {value!r}")
    return value


def category_from_mapping(data: Mapping[str, Any], *, source: str) -> Category:
    """One category from a config table; errors name the file and the category."""
    known = {"service_code", "name_zh", "name_en", "group_zh", "group_en", "deadline_hours", "urgent",
             "description_zh", "description_en", "keywords", "aliases", "public"}
    code = data.get("service_code", "?")
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationError(f"{source}: category {code}: unknown field(s) {', '.join(unknown)}")
    try:
        return Category(
            service_code=str(data["service_code"]),
            name_zh=str(data["name_zh"]),
            name_en=str(data.get("name_en", data["service_code"])),
            group_zh=str(data.get("group_zh", "")),
            group_en=str(data.get("group_en", "")),
            deadline_hours={str(k): v for k, v in dict(data["deadline_hours"]).items()},
            urgent=bool(data.get("urgent", False)),
            description_zh=str(data.get("description_zh", "")),
            description_en=str(data.get("description_en", "")),
            keywords=tuple(str(k) for k in data.get("keywords", ())),
            aliases=tuple(str(a) for a in data.get("aliases", ())),
            public=_flag(data.get("public", True), source=source, code=code),
        )
    except KeyError as exc:
        raise ValidationError(f"{source}: category {code}: missing field {exc.args[0]}") from None
    except ValidationError as exc:
        raise ValidationError(f"{source}: {exc.message}") from None
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{source}: category {code}: {exc}") from None
