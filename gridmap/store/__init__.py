"""Stores: one protocol (``base.Store``), a GeoPackage default and PostGIS for production.

``open_store`` (gridmap.store.factory) picks the backend from the URL scheme and imports only that one.
"""

from gridmap.store.base import Store, StoreTransaction
from gridmap.store.factory import open_store

__all__ = ["Store", "StoreTransaction", "open_store"]
