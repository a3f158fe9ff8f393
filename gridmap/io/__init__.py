"""Reading and writing files: vector formats, CSV, OpenStreetMap extracts, household estimates.

``readers`` turns a file into raw columns and geometries (never failing on one bad feature),
``osm`` does the same for .osm.pbf extracts, ``columns`` maps file columns to layer columns and
types, ``checks`` finds bad geometries and coordinates (and repairs them with ``--fix``),
``households`` estimates 户 from footprints, ``prepare`` runs all of that for one layer, and
``writers`` exports. The use cases on top are :mod:`gridmap.services.importing` / ``exporting``.

May import the core only (pyogrio, pyrosm, pandas); services call it, never the faces directly.
"""

from gridmap.io.readers import SourceData, read_source
from gridmap.io.writers import EXPORT_FORMATS, shapefile_field_names, write_frame

__all__ = ["EXPORT_FORMATS", "SourceData", "read_source", "shapefile_field_names", "write_frame"]
