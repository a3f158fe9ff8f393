"""The grid worker's day in the portal: the /field page (PWA), leaders' log review, the field API.

May import: services, the core, and the portal's shared modules (state, auth, errors, i18n, maps).
"""
