"""Run the docstring examples of the plate modules, so they cannot rot."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "detectors.plates.normalise",
    "detectors.plates.config",
    "detectors.plates.watchlist",
    "detectors.plates.sighting",
    "detectors.plates.recent",
    "detectors.plates._episodes",
    "detectors.plates.cloned",
    "detectors.plates.circling",
    "detectors.plates.convoy",
    "detectors.plates.privacy",
    "detectors.plates.analytics",
    "schemas.adapters.openalpr",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
