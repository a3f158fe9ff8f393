"""Standard GIS services for other systems: OGC API - Features (``/ogc``) and vector tiles (``/tiles``).

May import: services, the core, and the portal's shared modules (state, auth, errors).
"""
