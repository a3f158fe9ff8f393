"""Partition communities into road-aligned grids of a household band, with a coverage certificate.

Entry points at this level: ``engine`` (one community in, grids and a certificate out),
``problem`` (the atom graph and the strategy seam every strategy implements) and ``edits``
(a planner's hand edits, replayed on a known generation). The work is split by job:

- ``blocks/``: roads to faces to road blocks, households per building, estates, atoms, oversize
  block splits (balanced clusters).
- ``regions/``: the default band-constrained region strategy (search, bisection, island and exact
  solvers, repair, verdicts of infeasibility).
- ``grids/``: from region labels to numbered grids: dedicated grids, assembly, flags, exact outer
  edges, whole buildings, quality measures.
- ``certificate/``: the coverage certificate (gaps, overlaps, containment, contiguity, band,
  buildings kept whole) and its report.
- ``rebalance/``: bring existing grids back into the band while moving little.
- ``maps/``: Folium previews of a result or a rebalance plan (pure: data in, ``folium.Map`` out).

May import: the core (``gridmap.model``, ``config``, ``errors``, ``codes``, ``schema``, ``crs``) and
the scientific stack. Never the store, services, the CLI or the portal; ``maps/`` may import
folium but never Flask.
"""
