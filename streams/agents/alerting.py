"""Alerting agent: dedupes candidates into alerts with idempotent ids, publishes to ``alerts``."""

from __future__ import annotations

import time
from typing import Any

import faust

from schemas.alerts import AlertCandidate
from streams import metrics
from streams.codecs import Rejected, encode, load_json, validate
from streams.lifecycle import apply_candidate
from streams.runtime import Runtime
from streams.topics import ALERT_CANDIDATES, ALERT_STATE_TABLE, ALERTS


def register(app: faust.App, runtime: Runtime) -> Any:
    candidates_topic = app.topic(ALERT_CANDIDATES, key_serializer="raw", value_serializer="raw")
    alerts_topic = app.topic(ALERTS, key_serializer="raw", value_serializer="raw")
    # Open-alert state per dedupe key: changes rarely, so a changelogged table is affordable.
    state_table = app.Table(ALERT_STATE_TABLE, default=None, key_type=str, value_type=dict,
                            partitions=runtime.config.kafka.partitions)
    cooldown_s = runtime.config.alerting.cooldown_s
    max_bytes = runtime.config.kafka.max_message_bytes

    @app.agent(candidates_topic, name="alerting")
    async def alerting(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            try:
                candidate = validate(AlertCandidate, load_json(message.value, max_bytes))
            except Rejected as rejected:
                metrics.MESSAGES_CONSUMED.labels(ALERT_CANDIDATES, "deadletter").inc()
                await runtime.send_dead_letter(rejected, message)
                continue
            assert isinstance(candidate, AlertCandidate)
            metrics.MESSAGES_CONSUMED.labels(ALERT_CANDIDATES, "ok").inc()
            key = candidate.dedupe_key
            now = time.time()
            outcome = apply_candidate(state_table.get(key), candidate, now, cooldown_s)
            if outcome.alert is None:
                metrics.DUPLICATES_SUPPRESSED.labels(candidate.rule).inc()
                continue
            # Publish before recording state: a crash in between republishes the same alert id,
            # which the compacted topic and the console absorb; the reverse order could lose it.
            await alerts_topic.send(key=outcome.alert.alert_id.encode(), value=encode(outcome.alert))
            metrics.MESSAGES_PRODUCED.labels(ALERTS).inc()
            state_table[key] = outcome.state
            if outcome.kind == "new":
                metrics.ALERTS_RAISED.labels(candidate.rule, candidate.severity).inc()
                metrics.EVENT_TO_ALERT.observe(max(0.0, now - candidate.event_time))
            else:
                metrics.ALERT_UPDATES.labels(candidate.rule).inc()

    return alerting
