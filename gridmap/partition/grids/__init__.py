"""From region labels to grids: dedicated grids, assembly, numbering, flags, exact edges, quality.

May import ``blocks`` and ``problem``; the shared records live in ``pipeline`` so that assembly,
flags and quality never import one another.
"""
