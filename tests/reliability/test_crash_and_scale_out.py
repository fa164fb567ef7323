"""Crash and scale-out against the real embedded broker, real workers and a real console."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.broker import EmbeddedBroker
from streams.topics import APP_ID
from tests.conftest import WorkerProcess
from tests.integration.kafka_helpers import alerts_for, produce, produce_json, read
from tests.integration.test_alert_lifecycle import send_action
from tests.reliability.conftest import (
    ConsoleProcess,
    add_to_watchlist,
    config_with,
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
        try:
            wait_for(lambda: len(console.alerts("watchlist_hit")) >= HITS, 180,
                     "the surviving worker did not complete the replay")
        except AssertionError as failure:  # where it stopped: reads, candidates or alerts
            counts = first.metrics("watchfloor_messages_produced_total", "watchfloor_messages_consumed_total")
            raise AssertionError(f"{failure}: {processed(first):.0f} of {READS} reads processed, "
                                 f"{len(console.alerts('watchlist_hit'))} of {HITS} alerts; "
                                 + "; ".join(line for line in counts.splitlines() if not line.startswith("#"))
                                 ) from None
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
        # Killed right after the acknowledged alert was out, the first worker may not have stored the
        # key's state or committed the action: the restart then applies the action again and publishes
        # the acknowledged alert once more (at least once) before the repeat. Wait for the repeat, or
        # for a different alert (the failure this test is for).
        latest = alerts_for(bootstrap, plate, timeout=60, done=lambda found: len(found) >= 3 and (
            found[-1].count >= 2 or found[-1].alert_id != alert.alert_id))[-1]
        # The new worker knew the alert: the operator's acknowledged alert is updated, not re-raised.
        assert (latest.alert_id, latest.status, latest.count) == (alert.alert_id, "acknowledged", 2)
    finally:
        restarted.stop()


@pytest.mark.parametrize("routed", [False, True], ids=["one-stage", "routed-by-plate"])
def test_a_clone_read_either_side_of_a_restart_is_caught(private_broker: EmbeddedBroker, tmp_path: Path,
                                                         routed: bool) -> None:
    bootstrap = private_broker.bootstrap
    plate = listed_plates(1)[0].replace("R", "C")  # not on any watchlist: only the journey rule can see it
    config_path = config_with(tmp_path / "config.yaml", kafka={"route_journeys_by_plate": routed})
    # Routed, the cloned-plate rule runs on the plate-keyed stage: that is the state to rebuild.
    topic, group = ("anpr.sightings", f"{APP_ID}-anpr-journeys") if routed else ("anpr.reads", f"{APP_ID}-anpr")
    now = time.time()
    before = WorkerProcess(bootstrap, tmp_path / "before.log", config=config_path).start()
    try:
        before.wait_ready()
        produce_json(bootstrap, "anpr.reads", [read(plate, camera="cam-a", event_time=now)])
        # Committed, so the next worker does not get it again: only a rebuild can show it the read.
        wait_for(lambda: committed_messages(bootstrap, topic, group) >= 1, 60, "the first read was never committed")
    finally:
        before.stop()  # a deploy

    after = WorkerProcess(bootstrap, tmp_path / "after.log", config=config_path).start()
    try:
        after.wait_ready()
        # Market then station (~2.5 km) 20 s later: ~450 km/h. The first read is behind the commit.
        produce_json(bootstrap, "anpr.reads", [read(plate, camera="cam-c", event_time=now + 20)])
        alerts = alerts_for(bootstrap, plate, timeout=60)
        assert alerts, f"no alert: the new worker did not have the read from before the restart\n{after.log_tail()}"
        assert alerts[-1].rule == "cloned_plate"
        assert {e.camera_id for e in alerts[-1].evidence} == {"cam-a", "cam-c"}
        assert f"ANPR rule state of {topic} partitions" in after.log_path.read_text()
    finally:
        after.stop()


def committed_messages(bootstrap: str, topic: str, group: str = f"{APP_ID}-anpr") -> int:
    """The sum of ``group``'s committed offsets on ``topic`` (messages it is done with)."""
    async def run() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            return sum([await consumer.committed(tp) or 0 for tp in partitions])
        finally:
            await consumer.stop()

    return asyncio.run(run())


def anpr_partitions(worker: WorkerProcess) -> set[int]:
    """The ``anpr.reads`` partitions this worker consumes (from its lag gauge)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = worker.metrics()
    except OSError:
        return set()
    return {int(s.labels["partition"]) for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == "watchfloor_consumer_lag" and s.labels.get("topic") == "anpr.reads"}


@contextlib.contextmanager
def two_routed_workers(broker: EmbeddedBroker, tmp_path: Path, **kafka: object
                       ) -> Iterator[list[set[int]]]:
    """Two workers with reads routed by plate, once they have split ``anpr.reads``: yields the
    partitions each owns."""
    config_path = config_with(tmp_path / "routed.yaml", kafka={"route_journeys_by_plate": True, **kafka})
    first = WorkerProcess(broker.bootstrap, tmp_path / "a.log", config=config_path).start()
    second = WorkerProcess(broker.bootstrap, tmp_path / "b.log", config=config_path).start()
    try:
        first.wait_ready()
        second.wait_ready()
        owned: list[set[int]] = [set(), set()]

        def split() -> bool:
            owned[:] = [anpr_partitions(first), anpr_partitions(second)]
            return all(owned) and not owned[0] & owned[1]

        wait_for(split, 60, "the two workers never split anpr.reads")
        yield owned
    finally:
        first.stop()
        second.stop()


def test_with_plate_routing_two_workers_catch_a_clone_read_on_each(private_broker: EmbeddedBroker,
                                                                   tmp_path: Path) -> None:
    with two_routed_workers(private_broker, tmp_path) as owned:
        plate = listed_plates(1)[0].replace("R", "K")  # not on any watchlist: only the journey rule
        now = time.time()
        # Market (cam-a) then station (cam-c, ~2.5 km) 20 s apart: ~450 km/h. Each read goes to a
        # partition of a different worker, as a camera-keyed feed would put them.
        produce_to_partition(private_broker.bootstrap, "anpr.reads", min(owned[0]), read(plate, camera="cam-a",
                                                                                         event_time=now))
        produce_to_partition(private_broker.bootstrap, "anpr.reads", min(owned[1]), read(plate, camera="cam-c",
                                                                                         event_time=now + 20))
        alerts = alerts_for(private_broker.bootstrap, plate, timeout=60)
        assert alerts, "no alert: the two reads were never seen together"
        alert = alerts[-1]
        assert alert.rule == "cloned_plate"
        assert {e.camera_id for e in alert.evidence} == {"cam-a", "cam-c"}


def test_with_pairs_routed_two_workers_catch_a_convoy_seen_on_each(private_broker: EmbeddedBroker,
                                                                    tmp_path: Path) -> None:
    with two_routed_workers(private_broker, tmp_path, route_convoy_by_pair=True) as owned:
        lead, follower = (f"CV{uuid.uuid4().hex[:5].upper()}" for _ in range(2))
        # Together at three cameras; cam-b's reads on a partition of the other worker than cam-a's
        # and cam-c's, as a camera-keyed feed puts them: neither worker sees all three meetings.
        t0 = time.time() - 200
        for offset, camera, worker in ((0, "cam-a", 0), (50, "cam-b", 1), (200, "cam-c", 0)):
            together = [read(lead, camera=camera, event_time=t0 + offset),
                        read(follower, camera=camera, event_time=t0 + offset + 3)]
            produce_to_partition(private_broker.bootstrap, "anpr.reads", min(owned[worker]), {"reads": together})
        subject = "+".join(sorted((lead, follower)))
        alerts = alerts_for(private_broker.bootstrap, subject, timeout=60,
                            done=lambda found: any(a.rule == "convoy" for a in found))
        convoys = {a.alert_id: a for a in alerts if a.rule == "convoy"}
        assert len(convoys) == 1, "one convoy, raised once"
        (convoy,) = convoys.values()
        assert convoy.details["cameras"] == ["cam-a", "cam-b", "cam-c"]


def produce_to_partition(bootstrap: str, topic: str, partition: int, value: dict[str, object]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, json.dumps(value).encode(), partition=partition)
        finally:
            await producer.stop()

    asyncio.run(run())
