-- Accounts and API tokens (gridmap.schema ACCOUNTS_SPEC, API_TOKENS_SPEC).

CREATE TABLE "accounts" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "username" TEXT NOT NULL,
  "display_name" TEXT,
  "role" TEXT NOT NULL,
  "area_code" TEXT NOT NULL,
  "password_hash" TEXT NOT NULL,
  "active" BOOLEAN NOT NULL,
  "lang" TEXT,
  "created_at" DATETIME NOT NULL
);
CREATE UNIQUE INDEX "accounts_username_key" ON "accounts" ("username");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('accounts', 'attributes', 'accounts', 'Portal accounts, each bound to a role and an area.');

CREATE TABLE "api_tokens" (
  "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  "token_id" TEXT NOT NULL,
  "token_hash" TEXT NOT NULL,
  "role" TEXT NOT NULL,
  "area_code" TEXT NOT NULL,
  "label" TEXT,
  "created_at" DATETIME NOT NULL,
  "created_by" TEXT,
  "revoked_at" DATETIME
);
CREATE UNIQUE INDEX "api_tokens_token_id_key" ON "api_tokens" ("token_id");
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens" ("token_hash");
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('api_tokens', 'attributes', 'api_tokens', 'API keys for machine clients (Open311 api_key, trackers, integrations).');
