"""Accounts, API tokens and area scoping. Core code: no Flask here (the portal adapts it).

May import the core and the ``Store`` protocol type; the faces reach it through
``gridmap.services.accounts`` (``principal`` is a core type every layer may pass around).
"""

from gridmap.auth.principal import PUBLIC, Principal, require_area, require_role

__all__ = ["PUBLIC", "Principal", "require_area", "require_role"]
