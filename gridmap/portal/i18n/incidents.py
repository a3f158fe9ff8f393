"""Texts of the incident pages (事件, 上报, 考核) in Chinese and English.

Why a catalogue of their own next to the portal's: these pages add ~150 strings that only they use;
keeping them here keeps the shared catalogues small and lets the incident pages change without
touching files other pages depend on. Same rules as ``gridmap.portal.i18n.translator``: Chinese is the
default and the fallback, a test checks that both languages have the same keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

_ZH: dict[str, str] = {
    "nav.incidents": "事件", "nav.report": "上报事件", "nav.assessment": "考核",
    "list.title": "事件列表", "list.count": "共 {n} 件（最多显示 {limit} 件）", "list.empty": "没有符合条件的事件",
    "filter.window": "时间范围", "filter.days": "近 {n} 天", "filter.category": "类别", "filter.status": "状态",
    "filter.level": "层级", "filter.area": "区域编码", "filter.any": "全部", "filter.apply": "筛选",
    "filter.overdue": "仅超期",
    "col.id": "编号", "col.category": "类别", "col.status": "状态", "col.level": "层级", "col.grid": "网格",
    "col.reported": "上报时间", "col.deadline": "处置期限", "col.card": "红黄牌", "col.supervised": "督办",
    "col.description": "描述", "col.address": "地址", "col.reporter": "上报人", "col.assigned": "处置人",
    "col.department": "部门", "col.satisfaction": "满意度", "col.failures": "核查未通过次数",
    "col.version": "版本",
    "status.reported": "已上报", "status.case_opened": "已立案", "status.assigned": "已派遣",
    "status.in_progress": "处置中", "status.handled": "已处置", "status.verified": "已核查",
    "status.closed": "已结案", "status.evaluated": "已评价", "status.rejected": "不予立案",
    "level.grid": "网格", "level.community": "社区", "level.street": "街道", "level.district": "区县",
    "level.command": "指挥中心",
    "card.yellow": "黄牌", "card.red": "红牌", "flag.supervised": "督办", "flag.overdue": "已超期",
    "flag.penalty": "扣分", "flag.urgent": "紧急",
    "action.open_case": "立案", "action.reject": "不予立案", "action.assign": "派遣",
    "action.start": "开始处置", "action.handle": "处置反馈", "action.verify": "核查通过",
    "action.fail_verification": "核查不通过", "action.close": "结案归档", "action.evaluate": "评价",
    "action.escalate": "上报上级", "action.supervise": "督办", "action.comment": "点评", "action.report": "上报",
    "action.card": "超期亮牌",
    "detail.title": "事件详情", "detail.timeline": "处理记录", "detail.actions": "办理",
    "detail.no_actions": "当前账号在此状态下没有可办理的操作", "detail.sign_in": "登录或填写接口密钥后可办理",
    "detail.note": "说明", "detail.assigned_to": "网格员编号", "detail.department": "部门",
    "detail.satisfaction": "满意度（1-5）", "detail.to_level": "上报至", "detail.duplicate_of": "重复于",
    "detail.api_key": "接口密钥", "detail.submit": "提交", "detail.done": "已办理：{action}",
    "detail.conflict": "该事件已被他人更新，请刷新后重试", "detail.actor_hidden": "工作人员",
    "detail.map": "位置", "detail.token_hint": "凭查询码可核查处置结果并评价",
    "form.title": "上报事件", "form.intro": "在地图上点击事件发生的位置，选择类别并描述问题。",
    "form.pin": "点击地图放置位置", "form.pinned": "已选位置：{lon}, {lat}", "form.category": "事件类别",
    "form.description": "问题描述", "form.address": "地址（可选）", "form.media_url": "照片链接（可选）",
    "form.api_key": "接口密钥（工作人员，可选）", "form.submit": "提交上报", "form.sending": "正在提交…",
    "form.success": "已受理，事件编号 {id}", "form.token": "查询码（请保存，用于查询进度和评价）：{token}",
    "form.view": "查看事件", "form.duplicates": "附近可能重复的事件", "form.no_duplicates": "附近没有类似的未结事件",
    "form.error": "提交失败：{message}", "form.need_pin": "请先在地图上选择位置",
    "form.distance": "{m} 米", "form.anonymous_off": "本系统未开放匿名上报，请填写接口密钥或登录",
    "import.title": "批量导入（CSV / GeoJSON）", "import.file": "文件", "import.submit": "导入",
    "import.done": "已从 {file} 导入 {n} 件事件", "import.hint": "CSV 需含 category 与 lon/lat 列；GeoJSON 为点要素",
    "assess.title": "考核统计", "assess.unit": "考核对象", "assess.unit.grid": "网格",
    "assess.unit.worker": "网格员", "assess.unit.community": "社区", "assess.unit.street": "街道",
    "assess.unit.department": "部门", "assess.start": "开始日期", "assess.end": "结束日期",
    "assess.export": "导出 CSV", "assess.rank": "排名", "assess.received": "受理数", "assess.closed": "办结数",
    "assess.closure_rate": "办结率", "assess.on_time_rate": "按时办结率",
    "assess.mean_handling_h": "平均处置时长（小时）",
    "assess.verification_failures": "核查未通过", "assess.yellow_cards": "黄牌", "assess.red_cards": "红牌",
    "assess.satisfaction_mean": "满意度", "assess.score": "得分", "assess.passed": "合格",
    "assess.yes": "是", "assess.no": "否", "assess.bar": "得分排名（前 {n}）", "assess.pie": "事件类别构成",
    "assess.trend": "受理与办结趋势（按月）", "assess.ab": "AB岗综合得分（A岗 {a}% + B岗 {b}%）",
    "assess.a_score": "A岗得分", "assess.b_score": "B岗得分", "assess.worker": "网格员",
    "assess.pass_line": "合格线 {score} 分", "assess.none": "所选时间内没有事件", "assess.series.received": "受理",
    "assess.series.closed": "办结", "assess.total": "合计 {n} 件",
}

_EN: dict[str, str] = {
    "nav.incidents": "Incidents", "nav.report": "Report", "nav.assessment": "Assessment",
    "list.title": "Incidents", "list.count": "{n} incident(s) (at most {limit} shown)",
    "list.empty": "No incident matches these filters",
    "filter.window": "Period", "filter.days": "Last {n} days", "filter.category": "Category",
    "filter.status": "Status", "filter.level": "Level", "filter.area": "Area code", "filter.any": "Any",
    "filter.apply": "Filter", "filter.overdue": "Overdue only",
    "col.id": "ID", "col.category": "Category", "col.status": "Status", "col.level": "Level", "col.grid": "Grid",
    "col.reported": "Reported", "col.deadline": "Due", "col.card": "Card", "col.supervised": "Supervised",
    "col.description": "Description", "col.address": "Address", "col.reporter": "Reporter",
    "col.assigned": "Handler", "col.department": "Department", "col.satisfaction": "Satisfaction",
    "col.failures": "Failed verifications", "col.version": "Version",
    "status.reported": "Reported", "status.case_opened": "Case opened", "status.assigned": "Assigned",
    "status.in_progress": "In progress", "status.handled": "Handled", "status.verified": "Verified",
    "status.closed": "Closed", "status.evaluated": "Evaluated", "status.rejected": "Rejected",
    "level.grid": "Grid", "level.community": "Community", "level.street": "Street", "level.district": "District",
    "level.command": "Command centre",
    "card.yellow": "Yellow card", "card.red": "Red card", "flag.supervised": "Supervised",
    "flag.overdue": "Overdue", "flag.penalty": "Penalty", "flag.urgent": "Urgent",
    "action.open_case": "Open case", "action.reject": "Reject", "action.assign": "Assign",
    "action.start": "Start", "action.handle": "Report handling", "action.verify": "Verify",
    "action.fail_verification": "Fail verification", "action.close": "Close", "action.evaluate": "Evaluate",
    "action.escalate": "Escalate", "action.supervise": "Supervise", "action.comment": "Comment",
    "action.report": "Report", "action.card": "Overdue card",
    "detail.title": "Incident", "detail.timeline": "Timeline", "detail.actions": "Actions",
    "detail.no_actions": "No action is open to this account in this state",
    "detail.sign_in": "Sign in or enter an API key to act", "detail.note": "Note",
    "detail.assigned_to": "Worker ID", "detail.department": "Department",
    "detail.satisfaction": "Satisfaction (1-5)", "detail.to_level": "Escalate to",
    "detail.duplicate_of": "Duplicate of", "detail.api_key": "API key", "detail.submit": "Submit",
    "detail.done": "Done: {action}", "detail.conflict": "Someone else changed this incident; reload and retry",
    "detail.actor_hidden": "Staff", "detail.map": "Location",
    "detail.token_hint": "With the tracking code you can verify the result and evaluate it",
    "form.title": "Report an incident", "form.intro": "Tap the map where it is, pick a category and describe it.",
    "form.pin": "Tap the map to place the pin", "form.pinned": "Location: {lon}, {lat}",
    "form.category": "Category", "form.description": "Description", "form.address": "Address (optional)",
    "form.media_url": "Photo link (optional)", "form.api_key": "API key (staff, optional)",
    "form.submit": "Send report", "form.sending": "Sending…", "form.success": "Received, incident {id}",
    "form.token": "Tracking code (keep it to follow and evaluate the case): {token}", "form.view": "Open it",
    "form.duplicates": "Possible duplicates nearby", "form.no_duplicates": "No similar open incident nearby",
    "form.error": "Not sent: {message}", "form.need_pin": "Place the pin on the map first",
    "form.distance": "{m} m", "form.anonymous_off": "Anonymous reports are off here: enter an API key or sign in",
    "import.title": "Import (CSV / GeoJSON)", "import.file": "File", "import.submit": "Import",
    "import.done": "Imported {n} incident(s) from {file}",
    "import.hint": "A CSV needs category and lon/lat columns; GeoJSON holds points",
    "assess.title": "Assessment", "assess.unit": "Assess", "assess.unit.grid": "Grids",
    "assess.unit.worker": "Workers", "assess.unit.community": "Communities", "assess.unit.street": "Streets",
    "assess.unit.department": "Departments", "assess.start": "From", "assess.end": "To",
    "assess.export": "Export CSV", "assess.rank": "Rank", "assess.received": "Received", "assess.closed": "Closed",
    "assess.closure_rate": "Closure rate", "assess.on_time_rate": "On time", "assess.mean_handling_h":
    "Mean handling (h)", "assess.verification_failures": "Failed verifications", "assess.yellow_cards": "Yellow",
    "assess.red_cards": "Red", "assess.satisfaction_mean": "Satisfaction", "assess.score": "Score",
    "assess.passed": "Pass", "assess.yes": "yes", "assess.no": "no", "assess.bar": "Scores (top {n})",
    "assess.pie": "Incidents by category", "assess.trend": "Received and closed per month",
    "assess.ab": "A/B post scores (A {a}% + B {b}%)", "assess.a_score": "A post", "assess.b_score": "B post",
    "assess.worker": "Worker", "assess.pass_line": "Pass line {score}", "assess.none": "No incidents in this period",
    "assess.series.received": "Received", "assess.series.closed": "Closed", "assess.total": "{n} in total",
}

CATALOGUES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"zh": MappingProxyType(_ZH), "en": MappingProxyType(_EN)})


def incident_text(key: str, lang: str, **params: Any) -> str:
    """The text ``key`` in ``lang`` (Chinese fallback, then the key), with ``{name}`` placeholders filled."""
    catalogue = CATALOGUES.get(lang, CATALOGUES["zh"])
    text = catalogue.get(key) or CATALOGUES["zh"].get(key) or key
    return text.format(**params) if params else text


def texts_for(prefixes: tuple[str, ...], lang: str) -> dict[str, str]:
    """Every text whose key starts with one of ``prefixes`` (sent to page scripts as JSON)."""
    zh = CATALOGUES["zh"]
    return {k: incident_text(k, lang) for k in zh if k.startswith(prefixes)}
