"""Incident categories of the demo and how they vary in time and space.

Categories are the groups of requirements.md §5.1 (矛盾纠纷, 安全隐患, 消防, 特殊人群, 人口动态,
环境卫生 / 市容秩序, 公共卫生, 公共设施, 民生服务). Shares, seasons and hotspot affinities are
plausible assumptions for a demo, not measurements: more 环境卫生 in the hot summer, more 消防 in
the heating season, disputes around the Spring Festival, moves after it; street trading and
parking around markets and school gates; disputes and fire hazards in old estates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Monthly multipliers, January..December.
SEASONS: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 12,
    "summer": (0.7, 0.7, 0.85, 1.0, 1.2, 1.45, 1.6, 1.55, 1.2, 0.95, 0.8, 0.7),
    "heating": (1.6, 1.5, 1.2, 0.9, 0.7, 0.6, 0.6, 0.6, 0.7, 0.9, 1.3, 1.6),
    "festival": (1.4, 1.5, 1.1, 0.95, 0.9, 0.9, 0.9, 0.9, 0.95, 1.0, 1.0, 1.1),
    "rainy": (0.8, 0.8, 0.9, 1.0, 1.0, 1.2, 1.4, 1.4, 1.1, 0.9, 0.8, 0.8),
    "flu": (1.5, 1.3, 1.0, 0.8, 0.7, 0.6, 0.6, 0.7, 0.9, 1.0, 1.2, 1.5),
    "moving": (0.9, 1.5, 1.4, 1.0, 0.9, 0.9, 1.0, 1.0, 1.3, 1.0, 0.9, 0.8),
}

#: Reports per hour of day (local time). Most reports come from workers on patrol in office hours;
#: street trading and disputes peak in the evening.
_OFFICE = (1, 1, 1, 1, 1, 2, 4, 10, 18, 20, 18, 10, 6, 8, 16, 18, 16, 10, 6, 5, 4, 3, 2, 1)
_EVENING = (2, 1, 1, 1, 1, 1, 3, 6, 9, 10, 10, 8, 7, 8, 9, 10, 11, 13, 16, 18, 16, 11, 6, 3)
HOURS: dict[str, FloatArray] = {k: np.asarray(v, dtype=np.float64) / sum(v) for k, v in
                                {"office": _OFFICE, "evening": _EVENING}.items()}

#: Where an incident happens: share by component (background = anywhere people live).
ANCHOR_KINDS = ("background", "market", "school", "old_estate", "enterprise")


@dataclass(frozen=True)
class Category:
    """One incident category: share of all reports, season and daily cycle, weekend factor, and
    where its reports cluster (weights over ANCHOR_KINDS), with description templates."""

    name: str
    share: float
    season: str
    hours: str
    weekend: float  # reports on Saturday/Sunday relative to a weekday
    affinity: tuple[float, float, float, float, float]  # weights over ANCHOR_KINDS
    templates: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category("环境卫生", 0.22, "summer", "office", 0.7, (0.45, 0.30, 0.0, 0.25, 0.0),
             ("{place}垃圾堆积未及时清运", "{place}污水外溢", "{place}楼道堆放杂物", "{place}蚊蝇滋生")),
    Category("市容秩序", 0.18, "flat", "evening", 1.1, (0.35, 0.40, 0.25, 0.0, 0.0),
             ("{place}占道经营", "{place}车辆乱停乱放", "{place}乱贴小广告", "{place}违规搭建")),
    Category("矛盾纠纷", 0.12, "festival", "evening", 1.0, (0.6, 0.0, 0.0, 0.4, 0.0),
             ("{place}邻里噪音纠纷", "{place}物业服务纠纷", "{place}婚姻家庭纠纷", "{place}拖欠工资纠纷")),
    Category("安全隐患", 0.10, "rainy", "office", 0.6, (0.5, 0.0, 0.0, 0.25, 0.25),
             ("{place}电动车楼道充电", "{place}井盖缺失", "{place}私拉乱接电线", "{place}危房墙体开裂")),
    Category("消防", 0.07, "heating", "office", 0.6, (0.5, 0.2, 0.0, 0.3, 0.0),
             ("{place}消防通道堵塞", "{place}灭火器过期", "{place}沿街门店消防隐患", "{place}违规使用明火")),
    Category("公共设施", 0.10, "flat", "office", 0.6, (0.8, 0.1, 0.1, 0.0, 0.0),
             ("{place}路灯损坏", "{place}健身器材损坏", "{place}道路破损", "{place}护栏缺失")),
    Category("特殊人群", 0.05, "flat", "office", 0.5, (0.6, 0.0, 0.0, 0.4, 0.0),
             ("{place}独居老人需要帮扶", "{place}社区矫正人员走访", "{place}留守儿童关爱", "{place}精神障碍患者随访")),
    Category("人口动态", 0.06, "moving", "office", 0.5, (0.9, 0.0, 0.0, 0.1, 0.0),
             ("{place}新增流动人口登记", "{place}出租房屋信息变更", "{place}新生儿信息登记")),
    Category("公共卫生", 0.04, "flu", "office", 0.6, (0.5, 0.1, 0.4, 0.0, 0.0),
             ("{place}发热病例报告", "{place}餐饮店卫生问题", "{place}饮用水异味")),
    Category("民生服务", 0.06, "flat", "office", 0.4, (1.0, 0.0, 0.0, 0.0, 0.0),
             ("{place}咨询低保办理", "{place}申请残疾人补贴", "{place}咨询医保缴费")),
)

#: Emerging hotspots (a new estate moving in, a new street market) draw these categories.
EMERGING_CATEGORIES = ("环境卫生", "市容秩序", "安全隐患", "矛盾纠纷")
EMERGING_WEIGHTS = (0.35, 0.35, 0.15, 0.15)

#: Intake channels (§5.2) and their shares.
REPORTERS = ("网格员巡查", "居民微信上报", "12345热线", "110非警务分流")
REPORTER_WEIGHTS = (0.6, 0.2, 0.15, 0.05)

#: Where a case ends up (escalation ladder, §5.4) and how often.
LEVELS = ("grid", "community", "street", "district")
LEVEL_WEIGHTS = (0.72, 0.18, 0.07, 0.03)

#: Seven-step loop (七步闭环) status names (glossary), in order; "closed" is the end state here.
OPEN_STATUSES = ("reported", "assigned", "in_progress", "handled")
CLOSED = "closed"
