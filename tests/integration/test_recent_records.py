"""Reading back the last hours of a partition before a committed offset, as a state rebuild does."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from streams.broker import EmbeddedBroker
from streams.clients import recent_records
from streams.config import load_config
from tests.conftest import TEST_CONFIG

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000


def produce_hourly(bootstrap: str, topic: str, hours: int, per_hour: int, start_ms: int) -> list[int]:
    """``per_hour`` records in each of ``hours`` hours on partition 0, one producer batch each; their offsets."""
    async def run() -> list[int]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
        await producer.start()
        try:
            offsets = []
            for hour in range(hours):
                sent = [await producer.send(topic, f"{hour}-{i}".encode(), partition=0,
                                            timestamp_ms=start_ms + hour * HOUR_MS + i * 1000)
                        for i in range(per_hour)]
                offsets += [metadata.offset for metadata in await asyncio.gather(*sent)]
            return offsets
        finally:
            await producer.stop()

    return asyncio.run(run())


def read_back(bootstrap: str, topic: str, end: int, span_s: float, floor: int = 0
              ) -> list[ConsumerRecord[bytes, bytes]]:
    config = load_config(TEST_CONFIG, env={"WATCHFLOOR_BOOTSTRAP": bootstrap})

    async def run() -> list[ConsumerRecord[bytes, bytes]]:
        return [record async for records in recent_records(config, topic, {0: end}, span_s, {0: floor})
                for record in records]

    return asyncio.run(run())


def test_only_the_span_before_the_end_is_read_back(broker: EmbeddedBroker) -> None:
    topic = f"recent-{uuid.uuid4().hex[:8]}"
    offsets = produce_hourly(broker.bootstrap, topic, hours=10, per_hour=30, start_ms=1_700_000_000_000)
    end = offsets[8 * 30]  # committed up to the end of hour 7; hours 8 and 9 are not handled yet

    records = read_back(broker.bootstrap, topic, end, span_s=3 * 3600)
    # The record before the end is from hour 7: three hours back reaches into hour 4.
    assert {r.value.decode().split("-")[0] for r in records} == {"4", "5", "6", "7"}
    assert records[0].timestamp >= records[-1].timestamp - 3 * HOUR_MS
    assert [r.offset for r in records] == offsets[4 * 30 + 29:8 * 30]  # all of it, in order, none after the end


def test_a_floor_skips_what_the_reader_already_holds(broker: EmbeddedBroker) -> None:
    topic = f"recent-{uuid.uuid4().hex[:8]}"
    offsets = produce_hourly(broker.bootstrap, topic, hours=4, per_hour=10, start_ms=1_700_000_000_000)
    records = read_back(broker.bootstrap, topic, end=offsets[-1] + 1, span_s=24 * 3600, floor=offsets[25])
    assert [r.offset for r in records] == offsets[25:]
    assert read_back(broker.bootstrap, topic, end=offsets[-1] + 1, span_s=3600, floor=offsets[-1] + 1) == []
