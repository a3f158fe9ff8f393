"""Partition communities into road-aligned grids of a household band, with a coverage certificate."""
