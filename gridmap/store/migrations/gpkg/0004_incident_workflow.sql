-- The incident closed loop (gridmap.incidents): workflow columns on incidents, and the
-- append-only transition log incident_events (gridmap.schema INCIDENTS_SPEC, INCIDENT_EVENTS_SPEC).
-- The incidents table is rebuilt rather than ALTERed so that its columns stay in schema order with
-- the geometry last (the layout QGIS shows and the contract test checks); rows and fids are kept,
-- and the R-tree index is recreated by the runner (gpkg_schema.ensure_rtree_indexes).

CREATE TABLE "incidents_0004" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "incident_id" TEXT NOT NULL,
  "category" TEXT NOT NULL,
  "description" TEXT,
  "status" TEXT NOT NULL,
  "reported_at" DATETIME NOT NULL,
  "updated_at" DATETIME,
  "closed_at" DATETIME,
  "grid_code" TEXT,
  "community_code" TEXT,
  "street_code" TEXT,
  "level" TEXT,
  "weight" REAL,
  "address" TEXT,
  "reporter" TEXT,
  "synthetic" BOOLEAN,
  "source" TEXT,
  "version" INTEGER,
  "assigned_to" TEXT,
  "department" TEXT,
  "deadline_at" DATETIME,
  "urgent" BOOLEAN,
  "verification_failures" INTEGER,
  "penalty" BOOLEAN,
  "supervised" BOOLEAN,
  "card" TEXT,
  "overdue_count" INTEGER,
  "satisfaction" INTEGER,
  "media_url" TEXT,
  "status_notes" TEXT,
  "token" TEXT,
  "duplicate_of" TEXT,
  "geometry" POINT
);
INSERT INTO "incidents_0004" ("fid", "incident_id", "category", "description", "status", "reported_at", "updated_at", "closed_at", "grid_code", "community_code", "street_code", "level", "weight", "address", "reporter", "synthetic", "source", "geometry")
  SELECT "fid", "incident_id", "category", "description", "status", "reported_at", "updated_at", "closed_at", "grid_code", "community_code", "street_code", "level", "weight", "address", "reporter", "synthetic", "source", "geometry" FROM "incidents";
DROP TABLE "incidents";
DROP TABLE IF EXISTS "rtree_incidents_geometry";
DELETE FROM gpkg_extensions WHERE table_name = 'incidents' AND extension_name = 'gpkg_rtree_index';
ALTER TABLE "incidents_0004" RENAME TO "incidents";
CREATE UNIQUE INDEX "incidents_incident_id_key" ON "incidents" ("incident_id");
CREATE UNIQUE INDEX "incidents_token_key" ON "incidents" ("token");
CREATE INDEX "incidents_grid_code_idx" ON "incidents" ("grid_code");
CREATE INDEX "incidents_community_code_idx" ON "incidents" ("community_code");
CREATE INDEX "incidents_street_code_idx" ON "incidents" ("street_code");
CREATE INDEX "incidents_reported_at_idx" ON "incidents" ("reported_at");
CREATE INDEX "incidents_status_idx" ON "incidents" ("status");
CREATE INDEX "incidents_category_idx" ON "incidents" ("category");

CREATE TABLE "incident_events" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "incident_id" TEXT NOT NULL,
  "seq" INTEGER NOT NULL,
  "at" DATETIME NOT NULL,
  "actor" TEXT,
  "from_status" TEXT,
  "to_status" TEXT NOT NULL,
  "action" TEXT NOT NULL,
  "note" TEXT,
  "detail" TEXT
);
CREATE UNIQUE INDEX "incident_events_incident_id_seq_key" ON "incident_events" ("incident_id", "seq");
CREATE INDEX "incident_events_at_idx" ON "incident_events" ("at");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('incident_events', 'attributes', 'incident_events', 'Append-only log of every incident transition (who, when, from, to, note).');
