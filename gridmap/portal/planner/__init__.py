"""网格规划: the planner's pages and JSON API (edit grids on the map, rebalance, approve, activate, file).

May import: services, the core, and the portal's shared modules (state, auth, errors, i18n, maps).
"""
