"""``GroupConsumer`` on the real broker: the next fetch is asked for before a fetch is handled.

Handling a fetch is CPU-bound (the ANPR pipeline runs a whole fetch without a pause). If the next
fetch request went out only after it, every fetch would add a broker round trip in which the
worker sits idle: about a tenth of a busy worker's time on ``bench/anpr.py``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.broker import EmbeddedBroker
from streams.config import WatchfloorConfig, load_config
from streams.group_consumer import GroupConsumer, Record
from tests.conftest import TEST_CONFIG

pytestmark = pytest.mark.integration

MESSAGES = 60
#: Each message is big enough that a fetch (fetch_max_bytes, a quarter a partition) holds a few only.
MESSAGE_BYTES = 300_000
TOPIC = f"prefetch-{uuid.uuid4().hex[:8]}"


class SlowHandler(GroupConsumer):
    """Handles each fetch as the ANPR path does: a stretch of CPU without yielding."""

    topics = (TOPIC,)
    group_id = TOPIC

    def __init__(self, config: WatchfloorConfig) -> None:
        super().__init__(config)
        self.fetches = 0
        self.requested_before_handling = 0
        self.seen = 0

    async def handle(self, records: Sequence[Record]) -> list[Awaitable[Any]]:
        assert self._consumer is not None
        self.fetches += 1
        # aiokafka's fetcher lists the nodes it has a fetch request out to.
        self.requested_before_handling += bool(self._consumer._fetcher._in_flight)
        self.seen += len(records)
        time.sleep(0.02)  # deliberately blocking: the loop gets no turn while a fetch is handled
        return []


async def test_the_next_fetch_is_requested_before_a_fetch_is_handled(broker: EmbeddedBroker) -> None:
    config = load_config(TEST_CONFIG, env={"WATCHFLOOR_BOOTSTRAP": broker.bootstrap})
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, 4, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, max_request_size=2 * MESSAGE_BYTES)
    await producer.start()
    try:
        for i in range(MESSAGES):
            await producer.send(TOPIC, b"x" * MESSAGE_BYTES, partition=i % 4)
        await producer.flush()
    finally:
        await producer.stop()

    consumer = SlowHandler(config)
    task = asyncio.create_task(consumer.run())
    try:
        deadline = time.monotonic() + 60
        while consumer.seen < MESSAGES and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert consumer.seen == MESSAGES
    assert consumer.fetches >= 4, "the backlog should take several fetches"
    # Every fetch but the last leaves data behind, which the next request asks for at once.
    assert consumer.requested_before_handling >= consumer.fetches - 1, (
        f"{consumer.requested_before_handling} of {consumer.fetches} fetches had the next request out")
