"""Spatial analysis: the lookup index (STRtree) and SQL lookup, gazetteer, hotspots (esda), heat,
coverage, emerging hotspots and per-area statistics.

May import the core, ``gridmap.grid_generations`` and the ``Store`` protocol type; never services,
the CLI or the portal (a page or a command reaches these through ``gridmap.services.analysis`` and
``gridmap.services.lookup``).
"""
