-- Side tables of the SQL lookup (gridmap.analysis.lookup_sql). They hold derived data, rebuilt from
-- the active grids whenever the active generations change, so they are not layers of gridmap.schema;
-- gridmap.store.postgis.INTERNAL_TABLES names them for the store contract test.
-- lookup_grid_parts: every active grid cut by ST_Subdivide into pieces of <= 64 vertices, so that a
-- point test costs the same for a 20-vertex grid and a 5,000-vertex village (as MapIt does).
CREATE TABLE lookup_grid_parts (
  grid_fid bigint NOT NULL,
  code text NOT NULL,
  kind text NOT NULL,
  tiling boolean NOT NULL,
  geom geometry(Geometry, {srid}) NOT NULL
);
CREATE INDEX lookup_grid_parts_geom_gist ON lookup_grid_parts USING gist (geom);

-- lookup_state: one row, the fingerprint of the active generations the parts were built from.
CREATE TABLE lookup_state (
  id integer PRIMARY KEY,
  fingerprint text NOT NULL,
  refreshed_at timestamptz NOT NULL,
  parts bigint NOT NULL
);
