"""Rebalancing (动态调整): bring a community's active grids back into the band, changing little.

May import ``blocks``, ``regions``, ``grids`` and ``certificate``.
"""
