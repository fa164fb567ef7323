"""Small aiokafka helpers: produce, read a topic to its end or the span before an offset, follow a topic."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError

from streams.config import WatchfloorConfig
from streams.kafka import client_kwargs

log = logging.getLogger(__name__)


#: How long a read of a known range waits for its next records before giving up.
STALLED_READ_S = 30.0


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


async def _assigned_consumer(config: WatchfloorConfig, topic: str, only: Iterable[int] | None = None,
                             **kwargs: Any) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
    consumer = AIOKafkaConsumer(**client_kwargs(config), enable_auto_commit=False, auto_offset_reset="earliest",
                                **kwargs)
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


async def recent_records(config: WatchfloorConfig, topic: str, ends: dict[int, int], span_s: float,
                         floors: dict[int, int] | None = None) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """Yield, fetch by fetch, the last ``span_s`` seconds of records before ``ends[p]`` in each partition p.

    "Last seconds" by record timestamp, counted back from the record just before the end; a
    partition's records before ``floors[p]`` are left out. Used to rebuild windowed state up to a
    committed offset.
    """
    starts = await _start_offsets(config, topic, ends, span_s, floors or {})
    if not starts:
        return
    consumer, partitions = await _assigned_consumer(config, topic, [tp.partition for tp in starts],
                                                    max_partition_fetch_bytes=4 * config.kafka.max_message_bytes,
                                                    fetch_max_wait_ms=config.kafka.fetch_max_wait_ms)
    try:
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        active = set(partitions)
        last_progress = time.monotonic()
        while active:
            fetched = await consumer.getmany(*active, timeout_ms=500, max_records=500)
            if fetched:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > STALLED_READ_S:
                log.warning("%s partitions %s: no records for %.0fs; reading stops short of the end",
                            topic, sorted(tp.partition for tp in active), STALLED_READ_S)
                return
            records: list[ConsumerRecord[bytes, bytes]] = []
            for tp, batch in fetched.items():
                end = ends[tp.partition]
                records.extend(r for r in batch if r.offset < end)
                if batch[-1].offset + 1 >= end:
                    active.discard(tp)
                    consumer.pause(tp)
            if records:
                yield records
    finally:
        await consumer.stop()


async def _start_offsets(config: WatchfloorConfig, topic: str, ends: dict[int, int], span_s: float,
                         floors: dict[int, int]) -> dict[TopicPartition, int]:
    """Per partition with records before its end, the first offset within ``span_s`` of the last one."""
    # Fetches of one partition at a time, one record batch each: each probe reads one record.
    # The embedded broker holds a fetch for much of its wait even with data waiting: the short wait.
    consumer, partitions = await _assigned_consumer(config, topic, list(ends), max_partition_fetch_bytes=1,
                                                    fetch_max_wait_ms=config.kafka.fetch_max_wait_ms)
    try:
        beginnings = await consumer.beginning_offsets(partitions)
        starts = {}
        consumer.pause(*partitions)
        for tp in partitions:
            consumer.resume(tp)
            low, end = max(beginnings[tp], floors.get(tp.partition, 0)), ends[tp.partition]
            newest = await _record_at(consumer, tp, end - 1) if low < end else None
            if newest is not None and newest.offset < end:
                starts[tp] = await _first_offset_at(consumer, tp, newest.timestamp - int(span_s * 1000), low, end,
                                                    newest.timestamp)
            consumer.pause(tp)
        return starts
    finally:
        await consumer.stop()
        # Each probe leaves a fetch response in a reference cycle inside aiokafka (an unfinished
        # record iterator); the embedded broker answers with all of a partition's data whatever
        # the fetch limit, so 40 probes held ~180 MB until the collector came round (measured).
        gc.collect()


async def _record_at(consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int
                     ) -> ConsumerRecord[bytes, bytes] | None:
    """The first record at or after ``offset`` (None if there is none within a few seconds)."""
    consumer.seek(tp, offset)
    for _ in range(10):
        batch = (await consumer.getmany(tp, timeout_ms=500, max_records=1)).get(tp)
        if batch:
            return batch[0]
    return None


async def _first_offset_at(consumer: AIOKafkaConsumer, tp: TopicPartition, timestamp_ms: int, low: int, high: int,
                           high_timestamp_ms: int) -> int:
    """The first offset in ``[low, high)`` whose record is stamped ``timestamp_ms`` or later (``high`` if none).

    A search over records, not ``offsets_for_times``: the embedded broker answers that with the
    partition's first offset whatever the time. ``high_timestamp_ms``: the stamp of the record
    just before ``high``.
    """
    async def probe(offset: int) -> tuple[int, int] | None:
        record = await _record_at(consumer, tp, offset)
        return None if record is None else (record.offset, record.timestamp)

    return await search_first_offset_at(probe, timestamp_ms, low, high, high_timestamp_ms)


OffsetProbe = Callable[[int], Awaitable[tuple[int, int] | None]]
"""The ``(offset, timestamp_ms)`` of the first record at or after an offset; None if none came."""


async def search_first_offset_at(probe: OffsetProbe, timestamp_ms: int, low: int, high: int,
                                 high_timestamp_ms: int | None = None) -> int:
    """The first offset in ``[low, high)`` whose record is stamped ``timestamp_ms`` or later (``high`` if none).

    ``high_timestamp_ms``: the stamp of the record just before ``high``, if known. Producer timestamps
    are nearly in order; a little disorder moves the answer by a few records.

    An interpolation search: reads come at a fairly steady rate, so the offset where the stamps reach
    ``timestamp_ms`` is close to where a straight line through two known records puts it (between
    one before and one after, or back from two after while none before is known). That takes a few
    probes where a bisection takes ~log2 of the records (~23 for a day of single-read messages on a
    partition), and each probe is a fetch: on the embedded broker one that returns everything after
    the offset. A guess that does not halve the range is followed by a bisection, so bursts cost at
    most about twice a bisection's probes.

    >>> stamps = [1000 * i for i in range(100)]
    >>> async def probe(offset): return (offset, stamps[offset]) if offset < len(stamps) else None
    >>> asyncio.run(search_first_offset_at(probe, 41_500, 0, 100, stamps[-1]))
    42
    """
    before: tuple[int, int] | None = None  # (offset, stamp) of the latest record probed below the time
    after = None if high_timestamp_ms is None else (high - 1, high_timestamp_ms)  # the earliest at or above it
    later: tuple[int, int] | None = None  # the one found at or above it before ``after``
    bisect_next = False  # after a guess that did not halve the range
    while low < high:
        width = high - low
        guess = None
        if not bisect_next and after is not None:
            if before is not None and after[1] > before[1]:
                guess = before[0] + (timestamp_ms - before[1]) * (after[0] - before[0]) / (after[1] - before[1])
            elif before is None and later is not None and later[1] > after[1]:
                guess = after[0] - (after[1] - timestamp_ms) * (later[0] - after[0]) / (later[1] - after[1])
        middle = (low + high) // 2 if guess is None else min(high - 1, max(low, int(guess)))
        found = await probe(middle)
        if found is None:
            return low  # the broker did not answer: start early rather than miss state
        if found[0] >= high or found[1] >= timestamp_ms:
            high, later, after = middle, after, found
        else:
            low, before = found[0] + 1, found
        bisect_next = guess is not None and high - low > width // 2
    return low


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
