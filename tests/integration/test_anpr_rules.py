"""Each ANPR rule through the real broker and a real worker: cloned plate, circling, convoy."""

from __future__ import annotations

import time

import pytest

from tests.conftest import WorkerProcess
from tests.integration.kafka_helpers import alerts_for, produce_json, read
from tests.integration.test_anpr_flow import unique_plate, wait_listed, watchlist

pytestmark = pytest.mark.integration


def test_same_plate_too_far_too_fast_raises_cloned_plate(worker: WorkerProcess) -> None:
    plate = unique_plate("CL")
    t0 = time.time() - 600
    # cam-a (market) and cam-c (station) are ~2.6 km apart: 20 s between them is ~470 km/h.
    first, second = read(plate, camera="cam-a", event_time=t0), read(plate, camera="cam-c", event_time=t0 + 20)
    produce_json(worker.bootstrap, "anpr.reads", [{"reads": [first, second]}])
    alert = alerts_for(worker.bootstrap, plate)[0]
    assert alert.rule == "cloned_plate"
    assert {e.event_id for e in alert.evidence} == {first["read_id"], second["read_id"]}
    assert alert.details["speed_kmh"] > 250


def test_repeat_passes_at_one_site_raise_circling_once(worker: WorkerProcess) -> None:
    plate = unique_plate("CI")
    t0 = time.time() - 900
    passes = [read(plate, camera=("cam-a", "cam-b")[i % 2], event_time=t0 + 180 * i) for i in range(6)]
    produce_json(worker.bootstrap, "anpr.reads", [{"reads": passes}])
    alerts = alerts_for(worker.bootstrap, plate, done=lambda found: any(a.rule == "circling" for a in found))
    circling = [a for a in alerts if a.rule == "circling"]
    assert len({a.alert_id for a in circling}) == 1  # one episode, not one alert per extra pass
    assert circling[0].site_id == "market"


def test_plates_together_at_three_cameras_raise_convoy_higher_when_one_is_listed(worker: WorkerProcess) -> None:
    lead, follower = unique_plate("CV"), unique_plate("CW")
    before = worker.metric_value("watchfloor_watchlist_entries")
    watchlist(worker.bootstrap, lead, priority=4)
    wait_listed(worker, before + 1)
    # Recent times: a camera pairs reads only near its newest read (older ones count as late).
    t0 = time.time() - 200
    reads = []
    for offset, camera in ((0, "cam-a"), (50, "cam-b"), (200, "cam-c")):
        reads += [read(lead, camera=camera, event_time=t0 + offset),
                  read(follower, camera=camera, event_time=t0 + offset + 3)]
    produce_json(worker.bootstrap, "anpr.reads", [{"reads": reads}])
    subject = "+".join(sorted((lead, follower)))
    alerts = alerts_for(worker.bootstrap, subject, done=lambda found: any(a.rule == "convoy" for a in found))
    convoy = next(a for a in alerts if a.rule == "convoy")
    assert sorted(convoy.details["plates"]) == sorted((lead, follower))
    assert convoy.severity in ("high", "critical")  # raised: one of them is watchlisted
