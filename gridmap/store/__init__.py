"""Stores: one protocol (``base.Store``), a GeoPackage default and PostGIS for production."""

from gridmap.store.base import Store, StoreTransaction, open_store, register_store

__all__ = ["Store", "StoreTransaction", "open_store", "register_store"]
