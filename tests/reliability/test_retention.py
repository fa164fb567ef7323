"""Closed alerts are deleted after their retention, on the topics, in the console and with their
snapshot files; open ones stay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams.broker import EmbeddedBroker
from tests.conftest import WorkerProcess
from tests.integration.kafka_helpers import alerts_for, consume_until, produce_json, read
from tests.integration.test_alert_lifecycle import send_action
from tests.reliability.conftest import ConsoleProcess, add_to_watchlist, config_with, listed_plates, wait_for

pytestmark = pytest.mark.integration

RETENTION_S = 4.0


def test_resolved_alerts_are_deleted_after_retention_and_open_ones_stay(private_broker: EmbeddedBroker,
                                                                         tmp_path: Path) -> None:
    bootstrap = private_broker.bootstrap
    config_path = config_with(tmp_path / "retention.yaml", alerting={"closed_alert_retention_s": RETENTION_S})
    closed_plate, open_plate = listed_plates(2)
    add_to_watchlist(bootstrap, [closed_plate, open_plate])
    console = ConsoleProcess(bootstrap, tmp_path)
    worker = WorkerProcess(bootstrap, tmp_path / "worker.log", config=config_path).start()
    try:
        worker.wait_ready()
        # Each read's image in the snapshot store: personal data under the alert's retention.
        images = {plate: worker.snapshot_dir / f"{plate.lower()}-read.jpg" for plate in (closed_plate, open_plate)}
        worker.snapshot_dir.mkdir(exist_ok=True)
        for image in images.values():
            image.write_bytes(b"\xff\xd8\xff\xd9")
        produce_json(bootstrap, "anpr.reads", [{"reads": [read(plate, image_ref=image.name)
                                                          for plate, image in images.items()]}])
        closed = alerts_for(bootstrap, closed_plate)[0]
        still_open = alerts_for(bootstrap, open_plate)[0]
        send_action(bootstrap, closed, "resolve", reason="vehicle stopped by patrol")
        alerts_for(bootstrap, closed_plate, done=lambda found: found[-1].status == "resolved")

        def console_ids() -> set[str]:
            try:
                return {a["alert_id"] for a in console.get("/api/alerts?limit=100000")["alerts"]}
            except OSError:
                return set()

        wait_for(lambda: {closed.alert_id, still_open.alert_id} <= console_ids(), 60, "the console never had both")
        # Deleted within a sweep of the retention passing: gone from the console, tombstoned on both topics.
        wait_for(lambda: closed.alert_id not in console_ids(), 30, "the resolved alert was never deleted")
        assert still_open.alert_id in console_ids()  # open alerts are never deleted
        wait_for(lambda: not images[closed_plate].exists(), 10, "the resolved alert's snapshot file stayed")
        assert images[open_plate].exists()

        def tombstoned(topic: str, key: str) -> bool:
            def done(records: list[Any]) -> bool:
                return any(r.key == key.encode() and r.value is None for r in records)
            return done(consume_until(bootstrap, topic, done, timeout=10))

        assert tombstoned("alerts", closed.alert_id)
        assert tombstoned("alerts.state", f"{closed.rule}:{closed.subject}")
        assert not tombstoned("alerts", still_open.alert_id)
    finally:
        worker.stop()
        console.stop()
