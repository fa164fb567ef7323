"""Operator actions and correlation through the real broker and worker."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
import uuid

import pytest

from schemas.alerts import Alert, AlertAction, AlertCandidate, Evidence, alert_id_for
from tests.conftest import REPO, WorkerProcess
from tests.integration.kafka_helpers import alerts_for, produce, produce_json, read
from tests.integration.test_anpr_flow import unique_plate, wait_listed, watchlist

pytestmark = pytest.mark.integration


def send_action(bootstrap: str, alert: Alert, kind: str, **fields: object) -> None:
    act = AlertAction(action_id=uuid.uuid4().hex, alert_id=alert.alert_id, action=kind, by="op.smith",  # type: ignore[arg-type]
                      at=time.time(), **fields)  # type: ignore[arg-type]
    produce(bootstrap, "alerts.actions", [(f"{alert.rule}:{alert.subject}".encode(), act.model_dump_json().encode())])


def test_acknowledge_assign_resolve_reach_the_alert(worker: WorkerProcess) -> None:
    plate = unique_plate("AC")
    before = worker.metric_value("watchfloor_watchlist_entries")
    watchlist(worker.bootstrap, plate)
    wait_listed(worker, before + 1)
    produce_json(worker.bootstrap, "anpr.reads", [read(plate)])
    alert = alerts_for(worker.bootstrap, plate)[0]

    send_action(worker.bootstrap, alert, "acknowledge")
    send_action(worker.bootstrap, alert, "assign", assignee="op.jones")
    send_action(worker.bootstrap, alert, "resolve", reason="vehicle stopped by patrol")
    states = alerts_for(worker.bootstrap, plate, done=lambda found: found[-1].status == "resolved")
    final = states[-1]
    assert final.alert_id == alert.alert_id
    assert (final.status, final.assignee, final.resolution) == ("resolved", "op.jones", "vehicle stopped by patrol")
    assert [h.action for h in final.history] == ["acknowledge", "assign", "resolve"]
    assert all(h.by == "op.smith" for h in final.history)
    assert worker.metric_value("watchfloor_time_to_acknowledge_seconds_count") >= 1


def test_watchlisted_vehicle_at_site_with_unattended_item_escalates_and_links_both(worker: WorkerProcess) -> None:
    bag_subject = f"cctv-market-1/track-{uuid.uuid4().hex[:6]}"
    now = time.time()
    bag = AlertCandidate(alert_id=alert_id_for("unattended_item", bag_subject, "frame-1"), rule="unattended_item",
                         subject=bag_subject, severity="high", event_time=now, camera_id="cctv-market-1",
                         site_id="market", title="Unattended item",
                         evidence=[Evidence(event_id="frame-1", event_time=now)])
    produce(worker.bootstrap, "alerts.candidates", [(bag.dedupe_key.encode(), bag.model_dump_json().encode())])
    assert alerts_for(worker.bootstrap, bag_subject)
    time.sleep(1.0)  # the worker's view of open alerts follows the alerts topic

    plate = unique_plate("CR")
    before = worker.metric_value("watchfloor_watchlist_entries")
    watchlist(worker.bootstrap, plate, priority=4)
    wait_listed(worker, before + 1)
    produce_json(worker.bootstrap, "anpr.reads", [read(plate, camera="cam-a")])  # cam-a is at the market

    vehicle = alerts_for(worker.bootstrap, plate)[-1]
    assert vehicle.severity == "critical" and vehicle.linked_alert_ids == [bag.alert_id]
    linked_bag = alerts_for(worker.bootstrap, bag_subject, done=lambda found: bool(found[-1].linked_alert_ids))[-1]
    assert linked_bag.linked_alert_ids == [vehicle.alert_id] and linked_bag.severity == "critical"


def test_deployment_declared_at_run_time_raises_severity(worker: WorkerProcess) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    deployment_id = f"evening-{uuid.uuid4().hex[:6]}"
    declared = subprocess.run(
        [sys.executable, "-m", "streams.cli", "deployment", "add", deployment_id, "--name", "Station evening",
         "--site", "station", "--start", start.isoformat(), "--end", (start + dt.timedelta(hours=2)).isoformat(),
         "--by", "sgt.test"],
        cwd=REPO, env={**os.environ, "WATCHFLOOR_BOOTSTRAP": worker.bootstrap}, capture_output=True, timeout=60)
    assert declared.returncode == 0, declared.stderr.decode()
    time.sleep(1.5)  # the workers follow the deployments topic

    plate = unique_plate("DZ")
    before = worker.metric_value("watchfloor_watchlist_entries")
    watchlist(worker.bootstrap, plate, priority=4)  # medium on its own
    wait_listed(worker, before + 1)
    produce_json(worker.bootstrap, "anpr.reads", [read(plate, camera="cam-c")])  # cam-c is at the station
    alert = alerts_for(worker.bootstrap, plate)[0]
    assert alert.severity == "high" and alert.details["deployment"] == "Station evening"

    bad = subprocess.run([sys.executable, "-m", "streams.cli", "deployment", "add", "x", "--name", "n", "--site",
                          "station", "--start", "tomorrow", "--end", "later"],
                         cwd=REPO, env={**os.environ, "WATCHFLOOR_BOOTSTRAP": worker.bootstrap},
                         capture_output=True, timeout=60)
    assert bad.returncode == 2 and b"start" in bad.stderr  # a clear error naming the field
