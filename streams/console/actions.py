"""Operator actions: an ``AlertAction`` to ``alerts.actions`` and an ``AuditRecord`` to ``audit``.

The console never changes an alert itself: the alerting agent applies the action and republishes
the alert, which reaches every console through the ``alerts`` topic like any other update.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Literal

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas.alerts import Alert, AlertAction
from schemas.audit import AuditRecord
from streams.codecs import encode
from streams.config import WatchfloorConfig
from streams.console.auth import Principal
from streams.kafka import client_kwargs
from streams.topics import ALERT_ACTIONS, AUDIT

log = logging.getLogger(__name__)

CLOSED_STATUSES = ("resolved", "dismissed")
#: What people may do from the console (``link`` is the correlation engine's, not an operator's).
OperatorAction = Literal["acknowledge", "assign", "resolve", "dismiss", "comment"]


class ActionRejected(ValueError):
    """The action does not make sense for this alert; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def build_action(alert: Alert, principal: Principal, action: OperatorAction, assignee: str | None,
                 reason: str | None, now: float | None = None) -> AlertAction:
    """Validate an operator's request against the alert's state and build the wire record."""
    reason = (reason or "").strip() or None
    if action in ("resolve", "dismiss") and not reason:
        raise ActionRejected(f"{action} needs a reason")
    if action == "assign" and not (assignee or "").strip():
        raise ActionRejected("assign needs an assignee")
    if action == "comment" and not reason:
        raise ActionRejected("comment needs a text (reason)")
    if alert.status in CLOSED_STATUSES and action != "comment":
        raise ActionRejected(f"alert is already {alert.status}", status=409)
    if action == "acknowledge" and alert.status != "new":
        raise ActionRejected(f"alert is already {alert.status}", status=409)
    who = (assignee or "").strip() if action == "assign" else ""
    return AlertAction(action_id=f"act-{uuid.uuid4().hex}", alert_id=alert.alert_id, action=action,
                       by=principal.username, at=time.time() if now is None else now,
                       assignee=who or None, reason=reason)


def dedupe_key(alert: Alert) -> bytes:
    """The alerting agent keys its state by ``rule:subject``; actions must land on that partition."""
    return f"{alert.rule}:{alert.subject}".encode()


class ActionPublisher:
    """A long-lived producer for actions and audit records, started on first use."""

    def __init__(self, config: WatchfloorConfig) -> None:
        self.config = config
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def _get(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(**client_kwargs(self.config), linger_ms=0, acks="all",
                                            request_timeout_ms=10_000)
                await producer.start()  # raises if the broker is absent: the request answers 503
                self._producer = producer
            return self._producer

    async def publish(self, alert: Alert, action: AlertAction) -> None:
        producer = await self._get()
        audit = AuditRecord(at=action.at, actor=action.by, action=f"alert.{action.action}", target=alert.alert_id,
                            details={"action_id": action.action_id, "rule": alert.rule,
                                     "assignee": action.assignee, "reason": action.reason})
        try:
            # The action first: an audit record must never claim an action that was not sent.
            await (await producer.send(ALERT_ACTIONS, key=dedupe_key(alert), value=encode(action)))
            await (await producer.send(AUDIT, key=action.by.encode(), value=encode(audit)))
        except KafkaError:
            await self.reset()
            raise

    async def reset(self) -> None:
        async with self._lock:
            if self._producer is not None:
                producer, self._producer = self._producer, None
                try:
                    await producer.stop()
                except Exception as error:  # already broken; nothing more to do
                    log.debug("producer stop failed: %s", error)

    async def stop(self) -> None:
        await self.reset()
