"""10,000+ malformed or hostile messages interleaved with valid traffic: nothing dies, nothing valid is lost."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from schemas.deadletter import DeadLetter
from schemas.frames import FrameHeaders
from streams.broker import EmbeddedBroker
from tests.conftest import WorkerProcess
from tests.integration.kafka_helpers import consume_until, produce, read
from tests.reliability.conftest import ConsoleProcess, add_to_watchlist, listed_plates, wait_for

pytestmark = pytest.mark.integration

BAD_READS = 9_000
BAD_FRAMES = 600
BAD_DETECTIONS = 600
VALID_HITS = 200


def hostile_read(rng: random.Random) -> bytes:
    """One of many ways a plate-read message can be wrong."""
    good = read("AB12CDE")
    kind = rng.randrange(12)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 400))
    if kind == 1:
        text = json.dumps(good).encode()
        return text[: rng.randrange(1, len(text) - 1)]  # truncated
    if kind == 2:
        return json.dumps(good | {"image_ref": "x" * 70_000}).encode()  # oversize (limit 65,536)
    if kind == 3:
        return json.dumps(good | {"confidence": "high"}).encode()  # wrong type
    if kind == 4:
        return json.dumps(good | {"event_time": rng.choice([1e308, -1.0, 0, 9e18])}).encode()  # absurd
    if kind == 5:
        return json.dumps(good | {"plate": rng.choice(["💣💣", "\u202eEDC21BA", "Ａ" * 40, "\x00\x01"])}).encode()
    if kind == 6:
        return json.dumps(good | {"lane": 10**30}).encode()
    if kind == 7:
        return json.dumps([good] * 3).encode()  # a list is not a message
    if kind == 8:
        return json.dumps({"reads": [good | {"confidence": -5}] * 2}).encode()  # a batch of only bad reads
    if kind == 9:
        return b"{" * 5000 + b"}" * 5000  # deep nesting
    if kind == 10:
        return "\ud800".encode("utf-8", "surrogatepass")  # invalid UTF-8
    required = rng.choice(["read_id", "plate", "confidence", "camera_id", "event_time"])
    return json.dumps({k: v for k, v in good.items() if k != required}).encode()  # missing field


def hostile_frame(rng: random.Random, jpeg: bytes) -> tuple[bytes | None, bytes, list[tuple[str, bytes]]]:
    headers = FrameHeaders.create(1.7e9, rng.randrange(10**6)).to_kafka()
    kind = rng.randrange(4)
    if kind == 0:
        return b"cctv-1", jpeg[: len(jpeg) // 3], headers  # corrupt (truncated) JPEG
    if kind == 1:
        return b"cctv-1", rng.randbytes(2000), headers  # not a JPEG at all
    if kind == 2:
        return b"cctv-1", jpeg, [("wf-time", b"yesterday")]  # bad headers
    return None, jpeg, headers  # no camera key


def test_hostile_messages_are_dead_lettered_and_valid_ones_processed(private_broker: EmbeddedBroker,
                                                                     tmp_path: Path) -> None:
    rng = random.Random(20261124)
    hits = listed_plates(VALID_HITS)
    add_to_watchlist(private_broker.bootstrap, hits)
    worker = WorkerProcess(private_broker.bootstrap, tmp_path / "worker.log").start()
    console = ConsoleProcess(private_broker.bootstrap, tmp_path)
    try:
        worker.wait_ready()
        valid = [json.dumps(read(plate)).encode() for plate in hits]
        bad = [hostile_read(rng) for _ in range(BAD_READS)]
        # Interleave: the valid reads are scattered among the bad ones, on the same partitions.
        messages: list[tuple[bytes | None, bytes | None]] = [(b"cam-a", m) for m in bad]
        for message in valid:
            messages.insert(rng.randrange(len(messages) + 1), (b"cam-a", message))
        produce(private_broker.bootstrap, "anpr.reads", messages)

        ok, encoded = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))
        assert ok
        frames = [hostile_frame(rng, encoded.tobytes()) for _ in range(BAD_FRAMES)]
        detections: list[tuple[bytes | None, bytes | None]] = [
            (b"cctv-1", rng.choice([rng.randbytes(50), b'{"camera_id": 5}', json.dumps(
                {"event_id": "e", "camera_id": "cctv-1", "event_time": 1.7e9,
                 "objects": [{"track_id": "1", "class_name": "person", "confidence": 2, "box": [0, 0, 1, 1]}]}
            ).encode()])) for _ in range(BAD_DETECTIONS)]
        produce(private_broker.bootstrap, "camera.detections", detections)
        _produce_frames(private_broker.bootstrap, frames)

        expected_letters = BAD_READS + BAD_FRAMES + BAD_DETECTIONS
        wait_for(lambda: len(console.alerts("watchlist_hit")) >= VALID_HITS, 120,
                 "not every valid read among the hostile ones was processed")
        def sources(records: list[Any]) -> set[tuple[str, int]]:
            letters = (DeadLetter.model_validate_json(r.value) for r in records)
            return {(d.source_topic, d.partition, d.offset) for d in letters}

        # A batch with several bad reads yields a dead letter per read: count source messages.
        letters = consume_until(private_broker.bootstrap, "deadletter",
                                lambda records: len(sources(records)) >= expected_letters, timeout=120)
        records = [DeadLetter.model_validate_json(r.value) for r in letters]
        by_topic: dict[str, set[tuple[int, int]]] = {}
        for record in records:
            assert record.reason in ("undecodable", "schema_violation", "oversize", "unprocessable")
            assert record.error
            by_topic.setdefault(record.source_topic, set()).add((record.partition, record.offset))
        # Each bad message is in deadletter (by its source partition and offset), and no valid one is.
        assert len(by_topic.get("anpr.reads", set())) == BAD_READS
        assert len(by_topic.get("camera.frames", set())) == BAD_FRAMES
        assert len(by_topic.get("camera.detections", set())) == BAD_DETECTIONS
        assert sorted(a["subject"] for a in console.alerts("watchlist_hit")) == sorted(hits)
        assert worker.process is not None and worker.process.poll() is None, "the worker died"
        assert worker.metric_value("watchfloor_deadletters_total") >= expected_letters
    finally:
        worker.stop()
        console.stop()


def _produce_frames(bootstrap: str, frames: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]]) -> None:
    import asyncio

    from aiokafka import AIOKafkaProducer

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for key, value, headers in frames:
                await producer.send("camera.frames", key=key, value=value, headers=headers)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(run())


