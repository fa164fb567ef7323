"""Group-less readers that keep an in-memory view of a compacted topic for the life of a process.

Every worker (and console) needs the *whole* of some topics (the watchlist, open alerts),
whatever partitions its consumer group gave it: each reads them from the start, applies every
record, and sets ``ready`` once it reached the end offsets seen at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.config import WatchfloorConfig
from streams.kafka import client_kwargs

log = logging.getLogger(__name__)

ApplyRecord = Callable[[bytes | None, bytes | None], None]


class CompactedTopicReplica:
    """Applies every record of ``topic`` to ``apply`` (key, value); ``value is None`` is a tombstone."""

    def __init__(self, config: WatchfloorConfig, topic: str, apply: ApplyRecord,
                 on_batch: Callable[[], None] | None = None, on_ready: Callable[[float], None] | None = None
                 ) -> None:
        self.config = config
        self.topic = topic
        self.apply = apply
        self.ready = asyncio.Event()
        self._on_batch = on_batch
        self._on_ready = on_ready
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"replica-{self.topic}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        backoff = 1.0
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the broker may be restarting: retry, never crash the process
                log.warning("replica of %s lost the broker (%s: %s); retrying in %.0fs", self.topic,
                            error.__class__.__name__, error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(**client_kwargs(self.config), enable_auto_commit=False,
                                    auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1_048_576)
        await consumer.start()
        try:
            partitions = [TopicPartition(self.topic, p)
                          for p in sorted(consumer.partitions_for_topic(self.topic) or ())]
            if not partitions:
                raise RuntimeError(f"topic {self.topic} has no partitions yet")
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            started = time.monotonic()
            pending = {tp for tp, offset in end.items() if offset > 0}
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
                for records in batches.values():
                    for record in records:
                        self.apply(record.key, record.value)
                if batches and self._on_batch:
                    self._on_batch()
                # Compaction can leave the end offset past the last record: ask for the position.
                for tp in list(pending):
                    if await consumer.position(tp) >= end[tp]:
                        pending.discard(tp)
                if not pending and not self.ready.is_set():
                    if self._on_ready:
                        self._on_ready(time.monotonic() - started)
                    self.ready.set()
        finally:
            await consumer.stop()
