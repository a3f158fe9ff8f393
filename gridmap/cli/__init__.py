"""Command line: a thin click layer over ``gridmap.services`` (one module per command group).

May import services, the core, and ``gridmap.store``'s face (``Store``, ``open_store``) to open
the store; never a domain module or a store backend (``tests/test_layering.py``).
"""
