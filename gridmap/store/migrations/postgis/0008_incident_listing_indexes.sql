-- Listing indexes for incidents (gridmap.incidents.query): an equality on status or category followed
-- by the time order, so "the newest n of one status/category" is an ordered index scan that stops
-- after n rows. They replace the single-column indexes of migration 0004 (same leading column).
CREATE INDEX incidents_status_reported_at_idx ON incidents (status, reported_at);
CREATE INDEX incidents_category_reported_at_idx ON incidents (category, reported_at);
DROP INDEX incidents_status_idx;
DROP INDEX incidents_category_idx;
