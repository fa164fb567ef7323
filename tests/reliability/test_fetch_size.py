"""Messages bigger than a whole fetch still get through the hot path, in order, nothing lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streams.broker import EmbeddedBroker
from tests.conftest import WorkerProcess
from tests.integration.kafka_helpers import alerts_for, produce_json, read
from tests.integration.test_anpr_flow import watchlist
from tests.reliability.conftest import config_with, listed_plates, wait_for

pytestmark = pytest.mark.integration


def test_batches_larger_than_the_fetch_size_are_all_read(private_broker: EmbeddedBroker, tmp_path: Path) -> None:
    bootstrap = private_broker.bootstrap
    # fetch_max_bytes at the least allowed: 16 KB a partition.
    config_path = config_with(tmp_path / "config.yaml", kafka={"max_message_bytes": 1_048_576,
                                                                    "fetch_max_bytes": 65_536})
    plate = listed_plates(1)[0]
    watchlist(bootstrap, plate)
    worker = WorkerProcess(bootstrap, tmp_path / "worker.log", config=config_path).start()
    try:
        worker.wait_ready()
        wait_for(lambda: worker.metric_value("watchfloor_watchlist_entries") >= 1, 30, "watchlist not loaded")
        now = time.time()
        # Two batches of ~250 KB each on one partition (one key), the listed plate last in the second.
        batches = [{"reads": [read(f"ZZ{b}{i:05d}", event_time=now) for i in range(1500)]} for b in range(2)]
        batches[1]["reads"][-1] = read(plate, event_time=now)
        produce_json(bootstrap, "anpr.reads", batches)
        alerts = alerts_for(bootstrap, plate, timeout=60)
        assert alerts and alerts[0].rule == "watchlist_hit", worker.log_tail()
        wait_for(lambda: worker.metric_value("watchfloor_events_processed_total", kind="plate_read") >= 3000, 30,
                 "not every read of the big batches was processed")
        assert worker.metric_value("watchfloor_deadletters_total") == 0
    finally:
        worker.stop()
