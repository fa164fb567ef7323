"""The worker's log level is the one asked for: no hidden DEBUG on the root logger."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import faust
import pytest

from streams.worker import faust_worker


@pytest.fixture
def saved_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


@pytest.mark.parametrize("loglevel", ["warning", "error", "info"])
def test_debug_records_are_not_built_at_quieter_levels(loglevel: str, saved_root_logger: None) -> None:
    # Faust's debug lines quote message keys and values (plates), and building them costs time.
    worker = faust_worker(faust.App("logging-test", autodiscover=False), loglevel)
    worker._setup_logging()
    assert not logging.getLogger("faust.topics").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("aiokafka").isEnabledFor(logging.DEBUG)
