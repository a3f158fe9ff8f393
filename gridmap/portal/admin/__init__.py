"""Administration: the accounts of the admin's area and the audit log (``/admin/...``).

May import: services, the core, and the portal's shared modules (state, auth, errors, i18n, maps).
"""
