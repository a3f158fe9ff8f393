"""Who is acting, and what they may touch.

Scoping rides on the hierarchical codes (gridmap.codes): a grid code starts with its community's
code, which starts with its street's, which starts with its district's. So an account bound to
area ``A`` may read and change exactly the things whose area code starts with ``A``. One string
prefix test, the same in pages, API and CLI, with no hierarchy lookup to get wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gridmap.errors import AuthenticationError, PermissionDeniedError
from gridmap.model import Role


@dataclass(frozen=True)
class Principal:
    """An authenticated actor (an account, an API token) or the anonymous public."""

    name: str
    role: Role
    #: The area the actor is bound to; "" means everywhere (admins of the whole installation).
    area_code: str
    via: str = "session"  # session | token | anonymous | cli

    @property
    def is_public(self) -> bool:
        return self.role is Role.PUBLIC

    def covers(self, code: str | None) -> bool:
        """True when ``code`` (any level) lies inside the actor's area.

        Codes above the actor's area (a street account asking about its district) are *not*
        covered: reading a parent would leak what lies in sibling areas.
        """
        if code is None or self.is_public:
            return False  # the public is bound to no area: public data is served without an area check
        return str(code).startswith(self.area_code)

    def overlaps(self, code: str | None) -> bool:
        """True when ``code`` is inside the area or is one of its ancestors (for navigation only)."""
        if code is None:
            return False
        code = str(code)
        return code.startswith(self.area_code) or self.area_code.startswith(code)

    def filter_codes(self, codes: Iterable[str | None]) -> list[bool]:
        return [self.covers(c) for c in codes]


PUBLIC = Principal(name="public", role=Role.PUBLIC, area_code="", via="anonymous")


def require_role(principal: Principal, *roles: Role) -> None:
    """Raise 401 for the public and 403 for a signed-in actor without one of ``roles`` (admin always passes)."""
    if principal.role is Role.ADMIN or principal.role in roles:
        return
    if principal.is_public:
        raise AuthenticationError("sign in or send an API key to do this")
    wanted = ", ".join(r.value for r in roles)
    raise PermissionDeniedError(f"role {principal.role.value} may not do this (needs {wanted})")


def require_area(principal: Principal, code: str | None, *, what: str = "this area") -> None:
    """Raise 403 unless ``code`` lies inside the actor's area. The message names no foreign data."""
    if principal.role is Role.ADMIN and principal.area_code == "":
        return
    if not principal.covers(code):
        if principal.is_public:
            raise AuthenticationError(f"sign in to see {what}")
        raise PermissionDeniedError(f"{what} is outside your area ({principal.area_code or 'none'})")
