-- The grid worker's day (gridmap.field, issue 15): inspection points (巡查点) and their check-ins,
-- home visits (入户走访), worker logs (民情日志) and leaders' comments (gridmap.schema
-- INSPECTION_POINTS_SPEC ... DIARY_COMMENTS_SPEC). Check-ins and visits are keyed by the id the phone
-- made: that unique key is what stores a replayed offline upload once. One log per worker and day.

CREATE TABLE "inspection_points" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "point_id" TEXT NOT NULL,
  "name" TEXT NOT NULL,
  "kind" TEXT,
  "grid_code" TEXT NOT NULL,
  "worker_id" TEXT NOT NULL,
  "interval_days" INTEGER NOT NULL,
  "address" TEXT,
  "note" TEXT,
  "active" BOOLEAN,
  "created_at" DATETIME,
  "synthetic" BOOLEAN,
  "source" TEXT,
  "geometry" POINT
);
CREATE UNIQUE INDEX "inspection_points_point_id_key" ON "inspection_points" ("point_id");
CREATE INDEX "inspection_points_grid_code_idx" ON "inspection_points" ("grid_code");
CREATE INDEX "inspection_points_worker_id_idx" ON "inspection_points" ("worker_id");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('inspection_points', 'features', 'inspection_points', 'Inspection points (巡查点) bound to a grid and a responsible worker, with a check interval.', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('inspection_points', 'geometry', 'POINT', :srs_id, 0, 0);

CREATE TABLE "checkins" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "checkin_id" TEXT NOT NULL,
  "point_id" TEXT NOT NULL,
  "worker_id" TEXT NOT NULL,
  "grid_code" TEXT NOT NULL,
  "at" DATETIME NOT NULL,
  "day" TEXT NOT NULL,
  "received_at" DATETIME NOT NULL,
  "accuracy_m" REAL,
  "distance_m" REAL NOT NULL,
  "note" TEXT,
  "photos" TEXT NOT NULL,
  "actor" TEXT,
  "geometry" POINT
);
CREATE UNIQUE INDEX "checkins_checkin_id_key" ON "checkins" ("checkin_id");
CREATE INDEX "checkins_point_id_day_idx" ON "checkins" ("point_id", "day");
CREATE INDEX "checkins_worker_id_day_idx" ON "checkins" ("worker_id", "day");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('checkins', 'features', 'checkins', 'Inspection check-ins (巡查打卡): time, position, accuracy, distance to the point, note, photos.', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('checkins', 'geometry', 'POINT', :srs_id, 0, 0);

CREATE TABLE "home_visits" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "visit_id" TEXT NOT NULL,
  "worker_id" TEXT NOT NULL,
  "grid_code" TEXT NOT NULL,
  "building_id" TEXT NOT NULL,
  "household" TEXT,
  "at" DATETIME NOT NULL,
  "day" TEXT NOT NULL,
  "received_at" DATETIME NOT NULL,
  "purpose" TEXT NOT NULL,
  "outcome" TEXT NOT NULL,
  "follow_up" TEXT,
  "follow_up_on" TEXT,
  "incident_id" TEXT,
  "photos" TEXT,
  "actor" TEXT,
  "geometry" POINT
);
CREATE UNIQUE INDEX "home_visits_visit_id_key" ON "home_visits" ("visit_id");
CREATE INDEX "home_visits_grid_code_day_idx" ON "home_visits" ("grid_code", "day");
CREATE INDEX "home_visits_worker_id_day_idx" ON "home_visits" ("worker_id", "day");
CREATE INDEX "home_visits_building_id_idx" ON "home_visits" ("building_id");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('home_visits', 'features', 'home_visits', 'Home visits (入户走访): building/household, purpose, outcome, follow-up, incident.', :srs_id);
INSERT INTO gpkg_geometry_columns VALUES ('home_visits', 'geometry', 'POINT', :srs_id, 0, 0);

CREATE TABLE "diaries" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "diary_id" TEXT NOT NULL,
  "worker_id" TEXT NOT NULL,
  "day" TEXT NOT NULL,
  "grid_code" TEXT,
  "text" TEXT NOT NULL,
  "tags" TEXT,
  "visit_ids" TEXT,
  "incident_ids" TEXT,
  "created_at" DATETIME NOT NULL,
  "updated_at" DATETIME NOT NULL,
  "version" INTEGER NOT NULL,
  "reviewed_by" TEXT,
  "reviewed_at" DATETIME
);
CREATE UNIQUE INDEX "diaries_diary_id_key" ON "diaries" ("diary_id");
CREATE UNIQUE INDEX "diaries_worker_id_day_key" ON "diaries" ("worker_id", "day");
CREATE INDEX "diaries_day_idx" ON "diaries" ("day");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('diaries', 'attributes', 'diaries', 'Worker logs (民情日志): one entry per worker per day, reviewed by leaders.');

CREATE TABLE "diary_comments" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "comment_id" TEXT NOT NULL,
  "diary_id" TEXT NOT NULL,
  "author" TEXT NOT NULL,
  "at" DATETIME NOT NULL,
  "text" TEXT NOT NULL
);
CREATE UNIQUE INDEX "diary_comments_comment_id_key" ON "diary_comments" ("comment_id");
CREATE INDEX "diary_comments_diary_id_idx" ON "diary_comments" ("diary_id");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('diary_comments', 'attributes', 'diary_comments', 'Leaders'' comments (点评) on worker logs.');
