"""Faust's aiokafka transport with one change: how long a fetch may wait on the broker.

Faust hard-codes ``fetch_max_wait_ms=1500`` for its worker consumer. Apache Kafka answers a
fetch as soon as data arrives, so that costs nothing there; the embedded broker (Tansu) holds a
fetch for much of the wait even when data is waiting (measured: p50 134 ms per hop at 500 ms,
3 ms at 5 ms), which put seconds between an event and its alert. ``kafka.agents_fetch_max_wait_ms``
in the config sets it for Faust's consumer (``kafka.fetch_max_wait_ms`` sets it for the ANPR and
alerting consumers, where each millisecond counts).
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its fetcher; no public setter exists.
        consumer._fetch_max_wait_ms = self.app.fetch_max_wait_ms  # type: ignore[attr-defined]
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class WorkerApp(faust.App):
    """``faust.App`` whose consumer fetches wait at most ``fetch_max_wait_ms`` on the broker."""

    def __init__(self, *args: Any, fetch_max_wait_ms: int, **kwargs: Any) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms
        super().__init__(*args, **kwargs)

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)
