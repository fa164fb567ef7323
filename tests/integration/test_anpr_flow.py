"""Plate reads through the real embedded broker and a real worker to alerts."""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest

from schemas.deadletter import DeadLetter
from schemas.watchlist import WatchlistEntry
from tests.conftest import WorkerProcess
from tests.integration.kafka_helpers import alerts_for, consume_until, produce, produce_json, read

pytestmark = pytest.mark.integration


def unique_plate(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().int % 10**5:05d}"


def watchlist(bootstrap: str, plate: str, **fields: object) -> None:
    entry = WatchlistEntry(plate=plate, reason=str(fields.pop("reason", "test")), added_by="test",
                           added_at=time.time(), **fields)  # type: ignore[arg-type]
    produce(bootstrap, "watchlist", [(plate.encode(), entry.model_dump_json().encode())])


def wait_listed(worker: WorkerProcess, count: int) -> None:
    deadline = time.monotonic() + 20
    while worker.metric_value("watchfloor_watchlist_entries") < count:
        assert time.monotonic() < deadline, "watchlist entry never reached the worker"
        time.sleep(0.2)


def test_watchlisted_read_yields_one_alert_with_its_evidence(worker: WorkerProcess) -> None:
    plate = unique_plate("WL")
    before = worker.metric_value("watchfloor_watchlist_entries")
    watchlist(worker.bootstrap, plate, reason="stolen vehicle", priority=1)
    wait_listed(worker, before + 1)
    evidence = read(f"{plate[:4]} {plate[4:]}".lower(), camera="cam-b")  # as a camera might print it
    produce_json(worker.bootstrap, "anpr.reads", [evidence])

    alerts = alerts_for(worker.bootstrap, plate)
    time.sleep(1.0)  # let any (wrong) second alert arrive before counting
    alerts = alerts_for(worker.bootstrap, plate)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.rule == "watchlist_hit"
    assert alert.severity == "critical"
    assert alert.details["reason"] == "stolen vehicle"
    assert alert.camera_id == "cam-b" and alert.site_id == "market"
    assert [e.event_id for e in alert.evidence] == [evidence["read_id"]]
    assert alert.evidence[0].data["plate"] == evidence["plate"]
    assert worker.metric_value("watchfloor_alerts_total", rule="watchlist_hit", severity="critical") >= 1
    assert worker.metric_value("watchfloor_event_to_alert_seconds_count") >= 1


def test_read_matching_nothing_yields_no_alert(worker: WorkerProcess) -> None:
    listed, unlisted = unique_plate("HT"), unique_plate("NO")
    before = worker.metric_value("watchfloor_watchlist_entries")
    watchlist(worker.bootstrap, listed)
    wait_listed(worker, before + 1)
    # One batch message: once the listed plate's alert exists, the unlisted read was processed too.
    produce_json(worker.bootstrap, "anpr.reads", [{"reads": [read(unlisted), read(listed)]}])
    assert alerts_for(worker.bootstrap, listed)
    assert alerts_for(worker.bootstrap, unlisted, timeout=2) == []


def test_replayed_duplicate_read_does_not_yield_a_second_alert(worker: WorkerProcess) -> None:
    plate = unique_plate("DP")
    before = worker.metric_value("watchfloor_watchlist_entries")
    watchlist(worker.bootstrap, plate)
    wait_listed(worker, before + 1)
    same_read = read(plate)
    produce_json(worker.bootstrap, "anpr.reads", [same_read])
    assert alerts_for(worker.bootstrap, plate)
    processed_before = worker.metric_value("watchfloor_events_processed_total", kind="plate_read")
    held_before = worker.metric_value("watchfloor_anpr_held_reads", kind="plate_read")
    assert held_before >= 1
    produce_json(worker.bootstrap, "anpr.reads", [same_read])  # at-least-once redelivery

    deadline = time.monotonic() + 20
    while worker.metric_value("watchfloor_events_processed_total", kind="plate_read") <= processed_before:
        assert time.monotonic() < deadline, "the redelivered read was never processed"
        time.sleep(0.2)
    time.sleep(1.0)  # a (wrong) second alert would follow within this
    alerts = alerts_for(worker.bootstrap, plate)
    assert len({a.alert_id for a in alerts}) == 1
    assert len(alerts) == 1 and alerts[0].count == 1
    assert worker.metric_value("watchfloor_anpr_held_reads", kind="plate_read") == held_before  # not held twice


def test_bad_input_goes_to_deadletter_and_valid_reads_still_alert(worker: WorkerProcess) -> None:
    plates = [unique_plate("BI") for _ in range(3)]
    before = worker.metric_value("watchfloor_watchlist_entries")
    for plate in plates:
        watchlist(worker.bootstrap, plate)
    wait_listed(worker, before + 3)
    marker = uuid.uuid4().hex  # lets this test find its own dead letters
    bad_schema = read(plates[0]) | {"confidence": 7.5, "read_id": f"bad-{marker}"}
    unknown_field = read(plates[0]) | {"speed": 30, "read_id": f"odd-{marker}"}
    partly_bad_batch = {"reads": [read(plates[2]), {"read_id": f"part-{marker}", "plate": "X"}]}
    oversize = json.dumps(read(plates[0]) | {"image_ref": "x" * 100_000}).encode()
    messages: list[tuple[bytes | None, bytes | None]] = [
        (marker.encode(), b"\xff\xfe not json " + marker.encode()),
        (b"cam-a", json.dumps(read(plates[0])).encode()),
        (marker.encode(), b'{"read_id": "' + marker.encode() + b'", "plate": '),  # truncated JSON
        (marker.encode(), json.dumps(bad_schema).encode()),
        (b"cam-a", json.dumps(read(plates[1])).encode()),
        (marker.encode(), json.dumps(unknown_field).encode()),
        (marker.encode(), oversize),
        (b"cam-a", json.dumps(partly_bad_batch).encode()),
        # Bad UTF-8 inside a field's text (msgspec's error there is not a DecodeError): it once stopped the partition.
        (marker.encode(), b'{"reads": [{"read_id": "\xc3(", "plate": "AB12CDE"}]}'),
    ]
    produce(worker.bootstrap, "anpr.reads", messages)

    for plate in plates:
        assert alerts_for(worker.bootstrap, plate), f"valid read for {plate} produced no alert"

    def mine(records: list[object]) -> list[DeadLetter]:
        letters = [DeadLetter.model_validate_json(r.value) for r in records]  # type: ignore[attr-defined]
        return [d for d in letters if marker in base64.b64decode(d.value_b64).decode(errors="replace")
                or (d.key_b64 and marker in base64.b64decode(d.key_b64).decode(errors="replace"))]

    letters = mine(consume_until(worker.bootstrap, "deadletter", lambda rs: len(mine(rs)) >= 7))
    reasons = sorted(d.reason for d in letters)
    assert reasons == sorted(["undecodable", "undecodable", "undecodable", "schema_violation", "schema_violation",
                              "oversize", "schema_violation"])
    for letter in letters:
        assert letter.source_topic == "anpr.reads" and letter.offset >= 0 and letter.error
    assert any("confidence" in d.error for d in letters)
    assert any("unknown field" in d.error and "speed" in d.error for d in letters)
    assert any("reads.1" in d.error for d in letters)
    assert worker.metric_value("watchfloor_deadletters_total", topic="anpr.reads") >= 7
    assert worker.process is not None and worker.process.poll() is None, "the worker died"
