"""Alerting agent: candidates and operator actions in, alert states out on ``alerts``.

Both topics are keyed by the dedupe key (``rule:subject``) with the same partition count, so
one stream sees a key's candidates and actions in order and owns its table entry alone.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import faust
from pydantic import ValidationError

from schemas.alerts import Alert, AlertAction, AlertCandidate
from schemas.deployments import Deployment
from streams import metrics
from streams.alert_view import OpenAlertsBySite
from streams.codecs import Rejected, describe_validation_error, encode, load_json, validate
from streams.lifecycle import Outcome, apply_action, apply_candidate
from streams.replica import CompactedTopicReplica
from streams.runtime import Runtime
from streams.topics import ALERT_ACTIONS, ALERT_CANDIDATES, ALERT_STATE_TABLE, ALERTS, DEPLOYMENTS

CORRELATED_RULE = "unattended_item"

log = logging.getLogger(__name__)


def apply_deployment(declared: dict[str, Deployment], key: bytes | None, value: bytes | None) -> None:
    """One record of the compacted ``deployments`` topic: a deployment, or a tombstone ending it."""
    if key is None:
        return
    if value is None:
        declared.pop(key.decode(errors="replace"), None)
        return
    try:
        deployment = Deployment.model_validate_json(value)
    except ValidationError as error:
        log.warning("skipping an invalid deployment record: %s", describe_validation_error(error))
        return
    declared[deployment.id] = deployment


def register(app: faust.App, runtime: Runtime) -> Any:
    inputs = app.topic(ALERT_CANDIDATES, ALERT_ACTIONS, key_serializer="raw", value_serializer="raw")
    alerts_topic = app.topic(ALERTS, key_serializer="raw", value_serializer="raw")
    actions_topic = app.topic(ALERT_ACTIONS, key_serializer="raw", value_serializer="raw")
    # Alert state per dedupe key: changes rarely, so a changelogged table is affordable.
    # No value_type: JSON values as they are (with value_type=dict, recovery calls dict.from_data()).
    state_table = app.Table(ALERT_STATE_TABLE, default=None, key_type=str, partitions=runtime.config.kafka.partitions)
    settings = runtime.config.alerting
    max_bytes = runtime.config.kafka.max_message_bytes
    open_by_site = OpenAlertsBySite(rules=(CORRELATED_RULE,))
    alerts_view = CompactedTopicReplica(runtime.config, ALERTS, open_by_site.apply)
    if settings.correlate_watchlist_with_unattended:
        runtime.replicas.append(alerts_view)
    declared: dict[str, Deployment] = {}  # deployments declared at run time, by id
    runtime.replicas.append(CompactedTopicReplica(runtime.config, DEPLOYMENTS,
                                                  lambda k, v: apply_deployment(declared, k, v)))

    async def publish(outcome: Outcome, key: str) -> None:
        assert outcome.alert is not None
        # Publish before recording state: a crash in between republishes the same alert id,
        # which the compacted topic and the console absorb; the reverse order could lose it.
        await alerts_topic.send(key=outcome.alert.alert_id.encode(), value=encode(outcome.alert))
        metrics.MESSAGES_PRODUCED.labels(ALERTS).inc()
        state_table[key] = outcome.state

    async def correlate(alert: Alert) -> Alert:
        """A watchlisted vehicle at a site with an open unattended item: escalate and link both."""
        if alert.rule != "watchlist_hit" or alert.site_id is None:
            return alert
        others = [pair for pair in open_by_site.open_at(alert.site_id, CORRELATED_RULE)]
        if not others:
            return alert
        for other_id, other_key in others:
            link = AlertAction(action_id=f"corr-{uuid.uuid4().hex[:16]}", alert_id=other_id, action="link",
                               by="correlator", at=time.time(), linked_alert_id=alert.alert_id,
                               severity="critical", reason=f"watchlisted vehicle {alert.alert_id} at the site")
            await actions_topic.send(key=other_key.encode(), value=encode(link))
        metrics.CORRELATIONS.inc(len(others))
        return alert.model_copy(update={"severity": "critical",
                                        "linked_alert_ids": [i for i, _ in others]})

    async def on_candidate(candidate: AlertCandidate) -> None:
        key = candidate.dedupe_key
        now = time.time()
        deployment = settings.deployment_at(candidate.site_id, candidate.event_time, declared.values())
        outcome = apply_candidate(state_table.get(key), candidate, now, settings.cooldown_s, deployment)
        if outcome.alert is None:
            metrics.DUPLICATES_SUPPRESSED.labels(candidate.rule).inc()
            return
        if outcome.kind == "new":
            correlated = await correlate(outcome.alert)
            if correlated is not outcome.alert:
                state = dict(outcome.state or {})
                state["alerts"] = {**state["alerts"], correlated.alert_id: correlated.model_dump(mode="json")}
                outcome = Outcome(state, correlated, outcome.kind)
        await publish(outcome, key)
        assert outcome.alert is not None
        if outcome.kind == "new":
            metrics.ALERTS_RAISED.labels(candidate.rule, outcome.alert.severity).inc()
            metrics.EVENT_TO_ALERT.observe(max(0.0, now - candidate.event_time))
        else:
            metrics.ALERT_UPDATES.labels(candidate.rule).inc()

    async def on_action(action: AlertAction, key: str) -> None:
        outcome = apply_action(state_table.get(key), action, time.time())
        if outcome.kind in ("unknown_alert", "invalid"):
            raise Rejected("unprocessable", outcome.error or outcome.kind)
        if outcome.alert is None:
            return  # a replayed action
        await publish(outcome, key)
        metrics.ALERT_ACTIONS.labels(action.action).inc()
        if action.action == "acknowledge":
            metrics.TIME_TO_ACKNOWLEDGE.observe(max(0.0, action.at - outcome.alert.raised_at))

    async def handle(message: Any) -> None:
        model = AlertCandidate if message.topic == ALERT_CANDIDATES else AlertAction
        decoded = validate(model, load_json(message.value, max_bytes))
        if isinstance(decoded, AlertCandidate):
            await on_candidate(decoded)
        elif isinstance(decoded, AlertAction):
            await on_action(decoded, message.key.decode(errors="replace") if message.key else "")

    @app.agent(inputs, name="alerting")
    async def alerting(stream: faust.StreamT) -> None:
        await runtime.consume(stream, handle)

    return alerting
