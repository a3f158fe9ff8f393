"""Fixtures of the incident tests: a populated store (both backends), principals, a service."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gridmap.auth.principal import Principal
from gridmap.config import Settings
from gridmap.model import Role
from gridmap.services.incidents import IncidentService
from gridmap.store.base import Store
from tests.incidents import sample


@pytest.fixture
def incident_store(store: Store) -> Iterator[Store]:
    sample.populate(store)
    yield store


@pytest.fixture
def service(incident_store: Store, settings: Settings) -> IncidentService:
    return IncidentService(incident_store, settings.replace(allow_anonymous_reports=True))


@pytest.fixture
def worker_a1() -> Principal:
    return Principal(name="worker-a1", role=Role.WORKER, area_code=sample.GRID_A1, via="token")


@pytest.fixture
def command() -> Principal:
    return Principal(name="command", role=Role.COMMAND, area_code=sample.DISTRICT, via="token")
