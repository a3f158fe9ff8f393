"""Command line: a thin click layer over ``gridmap.services``."""
