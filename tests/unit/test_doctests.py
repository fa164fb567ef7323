"""Run the docstring examples of every module, so they cannot rot."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import detectors
import schemas
import streams


def all_modules() -> list[str]:
    names = []
    for package in (detectors, schemas, streams):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not info.name.endswith("__main__"):
                names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", all_modules())
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_public_detector_and_schema_modules_carry_examples() -> None:
    finder = doctest.DocTestFinder()

    def has_examples(name: str) -> bool:
        return any(test.examples for test in finder.find(importlib.import_module(name)))

    without = [name for name in all_modules() if name.startswith(("detectors.plates.", "detectors.scene."))
               and not name.rsplit(".", 1)[-1].startswith("_") and not has_examples(name)]
    assert without == []
