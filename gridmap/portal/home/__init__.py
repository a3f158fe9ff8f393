"""The home page (the whole hierarchy on one map) and the signed-in dashboard with the navigation.

May import: services, the core, and the portal's shared modules (state, auth, errors, i18n, maps).
"""
