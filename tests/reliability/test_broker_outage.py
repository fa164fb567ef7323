"""Broker absent at start, or restarted mid-run: workers and console wait, say so, and resume."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from streams.broker import EmbeddedBroker, find_free_port
from streams.config import load_config
from streams.topics import ensure_topics
from tests.conftest import TEST_CONFIG, WorkerProcess
from tests.integration.kafka_helpers import produce_json, read
from tests.reliability.conftest import ConsoleProcess, add_to_watchlist, listed_plates, wait_for

pytestmark = pytest.mark.integration


def create_topics(bootstrap: str) -> None:
    asyncio.run(ensure_topics(load_config(TEST_CONFIG, env={"WATCHFLOOR_BOOTSTRAP": bootstrap})))


def test_worker_and_console_wait_for_an_absent_broker_then_work(tmp_path: Path) -> None:
    port = find_free_port()
    bootstrap = f"127.0.0.1:{port}"
    worker = WorkerProcess(bootstrap, tmp_path / "worker.log").start()
    console = ConsoleProcess(bootstrap, tmp_path)
    try:
        time.sleep(8)  # no broker yet
        assert worker.process is not None and worker.process.poll() is None, worker.log_tail()
        assert console.process.poll() is None, "the console gave up without a broker"
        assert "not reachable" in worker.log_path.read_text(), "no clear log line about the missing broker"
        with EmbeddedBroker(port=port):
            worker.wait_ready(timeout=90)
            plates = listed_plates(1)
            add_to_watchlist(bootstrap, plates)
            wait_for(lambda: worker.metric_value("watchfloor_watchlist_entries") >= 1, 30, "watchlist not loaded")
            produce_json(bootstrap, "anpr.reads", [read(plates[0])])
            wait_for(lambda: len(console.alerts("watchlist_hit")) == 1, 60, "no alert once the broker came up")
    finally:
        worker.stop()
        console.stop()


def test_broker_restart_mid_run_is_survived(tmp_path: Path) -> None:
    port = find_free_port()
    bootstrap = f"127.0.0.1:{port}"
    broker = EmbeddedBroker(port=port).start()
    worker = WorkerProcess(bootstrap, tmp_path / "worker.log").start()
    console = ConsoleProcess(bootstrap, tmp_path)
    try:
        worker.wait_ready(timeout=60)
        broker.stop()  # the embedded broker keeps nothing: this is a restart with an empty log
        time.sleep(5)
        assert worker.process is not None and worker.process.poll() is None, worker.log_tail()
        broker = EmbeddedBroker(port=port).start()
        create_topics(bootstrap)  # what `watchfloor topics create` does after a cluster rebuild
        plates = listed_plates(1)
        add_to_watchlist(bootstrap, plates)
        wait_for(lambda: worker.metric_value("watchfloor_watchlist_entries") >= 1, 90,
                 "the worker's watchlist did not resume after the broker restart")
        produce_json(bootstrap, "anpr.reads", [read(plates[0])])
        wait_for(lambda: len(console.alerts("watchlist_hit")) == 1, 120,
                 f"no alert after the broker restart:\n{worker.log_tail(30)}")
        assert worker.process.poll() is None
        assert console.process.poll() is None
    finally:
        worker.stop()
        console.stop()
        broker.stop()
