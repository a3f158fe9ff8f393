"""Worker positions: Traccar/OsmAnd ingest (pings, ingest, writer), geofences, patrol analytics, retention.

Core code (no Flask, no click). Entry points: ``gridmap.services.tracking.TrackingService`` (portal and
``gridmap track-listen``), ``gridmap.tracking.report.patrol_report``, ``gridmap.tracking.retention``.

May import the core, ``gridmap.grid_generations`` and the ``Store`` protocol type; never
services or the faces.
"""
