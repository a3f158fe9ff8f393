"""Reading and writing files: vector formats, CSV, OpenStreetMap extracts, household estimates.

``readers`` turns a file into raw columns and geometries (never failing on one bad feature),
``columns`` maps file columns to layer columns, ``checks`` finds bad geometries and coordinates,
``households`` estimates 户 from footprints, ``osm`` reads .osm.pbf, ``writers`` exports.
The import use case that ties them together is :mod:`gridmap.services.importing`.
"""

from gridmap.io.readers import SourceData, read_source
from gridmap.io.writers import EXPORT_FORMATS, shapefile_field_names, write_frame

__all__ = ["EXPORT_FORMATS", "SourceData", "read_source", "shapefile_field_names", "write_frame"]
