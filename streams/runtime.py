"""What the agents of one worker share: config, the watchlist replica, dead-letter sending."""

from __future__ import annotations

import logging
from typing import Any

import faust

from detectors.plates.watchlist import WatchlistIndex
from streams import metrics
from streams.codecs import Rejected, dead_letter, encode
from streams.config import WatchfloorConfig
from streams.replica import CompactedTopicReplica
from streams.topics import DEADLETTER
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

    async def send_dead_letter(self, rejected: Rejected, message: Any, *, part: bool = False) -> None:
        """Send the original bytes and the reason to ``deadletter``; the worker carries on."""
        record = dead_letter(rejected, topic=message.topic, partition=message.partition, offset=message.offset,
                             key=message.key, value=message.value, kind="part" if part else "whole")
        await self.deadletter_topic.send(key=message.key, value=encode(record))
        metrics.DEADLETTERS.labels(message.topic, rejected.reason).inc()
        metrics.MESSAGES_PRODUCED.labels(DEADLETTER).inc()
        log.warning("dead letter from %s[%d]@%d: %s", message.topic, message.partition, message.offset,
                    rejected)
