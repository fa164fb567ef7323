"""Run the docstring examples of the scene modules, so they cannot rot."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "detectors.scene",
    "detectors.scene.types",
    "detectors.scene.config",
    "detectors.scene.zones",
    "detectors.scene.rules",
    "schemas.detections",
    "schemas.adapters.deepstream",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
