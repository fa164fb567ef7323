"""The alerting consumer's one ordering promise, on the real broker: an alert is on `alerts`
before the key state that records it is on `alerts.state`.

Why it matters: the state decides what a redelivered candidate is. A state stored without its
alert makes the redelivery a duplicate, and the alert is never published. On one broker the
producer's order happens to hold; with `alerts` and `alerts.state` leaders on different brokers
it does not, so the consumer waits for the alerts' acks before it writes their states.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from typing import Any

import faust
import pytest
from aiokafka.errors import KafkaConnectionError

from schemas.alerts import AlertCandidate, Evidence
from streams.agents.alerting import AlertingConsumer
from streams.broker import EmbeddedBroker
from streams.clients import read_to_end
from streams.codecs import encode
from streams.config import WatchfloorConfig, load_config
from streams.runtime import Runtime
from streams.topics import ALERT_CANDIDATES, ALERT_STATE, ALERTS, APP_ID
from tests.conftest import TEST_CONFIG
from tests.integration.kafka_helpers import produce

pytestmark = pytest.mark.integration


class FirstAlertSendFails(AlertingConsumer):
    """The real consumer, except that its first alert send fails, as when the leader of that
    `alerts` partition goes away; the `alerts.state` sends go through as usual."""

    failed = 0

    async def send_many(self, topic: str, records: Sequence[tuple[bytes | None, bytes | None]],
                        partition: int | None = None, headers: list[tuple[str, bytes]] | None = None
                        ) -> list[Awaitable[Any]]:
        if topic == ALERTS and any(value is not None for _, value in records) and not self.failed:
            self.failed += 1
            lost: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            lost.set_exception(KafkaConnectionError("leader of the alerts partition lost (injected)"))
            return [lost]
        return await super().send_many(topic, records, partition, headers)


async def records_of(config: WatchfloorConfig, topic: str, key: bytes) -> list[bytes | None]:
    """Values of ``topic`` records with ``key``, from the beginning to the current end."""
    return [record.value for record in await read_to_end(config, topic) if record.key == key]


def test_an_alert_whose_send_failed_is_published_on_the_retry_not_lost(private_broker: EmbeddedBroker) -> None:
    config = load_config(TEST_CONFIG, env={"WATCHFLOOR_BOOTSTRAP": private_broker.bootstrap})
    now = time.time()
    candidate = AlertCandidate(alert_id="al-ordering-1", rule="ordering_test", subject="ORD1", severity="high",
                               event_time=now, title="Ordering test", camera_id="cam-a", site_id="market",
                               evidence=[Evidence(event_id="ev-ordering-1", event_time=now, camera_id="cam-a")])

    async def run() -> tuple[int, list[bytes | None], list[bytes | None]]:
        runtime = Runtime(faust.App(f"{APP_ID}-ordering-test", broker=f"kafka://{config.kafka.bootstrap}"), config)
        consumer = FirstAlertSendFails(runtime, open_by_site=None, declared={}, views=[])  # type: ignore[arg-type]
        task = asyncio.create_task(consumer.run())
        try:
            await asyncio.to_thread(produce, config.kafka.bootstrap, ALERT_CANDIDATES,
                                    [(candidate.dedupe_key.encode(), encode(candidate))])
            deadline = time.monotonic() + 60
            alerts: list[bytes | None] = []
            while not alerts and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                alerts = await records_of(config, ALERTS, candidate.alert_id.encode())
            states = await records_of(config, ALERT_STATE, candidate.dedupe_key.encode())
            return consumer.failed, alerts, states
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    failed, alerts, states = asyncio.run(run())
    assert failed == 1, "the injected failure never happened: this test proves nothing"
    assert alerts, "the alert was lost: its state was stored, so the redelivered candidate was a duplicate"
    assert states and all(candidate.alert_id.encode() in (state or b"") for state in states)
