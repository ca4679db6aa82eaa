"""Fixtures for the import pipeline's tests: no database, no app."""
from __future__ import annotations

import pytest

from importers.kinds import KindResolver
from tests.importers.builders import SAMPLES, catalogue_kinds


@pytest.fixture(scope="session")
def kinds() -> list[tuple[str, str]]:
    return catalogue_kinds()


@pytest.fixture(scope="session")
def resolver(kinds) -> KindResolver:
    return KindResolver(kinds)


@pytest.fixture()
def samples():
    """The sample ledgers kept in tests/importers/samples."""
    return SAMPLES
