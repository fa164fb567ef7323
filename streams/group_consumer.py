"""Hot paths on a plain aiokafka consumer group: fetch, handle the whole fetch, commit.

Why not Faust agents for these: Faust's per-event machinery tops out near 4,000 events/s on one
core here, and a Faust table write costs a changelog record per update (DESIGN.md, measured
again in bench/anpr.py). aiokafka's ``getmany`` hands over whole fetches, so the per-message cost
is little more than the decode, and state can be written once per key per fetch.

Delivery is at-least-once, as for the agents: offsets are committed only after everything a
fetch produced is acknowledged by the broker. Outputs are idempotent (alert ids), so a fetch
handled twice after a crash or rebalance changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, ClassVar, TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.partitioner import murmur2

from streams.codecs import Rejected
from streams.config import WatchfloorConfig
from streams.kafka import client_kwargs
from streams.runtime import dead_letter_record
from streams.topics import DEADLETTER

log = logging.getLogger(__name__)

#: How long a stopping member waits for its last fetch to be acknowledged and committed.
SETTLE_ON_STOP_S = 5.0
#: Keys whose partition :meth:`GroupConsumer.send_many` remembers, per topic, before it starts over.
PARTITION_MEMO_KEYS = 100_000
#: Bytes of a record batch that are not key or value: the batch header (61), a record's framing
#: (at most 36) and some slack. A record with more than a batch less this goes on its own.
BATCH_OVERHEAD = 128
#: Turns of the event loop between a fetch and its handling: what aiokafka's fetcher, woken by the
#: partitions ``getmany`` drained, takes to put the next fetch request on the wire (3, measured).
PREFETCH_TURNS = 4

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


class GroupConsumer:
    """Subclasses name their ``topics`` and ``group_id`` and implement :meth:`handle`.

    ``handle`` returns the send futures of a fetch; they are all awaited before the commit.
    """

    topics: ClassVar[tuple[str, ...]]
    group_id: ClassVar[str]
    #: Most messages handed over per fetch: bounds a fetch's latency and memory.
    max_records: ClassVar[int] = 2000
    #: Producer linger: small, as outputs are rare and read-to-alert latency matters.
    linger_ms: ClassVar[int] = 2
    #: Assignment strategy; alerting needs the range assignor to co-partition its two inputs.
    assignors: ClassVar[tuple[Any, ...] | None] = None
    #: Producer record batch size (aiokafka's default): what :meth:`send_many` fills per batch.
    max_batch_size: ClassVar[int] = 16_384

    def __init__(self, config: WatchfloorConfig) -> None:
        self.config = config
        self.joined = asyncio.Event()
        """Set once the group gave this member its (possibly empty) share of partitions and its state is rebuilt."""
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._settling: asyncio.Future[None] | None = None
        self._settle_failed: BaseException | None = None  # seen in a rebalance callback; restarts us
        self.handled: dict[TopicPartition, int] = {}
        """Per partition, the offset after the last record whose effects are in this member's state
        (handled or rebuilt). Kept across rebalances, as the state is."""
        self._to_rebuild: set[TopicPartition] = set()  # assigned, state not yet rebuilt
        # Per topic: its partition count, its partitions in order, and key -> partition as the
        # producer's default partitioner puts them (keys repeat: a dedupe key per rule and subject).
        self._partition_memo: dict[str, tuple[int, list[int], dict[bytes, int]]] = {}
        self._batch_room = self.max_batch_size - BATCH_OVERHEAD  # key and value bytes that share a batch

    async def handle(self, records: Sequence[Record]) -> list[Awaitable[Any]]:
        raise NotImplementedError

    def reset(self) -> None:
        """Called before (re)joining the group: drop state that outran the last commit."""

    async def on_revoked(self, partitions: set[TopicPartition]) -> None:
        """Called when partitions are taken away (their state may be dropped)."""

    async def rebuild_state(self, partitions: set[TopicPartition]) -> None:
        """Load or rebuild the state of newly assigned partitions, before their first fetch is handled.

        Called from the fetch loop, not from the rebalance callback: aiokafka sends no heartbeats
        during the callback, so a long load there would cost the member its place in the group.
        """

    async def maintain(self) -> list[Awaitable[Any]]:
        """Called on every pass of the fetch loop, busy or idle: periodic upkeep of this member's
        state (e.g. expiry). Returns its sends, which settle with the fetch like the others."""
        return []

    async def ready_to_consume(self) -> None:
        """Awaited once before joining the group (e.g. until the watchlist is loaded)."""

    async def send(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None,
                   headers: list[tuple[str, bytes]] | None = None) -> Awaitable[Any]:
        assert self._producer is not None, "send() outside a running consumer"
        return await self._producer.send(topic, key=key, value=value, partition=partition, headers=headers)

    async def send_many(self, topic: str, records: Sequence[tuple[bytes | None, bytes | None]],
                        partition: int | None = None, headers: list[tuple[str, bytes]] | None = None
                        ) -> list[Awaitable[Any]]:
        """Send ``(key, value)`` records as whole record batches: what :meth:`send` does for each,
        without its per-record costs (a future, a metadata wait, the partitioner, an accumulator append).

        Records land where :meth:`send` would put them: on ``partition`` if given, else by key as
        the producer's default partitioner does (murmur2 of the key, remembered per key); keyless
        records all go to one partition picked at random, as the partitioner picks for each. A
        partition's records keep their order, and so do its batches. A record too big to share a
        batch goes alone through :meth:`send`, which refuses one over ``max_request_size`` as ever.

        A partition whose last batch the producer still holds (lingering, or waiting for a request
        in flight) gets its records through :meth:`send`, into that batch: a new batch would have
        to wait until the sender took the old one, a broker round trip that stalled every pass.

        Returns the futures of the batches (and of the records sent alone), to await before the commit.
        """
        producer = self._producer
        assert producer is not None, "send_many() outside a running consumer"
        if not records:
            return []
        if partition is not None:
            groups: Mapping[int, Sequence[tuple[bytes | None, bytes | None]]] = {partition: records}
        else:
            groups = self._by_partition(topic, await producer.partitions_for(topic), records, producer)
        room = self._batch_room - sum(len(name) + len(value) + 10 for name, value in headers or ())
        header_list = list(headers or ())
        futures: list[Awaitable[Any]] = []
        held = getattr(getattr(producer, "_message_accumulator", None), "_batches", None)  # aiokafka internals
        for part, group in groups.items():
            if held and held.get(TopicPartition(topic, part)):  # a batch not yet taken by the sender
                futures += [await producer.send(topic, key=key, value=value, partition=part, headers=header_list)
                            for key, value in group]
                continue
            batch = None
            for key, value in group:
                if (key is None and value is None) or len(key or b"") + len(value or b"") > room:
                    if batch is not None:  # what came before it goes first
                        futures.append(await producer.send_batch(batch, topic, partition=part))
                        batch = None
                    futures.append(await producer.send(topic, key=key, value=value, partition=part,
                                                       headers=header_list))
                    continue
                if batch is None:
                    batch = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None, headers=header_list) is None:  # full
                    futures.append(await producer.send_batch(batch, topic, partition=part))
                    batch = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None, headers=header_list)  # a fresh one takes it
            if batch is not None:
                futures.append(await producer.send_batch(batch, topic, partition=part))
        return futures

    def _by_partition(self, topic: str, known: set[int], records: Sequence[tuple[bytes | None, bytes | None]],
                      producer: AIOKafkaProducer) -> dict[int, list[tuple[bytes | None, bytes | None]]]:
        """``records`` by the partition aiokafka's ``DefaultPartitioner`` gives their keys, in order."""
        memo = self._partition_memo.get(topic)
        if memo is None or memo[0] != len(known):  # new topic, or its partitions changed
            memo = self._partition_memo[topic] = (len(known), sorted(known), {})
        count, ordered, of_key = memo
        groups: dict[int, list[tuple[bytes | None, bytes | None]]] = {}
        keyless: int | None = None
        for record in records:
            key = record[0]
            if key is None:
                if keyless is None:
                    available = producer.client.cluster.available_partitions_for_topic(topic)
                    keyless = random.choice(list(available) or ordered)
                part = keyless
            else:
                found = of_key.get(key)
                if found is None:
                    if len(of_key) >= PARTITION_MEMO_KEYS:
                        of_key.clear()
                    found = of_key[key] = ordered[(murmur2(key) & 0x7FFFFFFF) % count]
                part = found
            group = groups.get(part)
            if group is None:
                groups[part] = [record]
            else:
                group.append(record)
        return groups

    async def dead_letter(self, rejected: Rejected, record: Record, *, part: bool = False) -> Awaitable[Any]:
        """Send ``record``'s bytes and the reason to ``deadletter`` (counted and logged)."""
        key, value = dead_letter_record(rejected, record, part=part)
        return await self.send(DEADLETTER, key, value)

    async def committed(self, tp: TopicPartition) -> int | None:
        """The group's committed offset of ``tp`` (None if it never committed one)."""
        assert self._consumer is not None, "committed() outside a running consumer"
        offset: int | None = await self._consumer.committed(tp)
        return offset

    async def partitions_of(self, topic: str) -> int:
        """How many partitions ``topic`` has (from the producer's metadata)."""
        assert self._producer is not None, "partitions_of() outside a running consumer"
        return len(await self._producer.partitions_for(topic))

    def assignment(self) -> set[TopicPartition]:
        return set(self._consumer.assignment()) if self._consumer is not None else set()

    async def lag(self) -> dict[TopicPartition, int]:
        """End offset minus position per assigned partition (end offsets as of the last fetch)."""
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
        await self.ready_to_consume()
        backoff = 1.0
        while True:
            started = asyncio.get_running_loop().time()
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if asyncio.get_running_loop().time() - started > 60:
                    backoff = 1.0  # it had been working: a new outage starts the backoff again
                log.warning("%s lost the broker or its group (%s: %s); retrying in %.0fs", self.group_id,
                            type(error).__name__, error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    @staticmethod
    async def _settle(consumer: AIOKafkaConsumer, pending: list[Awaitable[Any]],
                      offsets: dict[TopicPartition, int]) -> None:
        await asyncio.gather(*pending)
        await consumer.commit(offsets)

    async def _settled(self) -> None:
        """Wait for the fetch in flight to be acknowledged and committed; its failure raises here."""
        settling, self._settling = self._settling, None
        if settling is not None:
            await settling

    async def _consume(self) -> None:
        self.reset()
        self._settle_failed = None
        kafka = self.config.kafka
        rebalance_ms = int(kafka.rebalance_timeout_s * 1000)
        extra = {"partition_assignment_strategy": self.assignors} if self.assignors else {}
        consumer = AIOKafkaConsumer(
            **client_kwargs(self.config), group_id=self.group_id, enable_auto_commit=False,
            auto_offset_reset="earliest", max_partition_fetch_bytes=kafka.fetch_max_bytes // 4,
            fetch_max_bytes=kafka.fetch_max_bytes, rebalance_timeout_ms=rebalance_ms,
            session_timeout_ms=max(10_000, 2 * rebalance_ms), heartbeat_interval_ms=1000,
            fetch_max_wait_ms=kafka.fetch_max_wait_ms, **extra)
        max_request_size = 2 * kafka.max_message_bytes + 65_536
        producer = AIOKafkaProducer(**client_kwargs(self.config), linger_ms=self.linger_ms,
                                    max_batch_size=self.max_batch_size, max_request_size=max_request_size)
        self._batch_room = min(self.max_batch_size, max_request_size) - BATCH_OVERHEAD
        await producer.start()
        self._producer = producer
        try:
            await consumer.start()
            consumer.subscribe(list(self.topics), listener=_Listener(self))
            self._consumer = consumer
            try:
                while True:
                    fetched = await consumer.getmany(timeout_ms=500, max_records=self.max_records)
                    if self._settle_failed is not None:  # outputs lost in a rebalance: start over from the commit
                        raise self._settle_failed
                    if self._to_rebuild:
                        partitions, self._to_rebuild = self._to_rebuild, set()
                        await self.rebuild_state(partitions)
                    self.joined.set()
                    pending = await self.maintain()
                    if not fetched:
                        await self._settled()
                        if pending:  # nothing to commit: just see the upkeep's sends land
                            await asyncio.gather(*pending)
                        continue
                    # Handling runs a whole fetch without a pause. Without these turns the next fetch
                    # request would wait for it, and the worker then for the broker's round trip: ~10%
                    # of a busy worker's time. Sent first, the answer comes while this fetch is handled.
                    for _ in range(PREFETCH_TURNS):
                        await asyncio.sleep(0)
                    pending += await self.handle([r for records in fetched.values() for r in records])
                    # Settle (acks, then commit) while the next fetch is handled: the broker round
                    # trips overlap the work. One fetch in flight at most, so commits stay in order.
                    await self._settled()
                    offsets = {tp: records[-1].offset + 1 for tp, records in fetched.items()}
                    self.handled.update(offsets)
                    self._settling = asyncio.ensure_future(self._settle(consumer, pending, offsets))
            finally:
                self._consumer = None
                if self._settling is not None:  # a clean stop commits the last fetch if it can
                    settling, self._settling = self._settling, None
                    with contextlib.suppress(Exception):  # if not committed: redelivered to the next owner
                        await asyncio.wait_for(settling, SETTLE_ON_STOP_S)
                await consumer.stop()  # leaves the group at once: the others need not wait for a timeout
        finally:
            self._producer = None
            await producer.stop()


class _Listener(ConsumerRebalanceListener):
    def __init__(self, owner: GroupConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        try:
            await self.owner._settled()  # commit what was handled before another member takes over
        except Exception as error:  # not committed: redelivered, here or to the next owner
            log.warning("%s could not commit before a rebalance (%s)", self.owner.group_id, type(error).__name__)
            self.owner._settle_failed = error
        await self.owner.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.owner._to_rebuild = set(assigned)  # rebuilt in the fetch loop (see rebuild_state)
