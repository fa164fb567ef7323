"""Each worker's in-memory replica of the compacted ``watchlist`` topic.

Why not a Faust table: every worker needs the whole watchlist (reads for any plate can arrive on
any partition), and a table write costs a changelog record; a 1,000,000-entry list would take
minutes to recover. Instead each worker reads the compacted topic from the start with a
group-less consumer into a compact index, and signals ``ready`` once it reached the end offsets
seen at start-up, so no read is matched against a half-loaded list.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from detectors.plates.normalise import normalise_plate
from detectors.plates.watchlist import WatchlistEntry as IndexEntry
from detectors.plates.watchlist import WatchlistIndex
from schemas.watchlist import WatchlistEntry
from streams import metrics
from streams.config import WatchfloorConfig
from streams.kafka import client_kwargs
from streams.topics import WATCHLIST

log = logging.getLogger(__name__)


def index_entry(entry: WatchlistEntry) -> IndexEntry:
    return IndexEntry(
        plate=normalise_plate(entry.plate),
        reason=entry.reason,
        category=entry.category,
        priority=entry.priority,
        expires_at=entry.expires_at,
        covert=entry.covert,
        source=entry.source,
        added_by=entry.added_by,
        added_at=entry.added_at,
    )


def apply_record(index: WatchlistIndex, key: bytes | None, value: bytes | None) -> None:
    """Apply one compacted-topic record: an entry, or a tombstone (null value) for a removal."""
    if key is None:
        return
    if value is None:
        index.remove(key.decode())
        return
    try:
        entry = WatchlistEntry.model_validate_json(value)
    except ValidationError as error:
        log.warning("skipping invalid watchlist record: %s", error.errors()[0]["msg"])
        return
    index.add(index_entry(entry))


class WatchlistReplica:
    """Keeps ``index`` in step with the ``watchlist`` topic for the life of the worker."""

    def __init__(self, config: WatchfloorConfig, index: WatchlistIndex,
                 on_change: Callable[[], None] | None = None) -> None:
        self.config = config
        self.index = index
        self.ready = asyncio.Event()
        self._on_change = on_change
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="watchlist-replica")

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
            except Exception as error:  # the broker may be restarting: retry, never crash the worker
                log.warning("watchlist replica lost the broker (%s); retrying in %.0fs", error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(**client_kwargs(self.config), enable_auto_commit=False,
                                    auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1_048_576)
        await consumer.start()
        try:
            partitions = [TopicPartition(WATCHLIST, p)
                          for p in sorted(consumer.partitions_for_topic(WATCHLIST) or ())]
            if not partitions:
                raise RuntimeError(f"topic {WATCHLIST} has no partitions yet")
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            started = time.monotonic()
            pending = {tp for tp, offset in end.items() if offset > 0}
            if not pending:
                self._mark_ready(started)
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
                for tp, records in batches.items():
                    for record in records:
                        apply_record(self.index, record.key, record.value)
                    if tp in pending and records[-1].offset + 1 >= end[tp]:
                        pending.discard(tp)
                if batches:
                    metrics.WATCHLIST_SIZE.set(len(self.index))
                    if self._on_change:
                        self._on_change()
                if pending:
                    # An empty fetch can also mean compaction removed the tail: ask for the position.
                    for tp in list(pending):
                        if await consumer.position(tp) >= end[tp]:
                            pending.discard(tp)
                if not pending and not self.ready.is_set():
                    self._mark_ready(started)
        finally:
            await consumer.stop()

    def _mark_ready(self, started: float) -> None:
        metrics.WATCHLIST_SIZE.set(len(self.index))
        metrics.WATCHLIST_READY.set(1)
        log.info("watchlist loaded: %d entries in %.1fs", len(self.index), time.monotonic() - started)
        self.ready.set()


def encode_entry(entry: WatchlistEntry) -> tuple[bytes, bytes]:
    """Key and value for the compacted topic: keyed by the normalised plate."""
    plate = normalise_plate(entry.plate)
    return plate.encode(), json.dumps(entry.model_dump(mode="json") | {"plate": plate}).encode()
