"""The closed loop of incidents: list, detail, report pages, the staff API, Open311 GeoReport v2, charts.

May import: services, the core, and the portal's shared modules (state, auth, errors, i18n, maps, live).
"""
