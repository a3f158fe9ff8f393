"""研判分析: heatmaps, hotspots, coverage and statistics — pages, JSON API, their maps and cache.

May import: services, the core, and the portal's shared modules (state, auth, errors, i18n, maps).
"""
