"""Texts of the field pages (/field for the worker, /field/diaries for leaders) and their script, zh and en.

Why a catalogue of their own (as ``planner.py``): only these pages use them, and the offline
script gets them as one JSON object. Chinese is the default and the fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

_ZH: dict[str, str] = {
    "title": "今日工作", "app_name": "网格员工作台", "grid": "本网格:{code}",
    "offline": "离线:记录会先保存在本机,联网后自动上传", "online": "在线",
    "queue": "待上传 {n} 条", "queue.none": "全部已上传", "queue.failed": "{n} 条被退回",
    "map.title": "我的位置", "map.me": "我的位置(精度 {acc} 米)", "map.no_position": "尚未取得定位",
    "tasks.title": "今日任务", "tasks.patrol": "今日巡查", "tasks.patrol.done": "已完成",
    "tasks.patrol.todo": "未完成", "tasks.patrol.unknown": "无轨迹数据",
    "tasks.points": "应巡查点位", "tasks.points.due": "今日应查", "tasks.points.ok": "下次 {day}",
    "tasks.visits": "计划走访", "tasks.visits.none": "今日无计划走访",
    "tasks.incidents": "待办事件", "tasks.incidents.none": "没有分派给您的待办事件",
    "tasks.deadline": "时限 {at}", "tasks.diary": "民情日志", "tasks.diary.done": "今日已写",
    "tasks.diary.todo": "今日未写",
    "checkin.title": "巡查打卡", "checkin.point": "巡查点", "checkin.photos": "照片(至少一张)",
    "checkin.note": "情况说明", "checkin.submit": "打卡",
    "visit.title": "入户走访", "visit.building": "楼栋编号", "visit.household": "住户(单元-室)",
    "visit.purpose": "走访事由", "visit.outcome": "走访结果", "visit.follow_up": "后续跟进",
    "visit.follow_up_on": "跟进日期", "visit.incident": "同时上报事件(类别代码)",
    "visit.incident_description": "事件描述", "visit.photos": "照片(可选)", "visit.submit": "保存走访",
    "diary.title": "民情日志", "diary.text": "今日情况", "diary.tags": "标签(逗号分隔)",
    "diary.submit": "保存日志", "diary.saved": "日志已保存", "diary.comments": "领导点评",
    "diary.reviewed": "已审阅({name})",
    "msg.queued": "已保存在本机,等待上传", "msg.sent": "已上传", "msg.refused": "被退回:{message}",
    "msg.no_position": "无法取得定位:{message}", "msg.photo_needed": "请至少拍一张照片",
    "review.title": "民情日志审阅", "review.intro": "您辖区内网格员的民情日志:审阅并点评。",
    "review.worker": "网格员", "review.day": "日期", "review.text": "内容", "review.status": "状态",
    "review.none": "本月没有日志", "review.mark": "标记已审阅", "review.comment": "点评",
    "review.comment_submit": "发表点评", "review.reviewed": "已审阅", "review.pending": "待审阅",
    "review.month": "月份", "review.show": "显示",
    "coverage.title": "入户走访覆盖(按网格,{month})", "coverage.grid": "网格", "coverage.buildings": "楼栋数",
    "coverage.visited": "已走访楼栋", "coverage.visits": "走访次数", "coverage.share": "覆盖率",
    "assessment.title": "网格员日常工作考核({month})", "assessment.worker": "网格员",
    "assessment.diary_days": "日志天数", "assessment.visits": "走访次数", "assessment.points": "巡查点覆盖",
    "assessment.score": "得分",
    "assessment.rules": "权重:日志 {d},走访 {v},巡查点 {i};月目标:日志 {dt} 天,走访 {vt} 次",
}

_EN: dict[str, str] = {
    "title": "Today's work", "app_name": "Grid worker", "grid": "Grid {code}",
    "offline": "Offline: entries are kept on this phone and uploaded when back online", "online": "Online",
    "queue": "{n} waiting to upload", "queue.none": "Everything uploaded", "queue.failed": "{n} refused",
    "map.title": "My position", "map.me": "My position (±{acc} m)", "map.no_position": "No position yet",
    "tasks.title": "Today's tasks", "tasks.patrol": "Today's patrol", "tasks.patrol.done": "done",
    "tasks.patrol.todo": "not yet", "tasks.patrol.unknown": "no track data",
    "tasks.points": "Inspection points", "tasks.points.due": "due today", "tasks.points.ok": "next {day}",
    "tasks.visits": "Planned visits", "tasks.visits.none": "No visits planned today",
    "tasks.incidents": "Open incidents", "tasks.incidents.none": "No open incidents assigned to you",
    "tasks.deadline": "due {at}", "tasks.diary": "Worker log", "tasks.diary.done": "written today",
    "tasks.diary.todo": "not written today",
    "checkin.title": "Check in", "checkin.point": "Inspection point", "checkin.photos": "Photos (at least one)",
    "checkin.note": "Note", "checkin.submit": "Check in",
    "visit.title": "Home visit", "visit.building": "Building id", "visit.household": "Household (unit-room)",
    "visit.purpose": "Purpose", "visit.outcome": "Outcome", "visit.follow_up": "Follow-up",
    "visit.follow_up_on": "Follow-up date", "visit.incident": "Also report an incident (category code)",
    "visit.incident_description": "Incident description", "visit.photos": "Photos (optional)",
    "visit.submit": "Save visit",
    "diary.title": "Worker log", "diary.text": "Today", "diary.tags": "Tags (comma separated)",
    "diary.submit": "Save log", "diary.saved": "Log saved", "diary.comments": "Leaders' comments",
    "diary.reviewed": "Reviewed ({name})",
    "msg.queued": "Kept on this phone, waiting to upload", "msg.sent": "Uploaded", "msg.refused": "Refused: {message}",
    "msg.no_position": "No position: {message}", "msg.photo_needed": "Take at least one photo",
    "review.title": "Worker logs", "review.intro": "Logs of the grid workers in your area: review and comment.",
    "review.worker": "Worker", "review.day": "Day", "review.text": "Text", "review.status": "Status",
    "review.none": "No logs this month", "review.mark": "Mark reviewed", "review.comment": "Comment",
    "review.comment_submit": "Post comment", "review.reviewed": "reviewed", "review.pending": "to review",
    "review.month": "Month", "review.show": "Show",
    "coverage.title": "Home-visit coverage by grid ({month})", "coverage.grid": "Grid",
    "coverage.buildings": "Buildings", "coverage.visited": "Visited", "coverage.visits": "Visits",
    "coverage.share": "Coverage",
    "assessment.title": "Field assessment of workers ({month})", "assessment.worker": "Worker",
    "assessment.diary_days": "Log days", "assessment.visits": "Visits", "assessment.points": "Points covered",
    "assessment.score": "Score",
    "assessment.rules": "Weights: logs {d}, visits {v}, points {i}; monthly targets: {dt} log days, {vt} visits",
}

CATALOGUES: Mapping[str, Mapping[str, str]] = MappingProxyType({"zh": MappingProxyType(_ZH),
                                                                 "en": MappingProxyType(_EN)})  # fmt: skip


def field_text(key: str, lang: str, **params: Any) -> str:
    text = CATALOGUES.get(lang, CATALOGUES["zh"]).get(key) or CATALOGUES["zh"].get(key) or key
    return text.format(**params) if params else text


def field_texts(lang: str) -> dict[str, str]:
    """Every text, for the page's script."""
    return dict(CATALOGUES.get(lang, CATALOGUES["zh"]))
