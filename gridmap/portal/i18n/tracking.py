"""Texts of the command-centre pages (live worker map, workers registry, patrol analytics), zh and en.

Why a catalogue of their own (as the incident and analysis pages have): these strings are used only
by the tracking pages and command.js; the shared catalogues keep the shared layout. Chinese is the
default and the fallback; a test checks both languages have the same keys and placeholders.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

_ZH: dict[str, str] = {
    "command.title": "网格员实时位置",
    "command.map_aria": "网格员实时位置地图",
    "command.filter": "范围",
    "command.filter_all": "全部",
    "command.legend": "图例",
    "state.inside": "在本网格",
    "state.outside": "离开本网格",
    "state.stale": "位置过期",
    "command.count": "{n} 名网格员",
    "command.alerts": "离格提醒",
    "command.no_alerts": "暂无提醒",
    "command.alert": "{name} 已离开本网格 {minutes} 分钟",
    "command.live_connecting": "正在连接实时数据…",
    "command.live_connected": "实时更新已连接",
    "command.live_disconnected": "实时更新已断开，正在重连…",
    "command.live_gap": "部分更新未收到，已重新加载位置",
    "card.role": "岗位",
    "card.phone": "电话",
    "card.home_grid": "所属网格",
    "card.grid_now": "当前网格",
    "card.outside_grid": "不在任何网格内",
    "card.state": "状态",
    "card.fix_time": "定位时间",
    "card.battery": "电量",
    "card.speed": "速度",
    "card.track": "今日轨迹",
    "card.track_none": "今日暂无轨迹",
    "card.details": "详细信息",
    "card.partner": "AB岗搭档",
    "card.device": "设备号",
    "card.duties": "职责",
    "card.extra_grids": "兼管网格",
    "card.active": "在岗",
    "card.inactive": "已停用",
    "role.grid_leader": "网格长",
    "role.full_time": "专职网格员",
    "role.part_time": "兼职网格员",
    "workers.title": "网格员台账",
    "workers.count": "共 {n} 人",
    "workers.name": "姓名",
    "workers.none": "本范围内暂无网格员。",
    "worker.title": "网格员：{name}",
    "worker.positions": "位置",
    "worker.no_position": "暂无位置记录",
    "patrol.title": "巡查分析",
    "patrol.period": "周期",
    "patrol.day": "按日",
    "patrol.month": "按月",
    "patrol.date": "日期",
    "patrol.apply": "统计",
    "patrol.csv": "下载 CSV",
    "patrol.by_worker": "按网格员",
    "patrol.by_grid": "按网格",
    "patrol.worker": "网格员",
    "patrol.grid": "网格",
    "patrol.days": "统计天数",
    "patrol.tracked_h": "定位时长（小时）",
    "patrol.own_h": "在本网格（小时）",
    "patrol.own_share": "在格时间占比",
    "patrol.r15": "≥ 50%（R-15）",
    "patrol.patrol_days": "巡查天数（R-16）",
    "patrol.patrolled": "当日已巡查",
    "patrol.streets": "道路覆盖率",
    "patrol.buildings": "楼栋覆盖率",
    "patrol.units": "重点点位覆盖率",
    "patrol.yes": "达标",
    "patrol.no": "未达标",
    "patrol.none": "该周期内没有位置数据。",
    "patrol.chart_share": "在格时间占比（虚线为 50%）",
    "patrol.chart_coverage": "道路与楼栋覆盖率",
    "patrol.distance": "道路或楼栋在轨迹 {m} 米内即计为已巡查。",
}

_EN: dict[str, str] = {
    "command.title": "Grid workers live",
    "command.map_aria": "Live map of grid workers",
    "command.filter": "Area",
    "command.filter_all": "All",
    "command.legend": "Legend",
    "state.inside": "In own grid",
    "state.outside": "Outside own grid",
    "state.stale": "Position stale",
    "command.count": "{n} grid workers",
    "command.alerts": "Outside-grid alerts",
    "command.no_alerts": "No alerts",
    "command.alert": "{name} has been outside their grid for {minutes} min",
    "command.live_connecting": "Connecting to live updates…",
    "command.live_connected": "Live updates connected",
    "command.live_disconnected": "Live updates lost, reconnecting…",
    "command.live_gap": "Some updates were missed; positions reloaded",
    "card.role": "Role",
    "card.phone": "Phone",
    "card.home_grid": "Grid",
    "card.grid_now": "Now in grid",
    "card.outside_grid": "Outside every grid",
    "card.state": "State",
    "card.fix_time": "Fix time",
    "card.battery": "Battery",
    "card.speed": "Speed",
    "card.track": "Today's track",
    "card.track_none": "No track today",
    "card.details": "Details",
    "card.partner": "A/B partner",
    "card.device": "Device id",
    "card.duties": "Duties",
    "card.extra_grids": "Also serves",
    "card.active": "Active",
    "card.inactive": "Inactive",
    "role.grid_leader": "Grid leader",
    "role.full_time": "Full-time grid worker",
    "role.part_time": "Part-time grid worker",
    "workers.title": "Workers registry",
    "workers.count": "{n} in all",
    "workers.name": "Name",
    "workers.none": "No grid workers in this area.",
    "worker.title": "Grid worker: {name}",
    "worker.positions": "Position",
    "worker.no_position": "No position yet",
    "patrol.title": "Patrol analytics",
    "patrol.period": "Period",
    "patrol.day": "Day",
    "patrol.month": "Month",
    "patrol.date": "Date",
    "patrol.apply": "Show",
    "patrol.csv": "Download CSV",
    "patrol.by_worker": "By worker",
    "patrol.by_grid": "By grid",
    "patrol.worker": "Worker",
    "patrol.grid": "Grid",
    "patrol.days": "Days",
    "patrol.tracked_h": "Tracked (hours)",
    "patrol.own_h": "In own grid (hours)",
    "patrol.own_share": "Share in own grid",
    "patrol.r15": "≥ 50% (R-15)",
    "patrol.patrol_days": "Days patrolled (R-16)",
    "patrol.patrolled": "Patrolled",
    "patrol.streets": "Streets covered",
    "patrol.buildings": "Buildings covered",
    "patrol.units": "Key points covered",
    "patrol.yes": "Met",
    "patrol.no": "Not met",
    "patrol.none": "No positions in this period.",
    "patrol.chart_share": "Share of time in own grid (dashed: 50%)",
    "patrol.chart_coverage": "Street and building coverage",
    "patrol.distance": "A street or building counts as patrolled within {m} m of the track.",
}

CATALOGUES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"zh": MappingProxyType(_ZH), "en": MappingProxyType(_EN)}
)


def command_text(key: str, lang: str, **params: Any) -> str:
    """The text ``key`` in ``lang`` (Chinese fallback, then the key itself), placeholders filled."""
    catalogue = CATALOGUES.get(lang, CATALOGUES["zh"])
    text = catalogue.get(key) or CATALOGUES["zh"].get(key) or key
    return text.format(**params) if params else text


def command_texts(lang: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """Every text whose key starts with one of ``prefixes`` (handed to command.js as JSON)."""
    catalogue = CATALOGUES.get(lang, CATALOGUES["zh"])
    return {k: catalogue.get(k, v) for k, v in CATALOGUES["zh"].items() if k.startswith(prefixes)}
