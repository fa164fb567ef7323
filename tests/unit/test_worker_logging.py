"""The worker process: its log level is the one asked for (no hidden DEBUG), its allocator is set up."""

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


def test_the_worker_can_pin_glibcs_mmap_threshold() -> None:
    # What keeps fetch buffers out of the heap (streams.worker.pin_mmap_threshold); glibc says
    # whether it took the setting. Run in a child so this test process keeps its allocator as is.
    import subprocess
    import sys

    from tests.conftest import REPO

    result = subprocess.run([sys.executable, "-c", "from streams.worker import pin_mmap_threshold as p; print(p())"],
                            cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "True"
