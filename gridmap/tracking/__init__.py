"""gridmap.tracking."""
