"""The ANPR hot path: plate reads from ``anpr.reads`` on a plain aiokafka consumer group.

Why not a Faust agent like the others: Faust's per-event machinery tops out near 4,000 messages/s
on one core here (measured, see DESIGN.md and bench/anpr.py), and the ANPR feed must carry 10,000
single-read messages/s. aiokafka's ``getmany`` hands over whole fetches, so the pipeline runs once
per fetch and the per-message cost is only the decode.

Delivery is at-least-once, as for the agents: offsets are committed only after every candidate and
dead letter of a fetch is acknowledged by the broker. A redelivered read yields the same alert id.

The group (``<app id>-anpr``) is separate from Faust's, so workers split ``anpr.reads`` partitions
among themselves by the usual Kafka protocol; each worker's rule state covers the partitions it owns.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from schemas.anpr import PlateReadDict
from streams import metrics
from streams.anpr_pipeline import AnprOutput, AnprPipeline
from streams.codecs import Rejected, decode_plate_reads, encode
from streams.kafka import client_kwargs
from streams.runtime import Runtime, dead_letter_record
from streams.topics import ALERT_CANDIDATES, ANPR_READS, APP_ID, DEADLETTER

log = logging.getLogger(__name__)

GROUP_ID = f"{APP_ID}-anpr"
#: Most messages handed over per fetch: bounds a fetch's latency and memory.
MAX_RECORDS_PER_FETCH = 2000
#: Producer linger: small, as candidates are rare and read-to-alert latency matters.
LINGER_MS = 2


class AnprReadsConsumer:
    """Consumes ``anpr.reads`` for one worker: decode, run the pipeline, send, commit."""

    def __init__(self, runtime: Runtime, pipeline: AnprPipeline) -> None:
        self.runtime = runtime
        self.pipeline = pipeline
        self.config = runtime.config
        self.joined = asyncio.Event()
        """Set once the group gave this consumer its (possibly empty) share of partitions."""
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    def assignment(self) -> set[TopicPartition]:
        return set(self._consumer.assignment()) if self._consumer is not None else set()

    async def lag(self) -> dict[TopicPartition, int]:
        """End offset minus position for each assigned partition (end offsets from the last fetch)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        lags = {}
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lags[tp] = max(0, highwater - await consumer.position(tp))
        return lags

    async def run(self) -> None:
        """Consume until cancelled; a lost broker is retried with backoff, never a crash."""
        await self.runtime.watchlist.ready.wait()  # never match against a half-loaded list
        backoff = 1.0
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("ANPR consumer lost the broker (%s: %s); retrying in %.0fs",
                            type(error).__name__, error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _consume(self) -> None:
        kafka = self.config.kafka
        rebalance_ms = int(kafka.rebalance_timeout_s * 1000)
        consumer = AIOKafkaConsumer(
            ANPR_READS, **client_kwargs(self.config), group_id=GROUP_ID, enable_auto_commit=False,
            auto_offset_reset="earliest", max_partition_fetch_bytes=4 * kafka.max_message_bytes,
            fetch_max_bytes=16 * kafka.max_message_bytes, rebalance_timeout_ms=rebalance_ms,
            session_timeout_ms=max(10_000, 2 * rebalance_ms), heartbeat_interval_ms=1000,
            fetch_max_wait_ms=kafka.fetch_max_wait_ms)
        producer = AIOKafkaProducer(**client_kwargs(self.config), linger_ms=LINGER_MS,
                                    max_request_size=2 * kafka.max_message_bytes + 65_536)
        await producer.start()
        try:
            await consumer.start()
            self._consumer, self._producer = consumer, producer
            try:
                while True:
                    fetched = await consumer.getmany(timeout_ms=500, max_records=MAX_RECORDS_PER_FETCH)
                    self.joined.set()
                    if not fetched:
                        continue
                    await self.handle([record for records in fetched.values() for record in records])
                    await consumer.commit({tp: records[-1].offset + 1 for tp, records in fetched.items()})
            finally:
                self._consumer = None
                await consumer.stop()  # leaves the group at once: the others need not wait for a timeout
        finally:
            self._producer = None
            await producer.stop()

    async def handle(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """One fetch: every message decoded, one pipeline pass, everything sent and acknowledged."""
        max_bytes = self.config.kafka.max_message_bytes
        reads: list[PlateReadDict] = []
        sources: list[tuple[ConsumerRecord[bytes, bytes], int]] = []  # each decoded message, its read count
        pending: list[asyncio.Future[Any]] = []
        rejected_messages = 0
        for record in records:
            try:
                decoded, rejected_parts = decode_plate_reads(record.value, max_bytes)
            except Rejected as rejected:
                rejected_messages += 1
                pending.append(await self._dead_letter(rejected, record))
                continue
            for _, rejected_part in rejected_parts:
                pending.append(await self._dead_letter(rejected_part, record, part=True))
            reads.extend(decoded)
            sources.append((record, len(decoded)))
        started = time.perf_counter()
        try:
            outputs = [(self.pipeline.process(reads), reads, sources)]
        except Exception as error:  # a bug in us: find the message at fault, keep the rest flowing
            log.error("internal %s on a fetch of %d messages; retrying them one by one",
                      type(error).__name__, len(sources))
            outputs, position = [], 0
            for record, count in sources:
                own = reads[position:position + count]
                position += count
                try:
                    outputs.append((self.pipeline.process(own), own, [(record, count)]))
                except Exception as inner:  # its text may quote a plate: not logged
                    rejected_messages += 1
                    pending.append(await self._dead_letter(Rejected(
                        "unprocessable", f"internal error ({type(inner).__name__}); see the worker log"), record))
        metrics.DETECTOR_SECONDS.labels("plates").observe(time.perf_counter() - started)
        usable = 0
        for output, its_reads, its_sources in outputs:
            usable += len(its_reads) - len(output.unusable)
            if output.unusable:
                pending.extend(await self._dead_letter_unusable(output, its_reads, its_sources))
            pending.extend(await self._send_candidates(output))
        await asyncio.gather(*pending)
        metrics.EVENTS_PROCESSED.labels("plate_read").inc(usable)
        metrics.MESSAGES_CONSUMED.labels(ANPR_READS, "ok").inc(len(records) - rejected_messages)
        if rejected_messages:
            metrics.MESSAGES_CONSUMED.labels(ANPR_READS, "deadletter").inc(rejected_messages)

    async def _send_candidates(self, output: AnprOutput) -> list[asyncio.Future[Any]]:
        assert self._producer is not None
        send = self._producer.send
        futures = [await send(ALERT_CANDIDATES, key=c.dedupe_key.encode(), value=encode(c))
                   for c in output.candidates]
        if futures:
            metrics.MESSAGES_PRODUCED.labels(ALERT_CANDIDATES).inc(len(futures))
        return futures

    async def _dead_letter_unusable(self, output: AnprOutput, reads: list[PlateReadDict],
                                    sources: list[tuple[ConsumerRecord[bytes, bytes], int]]
                                    ) -> list[asyncio.Future[Any]]:
        """Reads that validated but cannot be used, each dead-lettered with its own message."""
        origin: dict[int, ConsumerRecord[bytes, bytes]] = {}  # id(read) -> its message; rare, so built lazily
        position = 0
        for record, count in sources:
            for read in reads[position:position + count]:
                origin[id(read)] = record
            position += count
        return [await self._dead_letter(Rejected("schema_violation", f"read {read['read_id']}: {reason}"),
                                        origin[id(read)], part=True)
                for read, reason in output.unusable]

    async def _dead_letter(self, rejected: Rejected, record: ConsumerRecord[bytes, bytes], *, part: bool = False
                           ) -> asyncio.Future[Any]:
        assert self._producer is not None
        key, value = dead_letter_record(rejected, record, part=part)
        return await self._producer.send(DEADLETTER, key=key, value=value)
