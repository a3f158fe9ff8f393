-- gridmap layers (frozen copy of gridmap.schema at schema version 2).
-- Change the schema with a new numbered migration, never by editing this file; the store
-- contract test compares the database with gridmap.schema.LAYERS. :srs_id is bound by the runner.

CREATE TABLE "areas" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "code" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "level" TEXT NOT NULL,
  "parent_code" TEXT,
  "households" INTEGER,
  "population" INTEGER,
  "valid_from" DATETIME,
  "valid_to" DATETIME,
  "synthetic" BOOLEAN,
  "source" TEXT,
  "geometry" MULTIPOLYGON
);
CREATE UNIQUE INDEX "areas_code_key" ON "areas" ("code");
CREATE INDEX "areas_parent_code_idx" ON "areas" ("parent_code");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('areas', 'features', 'areas', 'Administrative hierarchy: districts, streets (街道/乡镇) and communities (社区/村).', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('areas', 'geometry', 'MULTIPOLYGON', :srs_id, 0, 0);

CREATE TABLE "grids" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "code" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "kind" TEXT NOT NULL,
  "subtype" TEXT,
  "community_code" TEXT NOT NULL,
  "generation_id" INTEGER NOT NULL,
  "households" INTEGER,
  "population" INTEGER,
  "area_m2" REAL,
  "flags" TEXT,
  "valid_from" DATETIME,
  "valid_to" DATETIME,
  "synthetic" BOOLEAN,
  "geometry" MULTIPOLYGON
);
CREATE UNIQUE INDEX "grids_generation_id_code_key" ON "grids" ("generation_id", "code");
CREATE INDEX "grids_code_idx" ON "grids" ("code");
CREATE INDEX "grids_community_code_idx" ON "grids" ("community_code");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('grids', 'features', 'grids', 'Grids (网格), one set per generation; exactly one generation per community is active.', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('grids', 'geometry', 'MULTIPOLYGON', :srs_id, 0, 0);

CREATE TABLE "generations" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "generation_id" INTEGER NOT NULL,
  "community_code" TEXT NOT NULL,
  "status" TEXT NOT NULL,
  "version" INTEGER NOT NULL,
  "created_at" DATETIME NOT NULL,
  "created_by" TEXT,
  "approved_at" DATETIME,
  "approved_by" TEXT,
  "activated_at" DATETIME,
  "retired_at" DATETIME,
  "note" TEXT,
  "certificate" TEXT
);
CREATE UNIQUE INDEX "generations_generation_id_key" ON "generations" ("generation_id");
CREATE INDEX "generations_community_code_idx" ON "generations" ("community_code");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('generations', 'attributes', 'generations', 'Boundary generations (版本): staged, validated, approved, activated, retired.');

CREATE TABLE "roads" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "road_id" TEXT,
  "name" TEXT,
  "road_class" TEXT NOT NULL,
  "synthetic" BOOLEAN,
  "source" TEXT,
  "geometry" LINESTRING
);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('roads', 'features', 'roads', 'Road centre lines with class; grid edges follow them.', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('roads', 'geometry', 'LINESTRING', :srs_id, 0, 0);

CREATE TABLE "buildings" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "building_id" TEXT,
  "name" TEXT,
  "road_name" TEXT,
  "house_number" TEXT,
  "estate_id" TEXT,
  "estate_name" TEXT,
  "building_no" TEXT,
  "floors" INTEGER,
  "footprint_m2" REAL,
  "households" INTEGER,
  "households_estimated" BOOLEAN,
  "population" INTEGER,
  "community_code" TEXT,
  "synthetic" BOOLEAN,
  "source" TEXT,
  "geometry" GEOMETRY
);
CREATE INDEX "buildings_estate_id_idx" ON "buildings" ("estate_id");
CREATE INDEX "buildings_community_code_idx" ON "buildings" ("community_code");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('buildings', 'features', 'buildings', 'Buildings (楼栋) with floors and households; polygons or points.', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('buildings', 'geometry', 'GEOMETRY', :srs_id, 0, 0);

CREATE TABLE "estates" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "estate_id" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "kind" TEXT,
  "community_code" TEXT,
  "synthetic" BOOLEAN,
  "source" TEXT,
  "geometry" MULTIPOLYGON
);
CREATE UNIQUE INDEX "estates_estate_id_key" ON "estates" ("estate_id");
CREATE INDEX "estates_community_code_idx" ON "estates" ("community_code");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('estates', 'features', 'estates', 'Residential estates (小区), kept whole by the partition where the band allows.', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('estates', 'geometry', 'MULTIPOLYGON', :srs_id, 0, 0);

CREATE TABLE "units" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "unit_id" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "unit_type" TEXT NOT NULL,
  "persons" INTEGER,
  "households" INTEGER,
  "community_code" TEXT,
  "responsible_person" TEXT,
  "key_unit" BOOLEAN,
  "synthetic" BOOLEAN,
  "source" TEXT,
  "geometry" GEOMETRY
);
CREATE UNIQUE INDEX "units_unit_id_key" ON "units" ("unit_id");
CREATE INDEX "units_community_code_idx" ON "units" ("community_code");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('units', 'features', 'units', 'Units: schools, hospitals, markets, enterprises, parks, office towers (专属网格 candidates).', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('units', 'geometry', 'GEOMETRY', :srs_id, 0, 0);

CREATE TABLE "service_centres" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "centre_id" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "area_code" TEXT NOT NULL,
  "address" TEXT,
  "phone" TEXT,
  "opening_hours" TEXT,
  "synthetic" BOOLEAN,
  "geometry" POINT
);
CREATE UNIQUE INDEX "service_centres_centre_id_key" ON "service_centres" ("centre_id");
CREATE INDEX "service_centres_area_code_idx" ON "service_centres" ("area_code");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('service_centres', 'features', 'service_centres', 'Service centres (网格化服务管理中心 / 党群服务中心) per area.', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('service_centres', 'geometry', 'POINT', :srs_id, 0, 0);

CREATE TABLE "workers" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "worker_id" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "phone" TEXT,
  "photo" TEXT,
  "role" TEXT NOT NULL,
  "grid_code" TEXT,
  "extra_grid_codes" TEXT,
  "partner_worker_id" TEXT,
  "device_id" TEXT,
  "duties" TEXT,
  "active" BOOLEAN,
  "synthetic" BOOLEAN
);
CREATE UNIQUE INDEX "workers_worker_id_key" ON "workers" ("worker_id");
CREATE INDEX "workers_grid_code_idx" ON "workers" ("grid_code");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('workers', 'attributes', 'workers', 'Grid workers (网格员) and leaders (网格长).');

CREATE TABLE "incidents" (
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
  "geometry" POINT
);
CREATE UNIQUE INDEX "incidents_incident_id_key" ON "incidents" ("incident_id");
CREATE INDEX "incidents_grid_code_idx" ON "incidents" ("grid_code");
CREATE INDEX "incidents_community_code_idx" ON "incidents" ("community_code");
CREATE INDEX "incidents_street_code_idx" ON "incidents" ("street_code");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('incidents', 'features', 'incidents', 'Incidents (事件) with their place in the hierarchy.', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('incidents', 'geometry', 'POINT', :srs_id, 0, 0);

CREATE TABLE "audit_log" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "at" DATETIME NOT NULL,
  "actor" TEXT,
  "action" TEXT NOT NULL,
  "target" TEXT,
  "detail" TEXT
);
CREATE INDEX "audit_log_at_idx" ON "audit_log" ("at");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('audit_log', 'attributes', 'audit_log', 'Append-only log of logins and data changes.');
