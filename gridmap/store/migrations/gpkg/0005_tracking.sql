-- Worker tracking (gridmap.tracking): every GPS fix, the newest fix per device with its geofence
-- state, and the geofence events (gridmap.schema POSITIONS_SPEC, LATEST_POSITIONS_SPEC,
-- GEOFENCE_EVENTS_SPEC). A fix is stored once per (device_id, fix_time): that unique index is
-- what makes a re-sent fix idempotent. The R-tree indexes are created by the runner.

CREATE TABLE "positions" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "device_id" TEXT NOT NULL,
  "worker_id" TEXT,
  "fix_time" DATETIME NOT NULL,
  "received_at" DATETIME NOT NULL,
  "day" TEXT NOT NULL,
  "grid_code" TEXT,
  "speed_mps" REAL,
  "bearing_deg" REAL,
  "altitude_m" REAL,
  "accuracy_m" REAL,
  "battery_pct" REAL,
  "protocol" TEXT,
  "geometry" POINT
);
CREATE UNIQUE INDEX "positions_device_id_fix_time_key" ON "positions" ("device_id", "fix_time");
CREATE INDEX "positions_day_worker_idx" ON "positions" ("day", "worker_id");
CREATE INDEX "positions_worker_id_idx" ON "positions" ("worker_id");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('positions', 'features', 'positions', 'Worker positions (GPS fixes) from Traccar/OsmAnd clients; one row per device and fix time.', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('positions', 'geometry', 'POINT', :srs_id, 0, 0);

CREATE TABLE "latest_positions" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "device_id" TEXT NOT NULL,
  "worker_id" TEXT,
  "fix_time" DATETIME NOT NULL,
  "received_at" DATETIME NOT NULL,
  "grid_code" TEXT,
  "speed_mps" REAL,
  "bearing_deg" REAL,
  "accuracy_m" REAL,
  "battery_pct" REAL,
  "outside_since" DATETIME,
  "alerted_at" DATETIME,
  "geometry" POINT
);
CREATE UNIQUE INDEX "latest_positions_device_id_key" ON "latest_positions" ("device_id");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('latest_positions', 'features', 'latest_positions', 'The newest fix of every device and its geofence state (live map, alerts).', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('latest_positions', 'geometry', 'POINT', :srs_id, 0, 0);

CREATE TABLE "geofence_events" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "worker_id" TEXT NOT NULL,
  "device_id" TEXT,
  "grid_code" TEXT NOT NULL,
  "event" TEXT NOT NULL,
  "at" DATETIME NOT NULL,
  "day" TEXT NOT NULL,
  "own_grid" BOOLEAN,
  "minutes_outside" REAL,
  "geometry" POINT
);
CREATE UNIQUE INDEX "geofence_events_worker_id_grid_code_event_at_key" ON "geofence_events" ("worker_id", "grid_code", "event", "at");
CREATE INDEX "geofence_events_day_idx" ON "geofence_events" ("day");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('geofence_events', 'features', 'geofence_events', 'Geofence events: a worker entered or left a grid, or stayed outside their own grid too long.', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('geofence_events', 'geometry', 'POINT', :srs_id, 0, 0);
