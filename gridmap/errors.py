"""The one error hierarchy of gridmap.

Every error a user can cause is a :class:`GridmapError`. It carries the HTTP status the portal
answers with, a stable machine-readable ``code`` and a message written for the person who caused
it (name the file, the feature and the rule). The portal maps these to JSON/HTML in one place
(``gridmap.portal.errors``); the CLI prints ``message`` and exits non-zero. Core modules raise
these and never import Flask or click.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class GridmapError(Exception):
    """Base of all domain errors. ``details`` is JSON-serialisable context (offending features...)."""

    http_status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | Sequence[Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body ``{"code", "message", "details"?}`` used by API and CLI --json."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class ValidationError(GridmapError):
    """Bad input: a file, a parameter or a feature breaks a rule (400)."""

    http_status = 400
    code = "validation_error"


class AuthenticationError(GridmapError):
    """No valid credentials (401)."""

    http_status = 401
    code = "unauthenticated"


class PermissionDeniedError(GridmapError):
    """Valid credentials, but the account's role or area does not cover the target (403)."""

    http_status = 403
    code = "forbidden"


class NotFoundError(GridmapError):
    """The named thing does not exist (404)."""

    http_status = 404
    code = "not_found"


class ConflictError(GridmapError):
    """The change conflicts with the current state: duplicate code, stale version, illegal transition (409)."""

    http_status = 409
    code = "conflict"


class PartitionError(GridmapError):
    """The partition input cannot be processed as given (422)."""

    http_status = 422
    code = "partition_error"


class InfeasiblePartitionError(PartitionError):
    """No partition satisfies the constraints; ``details`` says why (422)."""

    code = "infeasible_partition"


class RateLimitedError(GridmapError):
    """Too many requests from one client (429)."""

    http_status = 429
    code = "rate_limited"


class StoreUnavailableError(GridmapError):
    """The store (database) cannot be reached; the client should retry (503)."""

    http_status = 503
    code = "store_unavailable"
