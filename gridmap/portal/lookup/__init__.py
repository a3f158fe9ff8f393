"""Residents' lookup: which grid and which worker serve a point or an address (API, page, photos).

Public routes: every answer goes through the lookup service's public view (no private fields).
"""
