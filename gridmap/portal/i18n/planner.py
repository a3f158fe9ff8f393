"""Texts of the planner pages (网格规划: edit on the map, rebalance, approve, activate, file) in zh and en.

Why a catalogue of their own (like ``incidents_text``): only these pages use them, and the editor's
script gets them as one JSON object. Chinese is the default and the fallback; a test checks that
both languages have the same keys and placeholders.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

_ZH: dict[str, str] = {
    "index.title": "网格规划", "index.intro": "选择社区，在地图上调整网格，校验后保存为待审核版本，批准后启用。",
    "index.community": "社区", "index.active": "现行版本", "index.pending": "待处理版本", "index.actions": "操作",
    "index.none": "您的辖区内没有社区", "index.edit": "在地图上编辑", "index.grids": "{n} 个网格",
    "gen.staged": "待审核", "gen.approved": "已批准", "gen.active": "现行", "gen.retired": "已停用",
    "gen.label": "版本 {id}(v{version},{status})", "gen.by": "编制:{name}",
    "btn.approve": "批准", "btn.activate": "启用", "btn.pdf": "报备 PDF", "btn.gpkg": "报备 GeoPackage",
    "btn.rebalance": "动态调整(预览)", "btn.rebalance_commit": "动态调整并保存",
    "done.approved": "版本 {id} 已批准",
    "done.activated": "版本 {id} 已启用;重新关联事件 {incidents} 件、网格员 {workers} 名",
    "done.rebalance": "调整方案:移动 {blocks} 个街区、{households} 户;新增编码 {new};停用编码 {retired}",
    "done.rebalance_saved": "已保存为待审核版本 {id}",
    "editor.title": "网格编辑:{name}", "editor.base": "编辑基础:版本 {id}(v{version},{status})",
    "editor.mode": "操作", "editor.mode.select": "选择 / 合并", "editor.mode.move": "移动街区",
    "editor.mode.split": "沿线拆分",
    "editor.hint.select": "依次点击两个相邻网格,再点“合并”:第二个并入第一个。",
    "editor.hint.move": "点击要移动的街区,再点击相邻的目标网格。",
    "editor.hint.split": "选择网格后在地图上逐点画线,双击结束;线须从网格一边穿到另一边。",
    "editor.merge": "合并", "editor.split": "拆分", "editor.undo": "撤销上一步", "editor.clear": "清除全部编辑",
    "editor.save": "校验并保存", "editor.note": "说明(可选)", "editor.selected": "已选:{codes}",
    "editor.edits": "编辑步骤", "editor.no_edits": "尚无编辑",
    "editor.op.merge": "合并 {b} 到 {a}", "editor.op.move": "移动街区到 {to}", "editor.op.split": "拆分 {grid}",
    "editor.certificate": "覆盖证书", "editor.cert_ok": "证书通过:全覆盖、无缝隙、无重叠",
    "editor.cert_fail": "证书未通过",
    "editor.savable": "可以保存", "editor.not_savable": "不能保存:{problems}",
    "editor.saved": "已保存为版本 {id}(v{version})", "editor.saving": "正在保存…", "editor.checking": "正在校验…",
    "editor.conflict": "该社区已被他人修改。您的编辑已保存为草稿 {draft},请载入最新版本后重新应用。",
    "editor.reload": "载入最新版本", "editor.drafts": "我的草稿", "editor.apply_draft": "应用草稿",
    "editor.error": "操作失败:{message}", "editor.households": "{n} 户", "editor.band": "户数范围 {min}–{max}",
    "legend.in_band": "户数在范围内", "legend.out_of_band": "户数超出范围", "legend.selected": "已选网格",
    "legend.block": "街区", "legend.violation": "问题位置",
    "check.geometry_valid": "几何有效", "check.coverage_valid": "边界衔接(无缝)", "check.no_overlaps": "无重叠",
    "check.covers_parent": "全覆盖(无缝隙)", "check.contiguous": "网格连片", "check.within_one_community": "不跨社区",
    "check.buildings_assigned": "楼栋唯一归属", "check.households_in_band": "户数在规定范围",
    "check.households_match_buildings": "户数与楼栋一致",
    "check.ok": "通过", "check.fail": "未通过",
}

_EN: dict[str, str] = {
    "index.title": "Grid planning",
    "index.intro": "Pick a community, adjust its grids on the map, validate and save a staged generation,"
                   " approve it, then activate it.",
    "index.community": "Community", "index.active": "Active generation", "index.pending": "Pending generations",
    "index.actions": "Actions", "index.none": "There is no community in your area", "index.edit": "Edit on the map",
    "index.grids": "{n} grids",
    "gen.staged": "staged", "gen.approved": "approved", "gen.active": "active", "gen.retired": "retired",
    "gen.label": "Generation {id} (v{version}, {status})", "gen.by": "by {name}",
    "btn.approve": "Approve", "btn.activate": "Activate", "btn.pdf": "Filing PDF", "btn.gpkg": "Filing GeoPackage",
    "btn.rebalance": "Rebalance (preview)", "btn.rebalance_commit": "Rebalance and save",
    "done.approved": "Generation {id} approved",
    "done.activated": "Generation {id} active; re-linked {incidents} incidents and {workers} workers",
    "done.rebalance": "Plan: {blocks} blocks and {households} households move; new codes {new}; retired {retired}",
    "done.rebalance_saved": "Saved as staged generation {id}",
    "editor.title": "Edit grids: {name}", "editor.base": "Editing generation {id} (v{version}, {status})",
    "editor.mode": "Tool", "editor.mode.select": "Select / merge", "editor.mode.move": "Move a block",
    "editor.mode.split": "Split along a line",
    "editor.hint.select": "Click two neighbouring grids, then Merge: the second joins the first.",
    "editor.hint.move": "Click the block to move, then the neighbouring grid it should join.",
    "editor.hint.split": "Select a grid, then click points of a line across it; double-click to finish.",
    "editor.merge": "Merge", "editor.split": "Split", "editor.undo": "Undo last edit",
    "editor.clear": "Clear all edits", "editor.save": "Validate and save", "editor.note": "Note (optional)",
    "editor.selected": "Selected: {codes}", "editor.edits": "Edits", "editor.no_edits": "No edits yet",
    "editor.op.merge": "merge {b} into {a}", "editor.op.move": "move a block to {to}",
    "editor.op.split": "split {grid}",
    "editor.certificate": "Coverage certificate",
    "editor.cert_ok": "Certificate holds: full coverage, no gaps, no overlaps",
    "editor.cert_fail": "Certificate fails", "editor.savable": "Ready to save",
    "editor.not_savable": "Cannot be saved: {problems}", "editor.saved": "Saved as generation {id} (v{version})",
    "editor.saving": "Saving…", "editor.checking": "Validating…",
    "editor.conflict": "Someone else changed this community. Your edits are kept as draft {draft}; load the"
                       " newest version and apply them again.",
    "editor.reload": "Load the newest version", "editor.drafts": "My drafts", "editor.apply_draft": "Apply draft",
    "editor.error": "Failed: {message}", "editor.households": "{n} households", "editor.band": "Band {min}–{max}",
    "legend.in_band": "Households in band", "legend.out_of_band": "Households out of band",
    "legend.selected": "Selected grid", "legend.block": "Block", "legend.violation": "Problem",
    "check.geometry_valid": "Valid geometry", "check.coverage_valid": "Edges match", "check.no_overlaps": "No overlaps",
    "check.covers_parent": "Full coverage (no gaps)", "check.contiguous": "Contiguous grids",
    "check.within_one_community": "Within one community", "check.buildings_assigned": "Each building in one grid",
    "check.households_in_band": "Households in band",
    "check.households_match_buildings": "Households match buildings", "check.ok": "ok", "check.fail": "fails",
}

CATALOGUES: Mapping[str, Mapping[str, str]] = MappingProxyType({"zh": MappingProxyType(_ZH),
                                                                 "en": MappingProxyType(_EN)})  # fmt: skip


def planner_text(key: str, lang: str, **params: Any) -> str:
    """The planner text ``key`` in ``lang`` (falling back to Chinese, then the key), formatted."""
    text = CATALOGUES.get(lang, CATALOGUES["zh"]).get(key) or CATALOGUES["zh"].get(key) or key
    return text.format(**params) if params else text


def texts_for(lang: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """Every text whose key starts with one of ``prefixes`` (for the editor's script)."""
    cat = CATALOGUES.get(lang, CATALOGUES["zh"])
    return {k: v for k, v in cat.items() if k.startswith(prefixes)}
