"""gridmap.incidents."""
