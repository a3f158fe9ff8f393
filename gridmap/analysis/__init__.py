"""gridmap.analysis."""
