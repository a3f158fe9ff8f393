"""Mapbox Vector Tiles of the stored layers, so maps stay small whatever the size of the city.

What lives here: the XYZ tile grid in Web Mercator (``grid``), the catalogue of tile layers
(``layers``: which store layer, which rows, which properties, who may see them, zoom limits),
and the two encoders: ``postgis_sql`` (one ``ST_AsMVT`` statement per tile) and ``encode``
(mapbox-vector-tile over the GeoPackage's R-tree reads). gridmap.services.tiles puts them
together for a caller.

May import: gridmap.schema, gridmap.errors, gridmap.model, gridmap.auth.principal, gridmap.store
(types and the store classes for dispatch). Never Flask or click.
"""
