"""The piece of the OpenAPI description that one API area contributes (see ``openapi.py``).

Why a module of its own: each API blueprint describes its own paths next to its routes, and
``openapi`` gathers them; with the record here, no blueprint imports ``openapi`` (no cycle).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ApiPart:
    """Paths (OpenAPI path items) and component schemas contributed by one API area."""

    paths: Mapping[str, Any]
    schemas: Mapping[str, Any] = field(default_factory=dict)
