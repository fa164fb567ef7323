"""Helpers for integration tests: produce to and read from the real broker."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.alerts import Alert
from schemas.anpr import PlateRead


def read(plate: str, camera: str = "cam-a", **fields: Any) -> dict[str, Any]:
    """A valid plate read as JSON-ready dict, with a unique id unless one is given."""
    return PlateRead(read_id=fields.pop("read_id", f"t-{uuid.uuid4().hex[:12]}"), plate=plate,
                     confidence=fields.pop("confidence", 0.95), camera_id=camera,
                     event_time=fields.pop("event_time", time.time()), **fields).model_dump(mode="json")


def produce(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes | None]]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 * 1_048_576)
        await producer.start()
        try:
            for key, value in messages:
                await (await producer.send(topic, key=key, value=value))
        finally:
            await producer.stop()

    asyncio.run(run())


def produce_json(bootstrap: str, topic: str, values: list[Any], key: bytes | None = b"cam-a") -> None:
    produce(bootstrap, topic, [(key, json.dumps(v).encode()) for v in values])


def consume_until(bootstrap: str, topic: str, done: Callable[[list[Any]], bool], timeout: float = 30.0,
                  ) -> list[Any]:
    """Read ``topic`` from the beginning until ``done(records)`` or the timeout; returns the records."""

    async def run() -> list[Any]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                    auto_offset_reset="earliest")
        await consumer.start()
        records: list[Any] = []
        try:
            deadline = time.monotonic() + timeout
            partitions: list[TopicPartition] = []
            while not partitions and time.monotonic() < deadline:
                partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
                if not partitions:
                    await consumer.force_metadata_update()
                    await asyncio.sleep(0.2)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            while time.monotonic() < deadline:
                for batch in (await consumer.getmany(timeout_ms=300)).values():
                    records.extend(batch)
                if done(records):
                    break
            return records
        finally:
            await consumer.stop()

    return asyncio.run(run())


def alerts_for(bootstrap: str, subject: str, done: Callable[[list[Alert]], bool] | None = None,
               timeout: float = 30.0) -> list[Alert]:
    """Every alert record on ``alerts`` about ``subject`` (all states, in order)."""

    def mine(records: list[Any]) -> list[Alert]:
        return [a for a in (Alert.model_validate_json(r.value) for r in records if r.value) if a.subject == subject]

    wait = done or (lambda found: bool(found))
    records = consume_until(bootstrap, "alerts", lambda rs: wait(mine(rs)), timeout)
    return mine(records)
