"""Crash and scale-out against the real embedded broker, real workers and a real console."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streams.broker import EmbeddedBroker
from tests.conftest import WorkerProcess
from tests.integration.kafka_helpers import alerts_for, produce, produce_json, read
from tests.integration.test_alert_lifecycle import send_action
from tests.reliability.conftest import (
    ConsoleProcess,
    add_to_watchlist,
    listed_plates,
    replay_messages,
    wait_for,
)

pytestmark = pytest.mark.integration

READS = 20_000
HITS = 100


def processed(worker: WorkerProcess) -> float:
    try:
        return worker.metric_value("watchfloor_events_processed_total", kind="plate_read")
    except OSError:
        return 0.0


def test_kill_9_mid_replay_loses_no_alert_and_duplicates_none(private_broker: EmbeddedBroker,
                                                                tmp_path: Path) -> None:
    hits = listed_plates(HITS)
    add_to_watchlist(private_broker.bootstrap, hits)
    console = ConsoleProcess(private_broker.bootstrap, tmp_path)
    worker = WorkerProcess(private_broker.bootstrap, tmp_path / "worker-1.log").start()
    try:
        worker.wait_ready()
        produce(private_broker.bootstrap, "anpr.reads", replay_messages(hits, READS, batch=20))
        wait_for(lambda: processed(worker) >= READS * 0.3, 120, "the worker never got going")
        worker.stop(kill=True)  # kill -9, mid-replay
        assert processed(worker) == 0.0  # it is really gone

        restarted = WorkerProcess(private_broker.bootstrap, tmp_path / "worker-2.log").start()
        killed_at = time.monotonic()
        try:
            restarted.wait_ready()
            recovery = wait_for(lambda: len(console.alerts("watchlist_hit")) >= HITS, 120,
                                "not every watchlist hit became an alert after the restart")
            print(f"\nrecovery: worker ready in {time.monotonic() - killed_at - recovery:.1f}s after restart, "
                  f"all {HITS} alerts in the console {time.monotonic() - killed_at:.1f}s after restart")
            time.sleep(2)  # let any (wrong) duplicate arrive
            alerts = console.alerts("watchlist_hit")
            ids = [a["alert_id"] for a in alerts]
            assert len(ids) == len(set(ids))
            assert sorted(a["subject"] for a in alerts) == sorted(hits)  # one alert per hit, none twice
        finally:
            restarted.stop()
    finally:
        worker.stop()
        console.stop()


def test_two_workers_split_partitions_and_one_takes_over_when_the_other_dies(
        private_broker: EmbeddedBroker, tmp_path: Path) -> None:
    hits = listed_plates(HITS)
    add_to_watchlist(private_broker.bootstrap, hits)
    console = ConsoleProcess(private_broker.bootstrap, tmp_path)
    first = WorkerProcess(private_broker.bootstrap, tmp_path / "a.log").start()
    second = WorkerProcess(private_broker.bootstrap, tmp_path / "b.log").start()
    try:
        first.wait_ready()
        second.wait_ready()

        def split() -> bool:
            mine = [w.metric_value("watchfloor_assigned_partitions") for w in (first, second)]
            return all(m > 0 for m in mine)

        wait_for(split, 60, "the two workers never shared the partitions")
        produce(private_broker.bootstrap, "anpr.reads", replay_messages(hits, READS, batch=20))
        wait_for(lambda: processed(first) + processed(second) >= READS * 0.2, 120, "no progress")
        second.stop(kill=True)
        wait_for(lambda: len(console.alerts("watchlist_hit")) >= HITS, 180,
                 "the surviving worker did not complete the replay")
        alerts = console.alerts("watchlist_hit")
        assert sorted(a["subject"] for a in alerts) == sorted(hits)
        assert first.process is not None and first.process.poll() is None
    finally:
        first.stop()
        second.stop()
        console.stop()


def test_alert_state_survives_a_crash_so_a_repeat_updates_the_acknowledged_alert(
        private_broker: EmbeddedBroker, tmp_path: Path) -> None:
    bootstrap = private_broker.bootstrap
    [plate] = listed_plates(1)
    add_to_watchlist(bootstrap, [plate])
    worker = WorkerProcess(bootstrap, tmp_path / "before.log").start()
    try:
        worker.wait_ready()
        produce_json(bootstrap, "anpr.reads", [read(plate)])
        alert = alerts_for(bootstrap, plate)[0]
        send_action(bootstrap, alert, "acknowledge")
        alerts_for(bootstrap, plate, done=lambda found: found[-1].status == "acknowledged")
    finally:
        worker.stop(kill=True)

    restarted = WorkerProcess(bootstrap, tmp_path / "after.log").start()
    try:
        restarted.wait_ready()
        produce_json(bootstrap, "anpr.reads", [read(plate)])  # the same vehicle again, minutes later
        latest = alerts_for(bootstrap, plate, done=lambda found: len(found) >= 3, timeout=60)[-1]
        # The new worker knew the alert: the operator's acknowledged alert is updated, not re-raised.
        assert (latest.alert_id, latest.status, latest.count) == (alert.alert_id, "acknowledged", 2)
    finally:
        restarted.stop()
