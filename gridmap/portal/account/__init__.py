"""Signing in and out, and the account page (``/login``, ``/logout``, ``/account``).

May import: services, the core, and the portal's shared modules (state, auth, errors, i18n, maps).
"""
