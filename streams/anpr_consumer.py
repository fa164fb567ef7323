"""The ANPR hot path: plate reads from ``anpr.reads`` on a plain aiokafka consumer group.

Faust would cap single-read messages near 4,000/s (see ``streams.group_consumer``); here the
pipeline runs once per fetch. The group (``<app id>-anpr``) is separate from Faust's, so workers
split ``anpr.reads`` partitions among themselves by the usual Kafka protocol; each worker's rule
state covers the partitions it owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Iterator, Sequence
from typing import Any

from aiokafka import TopicPartition

from schemas.anpr import MAX_BATCH_READS, PlateReadRecord
from streams import metrics
from streams.anpr_pipeline import AnprOutput, AnprPipeline, plate_partition
from streams.clients import recent_records
from streams.codecs import JSON_ENCODER, Rejected, encode_candidate
from streams.group_consumer import GroupConsumer, Record
from streams.plate_reads import PlateReads
from streams.runtime import Runtime
from streams.topics import ALERT_CANDIDATES, ANPR_READS, ANPR_SIGHTINGS, APP_ID

log = logging.getLogger(__name__)

#: Reads per pipeline pass (whole messages, so a pass may hold a little more).
PASS_READS = 2000
#: How often a long state rebuild logs its progress.
REBUILD_REPORT_EVERY_S = 5.0
#: Marks ``anpr.sightings`` messages of partner reads (``kafka.route_convoy_by_pair``): for the
#: convoy rule only, not reads of the partition's own plates.
PARTNERS_HEADER = ("watchfloor-partners", b"1")


def is_partners(record: Record) -> bool:
    return PARTNERS_HEADER in (record.headers or ())


class AnprReadsConsumer(GroupConsumer):
    """Consumes ``anpr.reads`` for one worker: decode, run the pipeline, send; the base commits.

    With ``forward`` (``kafka.route_journeys_by_plate``) every usable read also goes on to
    ``anpr.sightings``, batched per partition of its plate, for :class:`AnprJourneysConsumer`.
    """

    topics = (ANPR_READS,)
    group_id = f"{APP_ID}-anpr"
    #: ``watchfloor_events_processed_total`` kind: each read is counted once, by its first stage.
    events_kind = "plate_read"
    #: Whether messages marked with ``PARTNERS_HEADER`` are partner reads: only on ``anpr.sightings``,
    #: which watchfloor alone writes (on ``anpr.reads`` a sender could otherwise skip the watchlist).
    takes_partners = False

    def __init__(self, runtime: Runtime, pipeline: AnprPipeline, forward: bool = False) -> None:
        super().__init__(runtime.config)
        self.runtime = runtime
        self.pipeline = pipeline
        self.forward = forward
        self._candidates: list[tuple[bytes | None, bytes | None]] = []  # a fetch's, sent at its end
        # Read at scrape time: the count changes with every read, a gauge set per pass would too.
        metrics.ANPR_HELD_READS.labels(self.events_kind).set_function(lambda: pipeline.held_reads)

    async def ready_to_consume(self) -> None:
        await self.runtime.watchlist.ready.wait()  # never match against a half-loaded list

    def reset(self) -> None:
        """Before a rejoin after a failure: forget rule state, to be rebuilt up to the commit.

        Findings of reads handled but never committed (their sends failed, or the broker went)
        would otherwise be lost: redelivered, those reads are duplicates to the rules, which stay
        silent. Rebuilt up to the commit, the rules see them again and fire again.
        """
        if self.handled and self.config.kafka.rebuild_anpr_state:
            self.pipeline.forget_state()
            self.handled.clear()

    async def rebuild_state(self, partitions: set[TopicPartition]) -> None:
        """Replay the rule horizon behind the committed offset of partitions new to this worker.

        Without it the cloned, circling and convoy windows would start empty after every restart
        or rebalance: a clone read either side of a deploy would be missed. Reads are replayed
        from the last owner's commit back (by record time) over the rules' horizon, or from where
        this worker's own state of the partition ends, whichever is later.
        """
        if not self.config.kafka.rebuild_anpr_state or self.pipeline.horizon_s <= 0:
            return
        await self._sync_partitions()
        (topic,) = self.topics
        ends = {}
        for tp in partitions:
            committed = await self.committed(tp)
            if committed is not None and committed > self.handled.get(tp, 0):
                ends[tp.partition] = committed
        if ends:
            await self._rebuild_from(topic, ends)
            self.handled.update({TopicPartition(topic, partition): end for partition, end in ends.items()})

    async def _sync_partitions(self) -> None:
        """With pairs routed (``kafka.route_convoy_by_pair``): tell the pipeline how plates map to
        ``anpr.sightings`` partitions and, at the plate-keyed stage, which of them this worker owns
        (it judges the pairs of those plates only)."""
        pipeline = self.pipeline
        if pipeline.pairing is not None or pipeline.convoy is not None:
            pipeline.plate_partitions = await self.partitions_of(ANPR_SIGHTINGS)
        if pipeline.convoy is not None:
            pipeline.owned_plate_partitions = {tp.partition for tp in self.assignment()}

    async def _rebuild_from(self, topic: str, ends: dict[int, int]) -> None:
        max_bytes = self.config.kafka.max_message_bytes
        floors = {tp.partition: offset for tp, offset in self.handled.items()}
        started = time.monotonic()
        next_report = started + REBUILD_REPORT_EVERY_S
        count = 0
        log.info("rebuilding ANPR rule state from %s partitions %s (up to %.0f s of reads before the last commit)",
                 topic, sorted(ends), self.pipeline.horizon_s)
        async for records in recent_records(self.config, topic, ends, self.pipeline.horizon_s, floors):
            for partners in (False, True) if self.takes_partners else (False,):
                reads = PlateReads(self.pipeline.cameras)
                for record in records:
                    if (self.takes_partners and is_partners(record)) != partners:
                        continue
                    with contextlib.suppress(Rejected):  # dead-lettered when it was first handled
                        reads.add_message(record.value, max_bytes)
                    if len(reads) >= PASS_READS:
                        count, reads = count + self._rebuild_pass(reads, partners), PlateReads(self.pipeline.cameras)
                count += self._rebuild_pass(reads, partners)
            if time.monotonic() >= next_report:
                next_report += REBUILD_REPORT_EVERY_S
                log.info("rebuilding ANPR rule state from %s: %d reads so far", topic, count)
            await asyncio.sleep(0)  # let heartbeats and the other consumers through between fetches
        seconds = time.monotonic() - started
        metrics.STATE_REBUILD_READS.labels(self.events_kind).inc(count)
        metrics.STATE_REBUILD_SECONDS.labels(self.events_kind).inc(seconds)
        log.info("ANPR rule state of %s partitions %s rebuilt from %d reads in %.1fs", topic, sorted(ends), count,
                 seconds)

    def _rebuild_pass(self, reads: Sequence[PlateReadRecord], partners: bool = False) -> int:
        """Replay one pass of reads; returns how many went in (none if the pipeline failed on them)."""
        try:
            if partners:
                self.pipeline.rebuild_partners(reads)
            else:
                self.pipeline.rebuild(reads)
        except Exception as error:  # a bug in us: a gap in the rebuilt state, not a worker stuck retrying
            log.error("internal %s while rebuilding ANPR rule state; %d reads left out", type(error).__name__,
                      len(reads))
            return 0
        return len(reads)

    async def handle(self, records: Sequence[Record]) -> list[Awaitable[Any]]:
        """One fetch, decoded and run through the pipeline in passes; returns the sends to await before the commit.

        Passes of about ``PASS_READS`` reads (whole messages): a fetch can hold 30,000 reads, and
        in smaller passes what a pass makes is still in the CPU cache at its next step.
        """
        await self._sync_partitions()
        self._candidates = []
        if not self.takes_partners:
            pending = await self._handle(records, partners=False)
        else:
            own = [record for record in records if not is_partners(record)]
            pending = await self._handle(own, partners=False)
            if len(own) < len(records):
                pending += await self._handle([record for record in records if is_partners(record)], partners=True)
        return pending + await self._send_candidates()

    async def _handle(self, records: Sequence[Record], partners: bool) -> list[Awaitable[Any]]:
        if not records:
            return []
        max_bytes = self.config.kafka.max_message_bytes
        pending: list[Awaitable[Any]] = []
        reads = PlateReads(self.pipeline.cameras)
        sources: list[tuple[Record, int]] = []  # each decoded message of the pass, its read count
        rejected = usable = 0
        for position, record in enumerate(records, 1):
            try:
                decoded, rejected_parts = reads.add_message(record.value, max_bytes)
            except Rejected as whole:
                rejected += 1
                pending.append(await self.dead_letter(whole, record))
                decoded, rejected_parts = 0, []
            for _, rejected_part in rejected_parts:
                pending.append(await self.dead_letter(rejected_part, record, part=True))
            if decoded:
                sources.append((record, decoded))
            if sources and (len(reads) >= PASS_READS or position == len(records)):
                its_usable, its_rejected = await self._pass(reads, sources, pending, partners)
                usable, rejected = usable + its_usable, rejected + its_rejected
                reads, sources = PlateReads(self.pipeline.cameras), []
        if not partners:  # a partner read was counted as the read it is, at its own partition
            metrics.EVENTS_PROCESSED.labels(self.events_kind).inc(usable)
        metrics.MESSAGES_CONSUMED.labels(ANPR_READS, "ok").inc(len(records) - rejected)
        if rejected:
            metrics.MESSAGES_CONSUMED.labels(ANPR_READS, "deadletter").inc(rejected)
        return pending

    async def _pass(self, reads: Sequence[PlateReadRecord], sources: list[tuple[Record, int]],
                    pending: list[Awaitable[Any]], partners: bool = False) -> tuple[int, int]:
        """One pipeline pass over some messages' reads; its sends go to ``pending``.

        Returns (usable reads, messages dead-lettered).
        """
        started = time.perf_counter()
        rejected = 0
        process = self.pipeline.process_partners if partners else self.pipeline.process
        try:
            outputs = [(process(reads), reads, sources)]
        except Exception as error:  # a bug in us: find the message at fault, keep the rest flowing
            log.error("internal %s on %d messages; retrying them one by one", type(error).__name__, len(sources))
            outputs, position = [], 0
            for record, count in sources:
                own = reads[position:position + count]
                position += count
                try:
                    outputs.append((process(own), own, [(record, count)]))
                except Exception as inner:  # its text may quote a plate: not logged
                    rejected += 1
                    pending.append(await self.dead_letter(Rejected(
                        "unprocessable", f"internal error ({type(inner).__name__}); see the worker log"), record))
        metrics.DETECTOR_SECONDS.labels("plates").observe(time.perf_counter() - started)
        usable = 0
        for output, its_reads, its_sources in outputs:
            usable += len(its_reads) - len(output.unusable)
            if output.unusable:
                pending.extend(await self._dead_letter_unusable(output, its_reads, its_sources))
            self._candidates += [(c.dedupe_key.encode(), encode_candidate(c)) for c in output.candidates]
            if self.forward:
                pending.extend(await self._forward(output))
        return usable, rejected

    async def _send_candidates(self) -> list[Awaitable[Any]]:
        """The fetch's candidates, keyed by dedupe key, as whole record batches (``GroupConsumer.send_many``).

        Once a fetch, not once a pass: the passes of a fetch run without yielding to the producer's
        sender, so a pass's new batches would find the last pass's still held, and wait for them
        (``send_many`` then falls back to a send per record). A backlog's early candidates wait for
        the rest of their fetch (tens of ms); a live flow's fetches are a pass each.
        """
        candidates, self._candidates = self._candidates, []
        if not candidates:
            return []
        futures = await self.send_many(ALERT_CANDIDATES, candidates)
        metrics.MESSAGES_PRODUCED.labels(ALERT_CANDIDATES).inc(len(candidates))
        return futures

    async def _forward(self, output: AnprOutput) -> list[Awaitable[Any]]:
        """Usable reads on to ``anpr.sightings``: one batch message per partition of their plates.

        With pairs (``kafka.route_convoy_by_pair``), the partner reads (``output.partners``) go in
        messages marked as partners.
        """
        partitions = await self.partitions_of(ANPR_SIGHTINGS)
        usable = output.usable
        # A read that came in a batch goes on as the bytes it came as: no record made, none encoded.
        as_json = usable.read_json if isinstance(usable, PlateReads) else lambda i: JSON_ENCODER.encode(usable[i])
        by_partition: dict[int, list[bytes]] = {}
        for index, plate in enumerate(output.plates):
            by_partition.setdefault(plate_partition(plate, partitions), []).append(as_json(index))
        limit = self.config.kafka.max_message_bytes
        sends = [await self.send(ANPR_SIGHTINGS, None, batch, partition)
                 for partition, reads in by_partition.items() for batch in _batches(reads, limit)]
        sends += [await self.send(ANPR_SIGHTINGS, None, batch, partition, headers=[PARTNERS_HEADER])
                  for partition, partners in output.partners.items()
                  for batch in _batches([JSON_ENCODER.encode(read) for read in partners], limit)]
        return sends

    async def _dead_letter_unusable(self, output: AnprOutput, reads: Sequence[PlateReadRecord],
                                    sources: list[tuple[Record, int]]
                                    ) -> list[Awaitable[Any]]:
        """Reads that validated but cannot be used, each dead-lettered with its own message."""
        origin: dict[int, Record] = {}  # id(read) -> its message; rare, so built lazily
        position = 0
        for record, count in sources:
            for read in reads[position:position + count]:
                origin[id(read)] = record
            position += count
        return [await self.dead_letter(Rejected("schema_violation", f"read {read.read_id}: {reason}"),
                                        origin[id(read)], part=True)
                for read, reason in output.unusable]


def _batches(reads: list[bytes], limit: int) -> Iterator[bytes]:
    """``{"reads": [...]}`` messages of reads (each a JSON object) within the batch schema's size
    and the message size limit."""
    for start in range(0, len(reads), MAX_BATCH_READS):
        chunk = reads[start:start + MAX_BATCH_READS]
        encoded = b'{"reads":[' + b",".join(chunk) + b"]}"
        if len(encoded) <= limit or len(chunk) == 1:  # one read fitted its own message: it fits here
            yield encoded
        else:
            half = len(chunk) // 2
            yield from _batches(chunk[:half], limit)
            yield from _batches(chunk[half:], limit)


class AnprJourneysConsumer(AnprReadsConsumer):
    """The plate-keyed stage: cloned plate and circling over ``anpr.sightings``.

    Every read of a plate lands on one partition here whichever worker consumed it from
    ``anpr.reads``, so the journey rules are complete with any number of workers.
    """

    topics = (ANPR_SIGHTINGS,)
    group_id = f"{APP_ID}-anpr-journeys"
    events_kind = "plate_sighting"
    takes_partners = True

