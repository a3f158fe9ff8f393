"""Accounts, API tokens and area scoping. Core code: no Flask here (the portal adapts it)."""

from gridmap.auth.principal import PUBLIC, Principal, require_area, require_role

__all__ = ["PUBLIC", "Principal", "require_area", "require_role"]
