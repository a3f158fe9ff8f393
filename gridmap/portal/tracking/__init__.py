"""Grid workers' positions: the OsmAnd/Traccar endpoint, the tracking API, the live command map,
the workers registry and patrol analytics.

May import: services, the core, and the portal's shared modules (state, auth, errors, i18n, maps, live).
"""
