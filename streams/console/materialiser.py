"""The ``alerts`` topic as an in-memory view: the latest record per alert id, kept live.

Each console reads the compacted topic from the beginning with a group-less consumer over all
partitions (no consumer group: every console needs every alert, and any number may run). It is
ready once it reached the end offsets it saw at start-up. Live clients subscribe to updates.

The same consumer follows ``deadletter`` from the console's start, for the operator actions the
alerting agent refused (say, an acknowledge that crossed a colleague's resolve): the operator who
acted is told why on the live feed, instead of seeing nothing happen. It follows ``alerts.actions``
from then too, so every console behind a load balancer can say what became of an action, whichever
console took it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from schemas.alerts import Alert, AlertAction
from schemas.deadletter import DeadLetter
from streams.config import WatchfloorConfig
from streams.console.auth import Principal
from streams.console.metrics import ConsoleMetrics
from streams.kafka import client_kwargs
from streams.topics import ALERT_ACTIONS, ALERTS, DEADLETTER, ensure_topics

log = logging.getLogger(__name__)

#: Read from where they stood when the console started, not from their beginning.
FOLLOWED_FROM_START = (DEADLETTER, ALERT_ACTIONS)

OPEN_STATUSES = ("new", "acknowledged")
#: Actions remembered for ``GET /api/actions/{id}`` (sent by any console, refused by the agent):
#: an operator checks on an action seconds after it, so the newest few thousand are plenty.
ACTIONS_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class ActionRejection:
    """An action the alerting agent refused, as its dead letter tells it."""

    action_id: str
    alert_id: str
    action: str
    by: str
    reason: str
    at: float


ActionStatus = Literal["pending", "applied", "rejected"]
Remembered = TypeVar("Remembered")


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
    """One live-feed client: a bounded queue of updates; overflowing marks it for disconnection."""

    def __init__(self, principal: Principal, size: int) -> None:
        self.principal = principal
        self.queue: asyncio.Queue[Alert | ActionRejection] = asyncio.Queue(maxsize=size)
        self.overflowed = asyncio.Event()

    def offer(self, item: Alert | ActionRejection) -> None:
        """Queue an alert the client may see, or a refusal of one of its own user's actions."""
        if isinstance(item, ActionRejection):
            if item.by != self.principal.username:
                return
        elif not can_see(self.principal, item):
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed.set()  # the client reconnects and gets a fresh snapshot


class AlertView:
    """Latest alert per id, counted in metrics, fanned out to subscribers."""

    def __init__(self, metrics: ConsoleMetrics, sse_queue: int = 2000) -> None:
        self.alerts: dict[str, Alert] = {}
        self.metrics = metrics
        self.sse_queue = sse_queue
        self.subscribers: set[Subscriber] = set()
        self.sent: OrderedDict[str, str] = OrderedDict()
        """alert id by action id, of actions published by this console or seen on ``alerts.actions``
        since it started (newest last)."""
        self.rejected: OrderedDict[str, ActionRejection] = OrderedDict()
        """Refused actions by action id, whichever console sent them (newest last)."""

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

    def action_sent(self, action: AlertAction) -> None:
        _remember(self.sent, action.action_id, action.alert_id)

    def reject(self, rejection: ActionRejection) -> None:
        """Record a refused action and tell its user's live feeds."""
        _remember(self.rejected, rejection.action_id, rejection)
        self.metrics.actions_rejected.inc()
        for subscriber in self.subscribers:
            subscriber.offer(rejection)

    def action_status(self, action_id: str) -> tuple[ActionStatus, str, ActionRejection | None] | None:
        """``(status, alert id, rejection)`` of an action; None if this console knows nothing of it.

        Applied once the alert's history has it (the agent republished the alert), rejected once its
        dead letter arrived, pending until either.
        """
        rejection = self.rejected.get(action_id)
        if rejection is not None:
            return "rejected", rejection.alert_id, rejection
        alert_id = self.sent.get(action_id)
        if alert_id is None:
            return None
        alert = self.alerts.get(alert_id)
        applied = alert is not None and any(entry.action_id == action_id for entry in alert.history)
        return ("applied" if applied else "pending"), alert_id, None

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


def _remember(store: OrderedDict[str, Remembered], key: str, value: Remembered) -> None:
    store[key] = value
    if len(store) > ACTIONS_REMEMBERED:
        store.popitem(last=False)


def rejection_of(dead_letter: DeadLetter) -> ActionRejection | None:
    """The refused action a dead letter carries, or None (another topic's, or not an action at all).

    >>> action = AlertAction(action_id="act-1", alert_id="al-1", action="acknowledge", by="ann", at=1.0)
    >>> letter = DeadLetter(reason="unprocessable", error="cannot acknowledge an alert that is resolved",
    ...     source_topic="alerts.actions", partition=0, offset=7, rejected_at=2.0, value_size=0,
    ...     value_b64=base64.b64encode(action.model_dump_json().encode()).decode())
    >>> rejection_of(letter)
    ActionRejection(action_id='act-1', alert_id='al-1', action='acknowledge', by='ann', reason='cannot \
acknowledge an alert that is resolved', at=2.0)
    """
    if dead_letter.source_topic != ALERT_ACTIONS:
        return None
    try:
        action = AlertAction.model_validate_json(base64.b64decode(dead_letter.value_b64, validate=True))
    except (ValidationError, binascii.Error, ValueError):
        return None  # not an action (it was dead-lettered for that): nobody to tell
    return ActionRejection(action.action_id, action.alert_id, action.action, action.by, dead_letter.error,
                           dead_letter.rejected_at)


class Materialiser:
    """Follows ``alerts`` into an ``AlertView`` for the life of the console; never crash-loops.

    Also follows ``deadletter`` and ``alerts.actions`` from where they stood at the console's first
    start, for refused actions and for actions other consoles sent.
    """

    def __init__(self, config: WatchfloorConfig, view: AlertView, metrics: ConsoleMetrics) -> None:
        self.config = config
        self.view = view
        self.metrics = metrics
        self.ready = asyncio.Event()
        self.connected = False
        self.caught_up_in_s: float | None = None
        self._positions: dict[TopicPartition, int] = {}
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
            partitions: list[TopicPartition] = []  # of alerts; followed: of FOLLOWED_FROM_START
            followed: list[TopicPartition] = []
            for topic in (ALERTS, *FOLLOWED_FROM_START):
                found = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
                if not found:
                    raise RuntimeError(f"topic {topic} has no partitions yet")
                (partitions if topic == ALERTS else followed).extend(found)
            consumer.assign(partitions + followed)
            end = await consumer.end_offsets(partitions + followed)
            await self._seek(consumer, partitions, followed, end)
            self.connected = True
            log.info("console following %s (%d partitions) on %s", ALERTS, len(partitions),
                     self.config.kafka.bootstrap)
            pending = {tp for tp in partitions if await consumer.position(tp) < end[tp]}
            while True:
                if not pending and not self.ready.is_set():
                    self._mark_ready(started)
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for tp, records in batches.items():
                    if tp.topic == DEADLETTER:
                        self._apply_dead_letters(records)
                    elif tp.topic == ALERT_ACTIONS:
                        self._apply_actions(records)
                    else:
                        self._apply_records(records)
                    self._positions[tp] = records[-1].offset + 1
                for tp in list(pending):
                    # Compaction may have removed the tail: the position, not the last offset, decides.
                    if await consumer.position(tp) >= end[tp]:
                        pending.discard(tp)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _seek(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition],
                    followed: list[TopicPartition], end: dict[TopicPartition, int]) -> None:
        """Resume where we were after a reconnect; start over if the topic was reset (broker restart).

        ``alerts`` from the beginning the first time; ``deadletter`` and ``alerts.actions`` from
        their end (actions sent before this console started have nobody waiting for them here).
        """
        positions = self._positions
        reset = any(positions.get(tp, 0) > end[tp] for tp in partitions)
        if reset:
            log.warning("topic %s is behind this console's view (broker restarted?): rebuilding", ALERTS)
            for tp in partitions:
                positions.pop(tp, None)
            for alert_id in list(self.view.alerts):
                self.view.remove(alert_id)
        for tp in followed:
            if positions.get(tp, 0) > end[tp]:
                positions[tp] = end[tp]  # the topic was reset too: go on from its new end
        for tp in partitions + followed:
            if tp in positions:
                consumer.seek(tp, positions[tp])
            elif tp.topic in FOLLOWED_FROM_START:
                consumer.seek(tp, end[tp])
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

    def _apply_dead_letters(self, records: Iterable[object]) -> None:
        for record in records:
            value = getattr(record, "value", None)
            # Most dead letters are bad camera or plate messages: skip them without parsing.
            if value is None or ALERT_ACTIONS.encode() not in value:
                continue
            try:
                rejection = rejection_of(DeadLetter.model_validate_json(value))
            except ValidationError:
                continue  # not ours to judge: only the refused actions matter here
            if rejection is not None:
                log.info("action %s (%s on %s by %s) was refused: %s", rejection.action_id, rejection.action,
                         rejection.alert_id, rejection.by, rejection.reason)
                self.view.reject(rejection)

    def _apply_actions(self, records: Iterable[object]) -> None:
        """Actions any console sent: so this one can answer ``GET /api/actions/{id}`` for them too."""
        for record in records:
            value = getattr(record, "value", None)
            try:
                action = AlertAction.model_validate_json(value or b"")
            except ValidationError:
                continue  # not an action: the alerting agent dead-letters it, and nobody can ask after it
            self.view.action_sent(action)

    def _mark_ready(self, started: float) -> None:
        self.caught_up_in_s = time.monotonic() - started
        self.metrics.ready.set(1)
        log.info("console caught up with %s: %d alerts in %.1fs", ALERTS, len(self.view.alerts),
                 self.caught_up_in_s)
        self.ready.set()
