"""The use cases, shared by the CLI and the portal: the only way in for both faces.

Each module holds one concern (importing, partitioning, generations, lookup, incidents, tracking,
accounts, tiles, OGC features...) and takes a ``Store`` and ``Settings``. May import the domain
packages, the store and the core; never Flask, click, the CLI or the portal.
"""
