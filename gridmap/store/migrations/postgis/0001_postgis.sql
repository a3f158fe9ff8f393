-- PostGIS itself. IF NOT EXISTS: on a managed server a DBA may have created it already
-- (creating an extension needs more rights than gridmap's own tables).
CREATE EXTENSION IF NOT EXISTS postgis;
