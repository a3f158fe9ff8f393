"""Simplified Chinese messages (the default language of the portal).

Keys are dotted and stable; templates and map builders look them up through ``gridmap.portal.i18n``.
Placeholders use ``str.format`` syntax (``{min}``); values passed in are formatted by the caller.
Every key here must also exist in ``messages_en.py`` (a test checks both catalogues match).
"""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # Product and layout
    "app.name": "网格化服务管理",
    "app.title": "网格化服务管理 · gridmap",
    "app.tagline": "基层网格地图门户",
    "nav.home": "网格地图",
    "nav.main": "主导航",
    "lang.label": "语言",
    "lang.zh": "中文",
    "lang.en": "English",
    "footer.synthetic": "演示数据为合成数据,仅供测试。",
    # Counts in the header
    "count.districts": "区县",
    "count.streets": "街道",
    "count.communities": "社区",
    "count.grids": "网格",
    "count.households": "户数",
    "count.summary": "统计",
    # Map layers
    "layer.district": "区县边界",
    "layer.street": "街道边界",
    "layer.community": "社区边界",
    "layer.grid": "网格",
    "layer.professional": "专业网格",
    "map.empty": "暂无边界数据。请先导入或生成演示数据。",
    "map.aria": "网格层级地图",
    # Popup and tooltip fields
    "field.code": "编码",
    "field.name": "名称",
    "field.level": "层级",
    "field.households": "户数",
    "field.kind": "类型",
    "field.band": "户数区间",
    "value.unknown": "—",
    # Levels and kinds
    "level.district": "区县",
    "level.street": "街道",
    "level.community": "社区",
    "level.grid": "网格",
    "kind.base": "基础网格",
    "kind.dedicated": "专属网格",
    "kind.professional": "专业网格",
    "kind.micro": "微网格",
    # Band checks
    "band.in": "在区间内({min}–{max}户)",
    "band.below": "低于下限({min}户)",
    "band.above": "高于上限({max}户)",
    "band.none": "未设区间",
    # Legend
    "legend.title": "网格户数",
    "legend.range": "{low}–{high}户",
    "legend.below": "低于区间",
    "legend.above": "高于区间",
    "legend.violation": "超出户数区间(红色虚线)",
    "legend.dedicated": "专属网格",
    "legend.no_data": "无户数数据",
    # Errors
    "error.title": "出错了",
    "error.not_found": "页面不存在",
    "error.method_not_allowed": "不支持该请求方法",
    "error.internal": "服务器内部错误,已记录日志。",
    "error.store_unavailable": "数据存储暂不可用,请稍后再试。",
    "error.back_home": "返回首页",
    "error.code": "错误代码",
}
