"""Small aiokafka helpers for the CLI tools: produce, read a topic to its end, follow a topic."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError

from streams.config import WatchfloorConfig
from streams.kafka import client_kwargs

log = logging.getLogger(__name__)


class BrokerUnavailable(RuntimeError):
    pass


async def start_with_retry(client: Any, config: WatchfloorConfig, timeout: float = 30.0) -> None:
    """Start an aiokafka client, retrying while the broker is not (yet) reachable."""
    deadline = time.monotonic() + timeout
    delay = 0.5
    while True:
        try:
            await client.start()
            return
        except KafkaConnectionError as error:
            if time.monotonic() + delay > deadline:
                raise BrokerUnavailable(
                    f"cannot reach Kafka at {config.kafka.bootstrap} after {timeout:.0f}s ({error}); "
                    "is `watchfloor demo` or `watchfloor broker` running? Set --bootstrap or "
                    "WATCHFLOOR_BOOTSTRAP to point elsewhere."
                ) from None
            log.warning("Kafka at %s not reachable yet; retrying in %.1fs", config.kafka.bootstrap, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def producer(config: WatchfloorConfig, **kwargs: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(**client_kwargs(config), max_request_size=2 * config.kafka.max_message_bytes,
                            **kwargs)


async def produce(config: WatchfloorConfig, topic: str, records: Iterable[tuple[bytes | None, bytes | None]]) -> int:
    """Send key/value pairs and wait until the broker has them all; returns the count."""
    client = producer(config, linger_ms=5)
    await start_with_retry(client, config)
    try:
        futures = [await client.send(topic, key=key, value=value) for key, value in records]
        await asyncio.gather(*futures)
        return len(futures)
    finally:
        await client.stop()


async def _assigned_consumer(config: WatchfloorConfig, topic: str, only: Iterable[int] | None = None
                             ) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
    consumer = AIOKafkaConsumer(**client_kwargs(config), enable_auto_commit=False, auto_offset_reset="earliest")
    await start_with_retry(consumer, config)
    wanted = set(only) if only is not None else None
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
                  if wanted is None or p in wanted]
    if not partitions:
        await consumer.stop()
        raise BrokerUnavailable(f"topic {topic!r} does not exist on {config.kafka.bootstrap}: is a worker running?")
    consumer.assign(partitions)
    return consumer, partitions


async def read_to_end(config: WatchfloorConfig, topic: str, partitions: Iterable[int] | None = None
                      ) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record currently in ``topic``, or in its ``partitions`` (for compacted topics: the
    latest per key, and more)."""
    consumer, partitions = await _assigned_consumer(config, topic, partitions)
    try:
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def latest_values(config: WatchfloorConfig, topic: str) -> list[bytes]:
    """The current value of every key of a compacted topic (keys whose latest record is a tombstone
    are left out), in first-seen key order."""
    latest: dict[bytes, bytes | None] = {}
    for record in await read_to_end(config, topic):
        if record.key is not None:
            latest[record.key] = record.value
    return [value for value in latest.values() if value is not None]


async def follow(config: WatchfloorConfig, topic: str, from_beginning: bool = True,
                 timeout: float | None = None) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Yield records as they arrive; stops after ``timeout`` seconds if given."""
    consumer, partitions = await _assigned_consumer(config, topic)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        if from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        while deadline is None or time.monotonic() < deadline:
            wait_ms = 500 if deadline is None else max(1, min(500, int((deadline - time.monotonic()) * 1000)))
            for batch in (await consumer.getmany(timeout_ms=wait_ms)).values():
                for record in batch:
                    yield record
    finally:
        await consumer.stop()
