"""``GroupConsumer.send_many`` on the real broker: whole record batches land exactly where, and in
the order, one ``send`` per record would put them.

The alerting consumer's keys must stay on the partition aiokafka's default partitioner picks (its
two inputs are co-partitioned by key, and candidates also come from Faust agents' producers), so
placement is checked record by record against both ``send`` and ``DefaultPartitioner``.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner

from streams.broker import EmbeddedBroker
from streams.clients import read_to_end
from streams.config import WatchfloorConfig, load_config
from streams.group_consumer import GroupConsumer, Record
from tests.conftest import TEST_CONFIG

# One member for the module: joining a group takes seconds.
pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

RUN = uuid.uuid4().hex[:8]


class SendOnly(GroupConsumer):
    """A consumer group member that consumes nothing of interest: here for its producer."""

    topics = (f"send-many-{RUN}.input",)
    group_id = f"send-many-{RUN}"

    async def handle(self, records: Sequence[Record]) -> list[Awaitable[Any]]:
        return []


async def create_topic(config: WatchfloorConfig, partitions: int) -> str:
    name = f"send-many-{RUN}-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


@pytest.fixture(scope="module")
def config(broker: EmbeddedBroker) -> WatchfloorConfig:
    return load_config(TEST_CONFIG, env={"WATCHFLOOR_BOOTSTRAP": broker.bootstrap})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sender(config: WatchfloorConfig) -> AsyncIterator[SendOnly]:
    """A running member (its own producer, as the real consumers have), stopped after the module."""
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka.bootstrap)
    await admin.start()
    try:
        if SendOnly.topics[0] not in await admin.list_topics():
            await admin.create_topics([NewTopic(SendOnly.topics[0], 1, 1)])
    finally:
        await admin.close()
    consumer = SendOnly(config)
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(consumer.joined.wait(), 60)
        yield consumer
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def keys(count: int) -> list[bytes]:
    """Keys as the alert path makes them (``rule:subject``, alert ids), and arbitrary bytes of every length."""
    rng = random.Random(7)
    made = [f"watchlist_hit:{hashlib.sha1(str(i).encode()).hexdigest()[:12]}".encode() for i in range(count // 2)]
    made += [rng.randbytes(rng.randrange(0, 60)) for _ in range(count - len(made))]
    return made


def placed(records: list[Any]) -> dict[bytes, set[int]]:
    found: dict[bytes, set[int]] = {}
    for record in records:
        found.setdefault(record.key, set()).add(record.partition)
    return found


def in_order_per_partition(records: list[Any]) -> dict[int, list[int]]:
    """Per partition, the sequence numbers (the values) in offset order."""
    by_partition: dict[int, list[tuple[int, int]]] = {}
    for record in records:
        by_partition.setdefault(record.partition, []).append((record.offset, int(record.value.split(b"|")[0])))
    return {p: [seq for _, seq in sorted(offsets)] for p, offsets in by_partition.items()}


@pytest.mark.parametrize("partitions", [1, 3, 4, 7])
async def test_keyed_records_land_on_the_partition_send_and_the_default_partitioner_pick(
        sender: SendOnly, config: WatchfloorConfig, partitions: int) -> None:
    batched, one_by_one = await create_topic(config, partitions), await create_topic(config, partitions)
    all_keys = keys(1500)
    records = [(key, f"{i}|value".encode()) for i, key in enumerate(all_keys + all_keys[:300])]  # keys repeat

    await asyncio.gather(*await sender.send_many(batched, records))
    await asyncio.gather(*[await sender.send(one_by_one, key, value) for key, value in records])

    got, expected = await read_to_end(config, batched), await read_to_end(config, one_by_one)
    assert len(got) == len(records)
    assert placed(got) == placed(expected)
    partitioner = DefaultPartitioner()
    assert placed(got) == {key: {partitioner(key, list(range(partitions)), list(range(partitions)))}
                           for key in all_keys}
    assert all(sequence == sorted(sequence) for sequence in in_order_per_partition(got).values())


async def test_batches_that_overflow_are_split_and_keep_their_order(sender: SendOnly,
                                                                    config: WatchfloorConfig) -> None:
    topic = await create_topic(config, 4)
    few_keys = keys(12)[:6]  # a few keys, many records each: several full batches per partition
    records = [(few_keys[i % len(few_keys)], f"{i}|".encode() + b"x" * 1000) for i in range(600)]

    futures = await sender.send_many(topic, records)
    await asyncio.gather(*futures)

    got = await read_to_end(config, topic)
    assert len(futures) >= 600 * 1000 // SendOnly.max_batch_size  # a batch holds a batch's bytes at most
    assert len(got) == len(records)
    order = in_order_per_partition(got)
    assert sorted(seq for sequence in order.values() for seq in sequence) == list(range(600))
    assert all(sequence == sorted(sequence) for sequence in order.values())
    by_key = {record.key: [] for record in got}  # each key's records in the order they were given
    for record in sorted(got, key=lambda r: (r.partition, r.offset)):
        by_key[record.key].append(int(record.value.split(b"|")[0]))
    assert all(sequence == sorted(sequence) for sequence in by_key.values())


async def test_a_given_partition_takes_every_record_in_order_with_the_headers(sender: SendOnly,
                                                                              config: WatchfloorConfig) -> None:
    topic = await create_topic(config, 4)
    records = [(key, f"{i}|".encode() + b"y" * 500) for i, key in enumerate(keys(200))]

    await asyncio.gather(*await sender.send_many(topic, records, 2, headers=[("origin", b"test")]))

    got = await read_to_end(config, topic)
    assert {record.partition for record in got} == {2}
    assert in_order_per_partition(got) == {2: list(range(200))}
    assert all(tuple(record.headers) == (("origin", b"test"),) for record in got)


async def test_keyless_records_go_together_to_one_partition_in_order(sender: SendOnly,
                                                                     config: WatchfloorConfig) -> None:
    topic = await create_topic(config, 4)
    await asyncio.gather(*await sender.send_many(topic, [(None, f"{i}|".encode()) for i in range(100)]))

    got = await read_to_end(config, topic)
    assert len({record.partition for record in got}) == 1
    assert list(in_order_per_partition(got).values()) == [list(range(100))]


async def test_a_record_bigger_than_a_batch_goes_alone_in_its_place(sender: SendOnly,
                                                                    config: WatchfloorConfig) -> None:
    topic = await create_topic(config, 4)
    key = b"watchlist_hit:big"
    big = SendOnly.max_batch_size * 3  # well under max_request_size (twice kafka.max_message_bytes and more)
    records = [(key, f"{i}|".encode() + (b"z" * big if i == 5 else b"s" * 100)) for i in range(10)]

    futures = await sender.send_many(topic, records)
    await asyncio.gather(*futures)

    got = await read_to_end(config, topic)
    assert len(futures) == 3  # the records before it, it, the records after it
    assert list(in_order_per_partition(got).values()) == [list(range(10))]
    assert len(next(r for r in got if r.value.startswith(b"5|")).value) == big + 2


async def test_a_record_over_max_request_size_is_refused_as_send_refuses_it(sender: SendOnly,
                                                                            config: WatchfloorConfig) -> None:
    topic = await create_topic(config, 1)
    too_big = b"v" * (3 * config.kafka.max_message_bytes + 65_536)  # over 2 * max_message_bytes + 64 KiB
    with pytest.raises(MessageSizeTooLargeError):
        await sender.send(topic, b"k", too_big)
    with pytest.raises(MessageSizeTooLargeError):
        await sender.send_many(topic, [(b"k", too_big)])


async def test_records_for_a_batch_still_held_join_it_in_order_without_waiting(sender: SendOnly,
                                                                               config: WatchfloorConfig) -> None:
    """Calls back to back, as a fetch's passes make them: no yield to the producer's sender between
    them, so each finds the last one's batch still held. Its records go into that batch, one by one
    (waiting for the sender to take it would stall for a broker round trip), in order."""
    topic = await create_topic(config, 1)
    futures = [await sender.send(topic, b"k", b"0|")]
    sizes = []
    for start in range(1, 301, 3):
        sent = await sender.send_many(topic, [(b"k", f"{i}|".encode()) for i in range(start, start + 3)])
        sizes.append(len(sent))
        futures += sent
    await asyncio.gather(*futures)

    assert sizes == [3] * 100  # a send each: they joined the held batch
    assert in_order_per_partition(await read_to_end(config, topic)) == {0: list(range(301))}
