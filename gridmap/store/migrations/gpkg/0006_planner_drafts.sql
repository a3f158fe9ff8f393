-- Planners' unsaved grid edits (gridmap.schema PLANNER_DRAFTS_SPEC): when a save meets a newer
-- version of the community (409), the edit operations are kept here so that nothing is lost.

CREATE TABLE "planner_drafts" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "draft_id" TEXT NOT NULL,
  "community_code" TEXT NOT NULL,
  "owner" TEXT NOT NULL,
  "base_generation_id" INTEGER NOT NULL,
  "token" TEXT,
  "edits" TEXT NOT NULL,
  "status" TEXT NOT NULL,
  "note" TEXT,
  "created_at" DATETIME NOT NULL,
  "generation_id" INTEGER
);
CREATE UNIQUE INDEX "planner_drafts_draft_id_key" ON "planner_drafts" ("draft_id");
CREATE INDEX "planner_drafts_community_owner_idx" ON "planner_drafts" ("community_code", "owner");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('planner_drafts', 'attributes', 'planner_drafts', 'Planners'' unsaved grid edits, kept when a save met a newer version (nothing is lost).');
