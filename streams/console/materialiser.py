"""The ``alerts`` topic as an in-memory view: the latest record per alert id, kept live.

Each console reads the compacted topic from the beginning with a group-less consumer over all
partitions (no consumer group: every console needs every alert, and any number may run). It is
ready once it reached the end offsets it saw at start-up. Live clients subscribe to updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from schemas.alerts import Alert
from streams.config import WatchfloorConfig
from streams.console.auth import Principal
from streams.console.metrics import ConsoleMetrics
from streams.kafka import client_kwargs
from streams.topics import ALERTS, ensure_topics

log = logging.getLogger(__name__)

OPEN_STATUSES = ("new", "acknowledged")


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Filters of the list, the live feed and the API; empty sets match everything.

    >>> AlertFilter(severities=frozenset({"critical"})).is_empty
    False
    """

    statuses: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not (self.statuses or self.severities or self.rules or self.sites)

    def matches(self, alert: Alert) -> bool:
        return ((not self.statuses or alert.status in self.statuses)
                and (not self.severities or alert.severity in self.severities)
                and (not self.rules or alert.rule in self.rules)
                and (not self.sites or (alert.site_id or "") in self.sites))


def can_see(principal: Principal, alert: Alert) -> bool:
    """Covert alerts are for supervisors and above, everywhere (list, detail, feed, snapshots)."""
    return not alert.restricted or principal.sees_restricted


class Subscriber:
    """One live-feed client: a bounded queue of alerts; overflowing marks it for disconnection."""

    def __init__(self, principal: Principal, size: int) -> None:
        self.principal = principal
        self.queue: asyncio.Queue[Alert] = asyncio.Queue(maxsize=size)
        self.overflowed = asyncio.Event()

    def offer(self, alert: Alert) -> None:
        if not can_see(self.principal, alert):
            return
        try:
            self.queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.overflowed.set()  # the client reconnects and gets a fresh snapshot


class AlertView:
    """Latest alert per id, counted in metrics, fanned out to subscribers."""

    def __init__(self, metrics: ConsoleMetrics, sse_queue: int = 2000) -> None:
        self.alerts: dict[str, Alert] = {}
        self.metrics = metrics
        self.sse_queue = sse_queue
        self.subscribers: set[Subscriber] = set()

    def apply(self, alert: Alert) -> None:
        previous = self.alerts.get(alert.alert_id)
        # Latest record wins, except a stale one replayed after a reconnect (older updated_at).
        if previous is not None and previous.updated_at > alert.updated_at:
            return
        self.alerts[alert.alert_id] = alert
        if previous is not None and previous.status in OPEN_STATUSES:
            self.metrics.open_alerts.labels(previous.severity).dec()
        if alert.status in OPEN_STATUSES:
            self.metrics.open_alerts.labels(alert.severity).inc()
        for subscriber in self.subscribers:
            subscriber.offer(alert)

    def remove(self, alert_id: str) -> None:
        previous = self.alerts.pop(alert_id, None)
        if previous is not None and previous.status in OPEN_STATUSES:
            self.metrics.open_alerts.labels(previous.severity).dec()

    def visible(self, principal: Principal, where: AlertFilter = AlertFilter(),
                limit: int | None = None) -> list[Alert]:
        """Alerts the principal may see, matching the filter, most recently updated first."""
        found = [a for a in self.alerts.values() if can_see(principal, a) and where.matches(a)]
        found.sort(key=lambda a: a.updated_at, reverse=True)
        return found[:limit] if limit is not None else found

    def get(self, principal: Principal, alert_id: str) -> Alert | None:
        alert = self.alerts.get(alert_id)
        return alert if alert is not None and can_see(principal, alert) else None

    def subscribe(self, principal: Principal) -> Subscriber:
        subscriber = Subscriber(principal, self.sse_queue)
        self.subscribers.add(subscriber)
        self.metrics.sse_clients.set(len(self.subscribers))
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        self.metrics.sse_clients.set(len(self.subscribers))


class Materialiser:
    """Follows ``alerts`` into an ``AlertView`` for the life of the console; never crash-loops."""

    def __init__(self, config: WatchfloorConfig, view: AlertView, metrics: ConsoleMetrics) -> None:
        self.config = config
        self.view = view
        self.metrics = metrics
        self.ready = asyncio.Event()
        self.connected = False
        self.caught_up_in_s: float | None = None
        self._positions: dict[int, int] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="console-materialiser")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        started = time.monotonic()
        delay = 0.5
        while True:
            try:
                await self._follow(started)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # broker absent or restarting: log and retry, keep serving
                self.connected = False
                log.warning("console cannot read %s from Kafka at %s (%s: %s); retrying in %.1fs", ALERTS,
                            self.config.kafka.bootstrap, type(error).__name__, error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            else:
                delay = 0.5

    async def _follow(self, started: float) -> None:
        # Why create topics: the embedded broker would auto-create `alerts` with the wrong settings.
        await ensure_topics(self.config)
        consumer = AIOKafkaConsumer(**client_kwargs(self.config), enable_auto_commit=False,
                                    auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1_048_576,
                                    fetch_max_bytes=16 * 1_048_576)
        await consumer.start()
        try:
            numbers = sorted(consumer.partitions_for_topic(ALERTS) or ())
            if not numbers:
                raise RuntimeError(f"topic {ALERTS} has no partitions yet")
            partitions = [TopicPartition(ALERTS, p) for p in numbers]
            consumer.assign(partitions)
            end = await consumer.end_offsets(partitions)
            await self._seek(consumer, partitions, end)
            self.connected = True
            log.info("console following %s (%d partitions) on %s", ALERTS, len(partitions),
                     self.config.kafka.bootstrap)
            pending = {tp for tp in partitions if await consumer.position(tp) < end[tp]}
            while True:
                if not pending and not self.ready.is_set():
                    self._mark_ready(started)
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for tp, records in batches.items():
                    self._apply_records(records)
                    self._positions[tp.partition] = records[-1].offset + 1
                for tp in list(pending):
                    # Compaction may have removed the tail: the position, not the last offset, decides.
                    if await consumer.position(tp) >= end[tp]:
                        pending.discard(tp)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _seek(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition],
                    end: dict[TopicPartition, int]) -> None:
        """Resume where we were after a reconnect; start over if the topic was reset (broker restart)."""
        reset = any(self._positions.get(tp.partition, 0) > end[tp] for tp in partitions)
        if reset:
            log.warning("topic %s is behind this console's view (broker restarted?): rebuilding", ALERTS)
            self._positions.clear()
            for alert_id in list(self.view.alerts):
                self.view.remove(alert_id)
        for tp in partitions:
            if tp.partition in self._positions:
                consumer.seek(tp, self._positions[tp.partition])
            else:
                await consumer.seek_to_beginning(tp)

    def _apply_records(self, records: Iterable[object]) -> None:
        for record in records:
            key = getattr(record, "key", None)
            value = getattr(record, "value", None)
            if value is None:
                if key is not None:
                    self.view.remove(key.decode(errors="replace"))  # tombstone: forgotten alert
                continue
            try:
                alert = Alert.model_validate_json(value)
            except ValidationError as error:
                self.metrics.unreadable.inc()
                log.warning("skipping an unreadable alert at %s[%d]@%d: %s", ALERTS, getattr(record, "partition", -1),
                            getattr(record, "offset", -1), error.errors()[0]["msg"])
                continue
            self.metrics.materialised.inc()
            self.view.apply(alert)
        self.metrics.alerts.set(len(self.view.alerts))

    def _mark_ready(self, started: float) -> None:
        self.caught_up_in_s = time.monotonic() - started
        self.metrics.ready.set(1)
        log.info("console caught up with %s: %d alerts in %.1fs", ALERTS, len(self.view.alerts),
                 self.caught_up_in_s)
        self.ready.set()
