"""Geometry before any strategy: road blocks, faces, households per building, estates, atoms, splits.

May import the core and ``gridmap.partition.problem``; never ``regions``, ``grids`` or ``certificate``.
"""
