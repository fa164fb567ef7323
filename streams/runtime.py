"""What the agents of one worker share: config, the watchlist replica, dead-letter sending."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust

from detectors.plates.watchlist import WatchlistIndex
from schemas.alerts import AlertCandidateRecord
from streams import metrics
from streams.codecs import Rejected, dead_letter, encode, encode_candidate
from streams.config import WatchfloorConfig
from streams.replica import CompactedTopicReplica
from streams.topics import ALERT_CANDIDATES, DEADLETTER
from streams.watchlist_replica import watchlist_replica

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, app: faust.App, config: WatchfloorConfig) -> None:
        self.app = app
        self.config = config
        self.watchlist_index = WatchlistIndex(config.anpr.matching)
        self.watchlist = watchlist_replica(config, self.watchlist_index)
        #: Group-less readers started with the worker (the watchlist first).
        self.replicas: list[CompactedTopicReplica] = [self.watchlist]
        self.deadletter_topic = app.topic(DEADLETTER, key_serializer="raw", value_serializer="raw")
        self.candidates_topic = app.topic(ALERT_CANDIDATES, key_serializer="raw", value_serializer="raw")

    async def send_candidates(self, candidates: Sequence[AlertCandidateRecord]) -> None:
        """Detector agents' one output: keyed by dedupe key, so the alerting agent owns each key."""
        for candidate in candidates:
            await self.candidates_topic.send(key=candidate.dedupe_key.encode(), value=encode_candidate(candidate))
        if candidates:
            metrics.MESSAGES_PRODUCED.labels(ALERT_CANDIDATES).inc(len(candidates))

    async def consume(self, stream: faust.StreamT, handle: Callable[[Any], Awaitable[None]]) -> None:
        """The one agent loop: each message is handled or dead-lettered; nothing stops the stream.

        ``handle`` raises ``Rejected`` for bad input. Any other exception is a bug in us, not the
        sender's fault, but the message still goes to ``deadletter`` (to be replayed once fixed)
        and the worker carries on. Its text is not logged: it may quote a plate.
        """
        async for event in stream.events():
            message = event.message
            try:
                await handle(message)
            except Rejected as rejected:
                metrics.MESSAGES_CONSUMED.labels(message.topic, "deadletter").inc()
                await self.send_dead_letter(rejected, message)
                continue
            except Exception as error:
                log.error("internal %s while handling %s[%d]@%d; message dead-lettered", type(error).__name__,
                          message.topic, message.partition, message.offset)
                metrics.MESSAGES_CONSUMED.labels(message.topic, "deadletter").inc()
                await self.send_dead_letter(
                    Rejected("unprocessable", f"internal error ({type(error).__name__}); see the worker log"),
                    message)
                continue
            metrics.MESSAGES_CONSUMED.labels(message.topic, "ok").inc()

    async def send_dead_letter(self, rejected: Rejected, message: Any, *, part: bool = False) -> None:
        """Send the original bytes and the reason to ``deadletter``; the worker carries on."""
        key, value = dead_letter_record(rejected, message, part=part)
        await self.deadletter_topic.send(key=key, value=value)


def dead_letter_record(rejected: Rejected, message: Any, *, part: bool = False) -> tuple[bytes | None, bytes]:
    """The ``deadletter`` key and value for a message (Faust's or aiokafka's), counted and logged."""
    record = dead_letter(rejected, topic=message.topic, partition=message.partition, offset=message.offset,
                         key=message.key, value=message.value, kind="part" if part else "whole")
    metrics.DEADLETTERS.labels(message.topic, rejected.reason).inc()
    metrics.MESSAGES_PRODUCED.labels(DEADLETTER).inc()
    log.warning("dead letter from %s[%d]@%d: %s", message.topic, message.partition, message.offset, rejected)
    return message.key, encode(record)
