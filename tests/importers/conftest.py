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
    """shared/samples beside the repository; absent on a fresh clone, so those tests skip."""
    if not SAMPLES.is_dir():
        pytest.skip("shared/samples is not present beside the repository")
    return SAMPLES
