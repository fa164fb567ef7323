"""Alerting: candidates and operator actions in, alert states out on ``alerts``.

Both inputs are keyed by the dedupe key (``rule:subject``) with the same partition count, and the
range assignor gives partition p of both to the same worker: it sees a key's candidates and actions
in order and owns its state alone. State per key lives in memory for the partitions this worker
owns and in the compacted ``alerts.state`` topic (same partition), read back on assignment.

A plain aiokafka group rather than a Faust agent and table (see ``streams.group_consumer``): the
agent cost ~1.2 ms per candidate, mostly Faust's per-event and per-table-write machinery, and
fell behind the ANPR path at volume. Here state is written once per key per fetch.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Sequence
from typing import Any

import faust
import msgspec
from aiokafka import TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from pydantic import ValidationError

from schemas.alerts import AlertAction, AlertCandidateRecord
from schemas.deployments import Deployment
from streams import metrics
from streams.alert_view import OpenAlertsBySite
from streams.clients import read_to_end
from streams.codecs import JSON_ENCODER, Rejected, decode_candidate, decode_model, describe_validation_error, encode
from streams.group_consumer import GroupConsumer, Record
from streams.lifecycle import (
    AlertDoc,
    Outcome,
    apply_action,
    apply_candidate,
    expired,
    expired_retired,
    snapshot_refs,
)
from streams.replica import CompactedTopicReplica
from streams.runtime import Runtime
from streams.snapshots import delete_snapshots, snapshot_dir
from streams.topics import ALERT_ACTIONS, ALERT_CANDIDATES, ALERT_STATE, ALERTS, APP_ID, DEPLOYMENTS

CORRELATED_RULE = "unattended_item"
#: Longest time between two sweeps for closed alerts past their retention.
EXPIRY_EVERY_S = 600.0

log = logging.getLogger(__name__)

State = dict[str, Any]
#: A key's state on ``alerts.state``, and the alerts on ``alerts``: plain JSON. msgspec's codec, not
#: the json module's: a state holds up to 20 alerts with their evidence, and json.dumps was a fifth
#: of a candidate's cost.
STATE_CODEC = JSON_ENCODER
STATE_DECODER = msgspec.json.Decoder(dict[str, Any])


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


class AlertingConsumer(GroupConsumer):
    topics = (ALERT_CANDIDATES, ALERT_ACTIONS)
    group_id = f"{APP_ID}-alerting"
    assignors = (RangePartitionAssignor,)

    def __init__(self, runtime: Runtime, open_by_site: OpenAlertsBySite, declared: dict[str, Deployment],
                 views: list[CompactedTopicReplica]) -> None:
        super().__init__(runtime.config)
        self.runtime = runtime
        self.views = views
        self.settings = runtime.config.alerting
        self.open_by_site = open_by_site
        self.declared = declared
        self.states: dict[int, dict[str, State]] = {}
        """State per dedupe key, by partition (the partitions this worker owns)."""
        self._next_expiry = 0.0  # monotonic time of the next sweep for closed alerts past retention

    async def ready_to_consume(self) -> None:
        # Severity and correlation depend on the declared deployments and the open alerts.
        for view in self.views:
            await view.ready.wait()

    def reset(self) -> None:
        # After a failure, state may hold outcomes whose sends never landed: reload it from the topic.
        self.states.clear()

    async def maintain(self) -> list[Awaitable[Any]]:
        """Delete closed alerts past ``alerting.closed_alert_retention_s``: tombstones for each alert
        and for its key's state, so consoles and a restarted worker forget them too."""
        now = time.monotonic()
        if now < self._next_expiry:
            return []
        retention = self.settings.closed_alert_retention_s
        self._next_expiry = now + min(EXPIRY_EVERY_S, retention / 10)
        wall = time.time()
        pending: list[Awaitable[Any]] = []
        deleted: list[str] = []
        snapshots: list[str] = []
        states: list[tuple[str, bytes | None, int]] = []  # (key, new state or tombstone, partition)
        # A copy: a rebalance (at any await below) may take partitions away.
        for partition, held in list(self.states.items()):
            for key, state in list(held.items()):
                retired = state.get("retired", {})
                if expired(state, wall, retention):  # the whole key goes
                    del held[key]
                    gone, new_state = [*state["alerts"], *retired], None
                    snapshots += [ref for alert in state["alerts"].values() for ref in snapshot_refs(alert)]
                else:  # alerts pushed out of the key's list by newer ones (see lifecycle._with_alert)
                    gone = expired_retired(state, wall, retention)
                    if not gone:
                        continue
                    new_state = {k: v for k, v in state.items() if k != "retired"}
                    if kept := {alert_id: r for alert_id, r in retired.items() if alert_id not in gone}:
                        new_state["retired"] = kept
                    held[key] = new_state
                snapshots += [ref for alert_id in gone if alert_id in retired for ref in retired[alert_id]["snapshots"]]
                for alert_id in gone:
                    pending.append(await self.send(ALERTS, alert_id.encode(), None))
                deleted += gone
                states.append((key, None if new_state is None else STATE_CODEC.encode(new_state), partition))
        # As in handle: the alerts' tombstones land before the states that no longer list them.
        await asyncio.gather(*pending)
        for key, value, partition in states:
            pending.append(await self.send(ALERT_STATE, key.encode(), value, partition))
        if deleted:
            files = await asyncio.to_thread(delete_snapshots, snapshot_dir(self.config), snapshots)
            log.info("deleted %d closed alerts past their retention (%d keys), %d snapshot files", len(deleted),
                     len(states), files)
            metrics.MESSAGES_PRODUCED.labels(ALERTS).inc(len(deleted))
            metrics.MESSAGES_PRODUCED.labels(ALERT_STATE).inc(len(states))
        return pending

    async def rebuild_state(self, partitions: set[TopicPartition]) -> None:
        wanted = sorted({tp.partition for tp in partitions} - set(self.states))
        if wanted:
            started = time.monotonic()
            self.states.update(await self._load_states(wanted))
            log.info("alert state of partitions %s loaded in %.1fs", wanted, time.monotonic() - started)

    async def on_revoked(self, partitions: set[TopicPartition]) -> None:
        for partition in {tp.partition for tp in partitions}:
            self.states.pop(partition, None)

    async def _load_states(self, partitions: list[int]) -> dict[int, dict[str, State]]:
        """Read ``alerts.state`` partitions to their end: the latest state of every key."""
        states: dict[int, dict[str, State]] = {p: {} for p in partitions}
        for record in await read_to_end(self.config, ALERT_STATE, partitions):
            if record.key is None:
                continue
            if record.value is None:
                states[record.partition].pop(record.key.decode(), None)
            else:
                states[record.partition][record.key.decode()] = STATE_DECODER.decode(record.value)
        return states

    async def handle(self, records: Sequence[Record]) -> list[Awaitable[Any]]:
        pending: list[Awaitable[Any]] = []
        alerts: list[tuple[bytes | None, bytes | None]] = []  # to land before the states that record them
        changed: dict[tuple[int, str], State | None] = {}  # written once per key per fetch
        released: list[str] = []  # snapshots of evidence trimmed off repeating alerts
        max_bytes = self.config.kafka.max_message_bytes
        for record in records:
            key = record.key.decode(errors="replace") if record.key else ""
            state = self.states.setdefault(record.partition, {})
            outcome: Outcome | None
            try:
                if record.topic == ALERT_CANDIDATES:
                    candidate = decode_candidate(record.value, max_bytes)
                    outcome = await self._on_candidate(candidate, state.get(candidate.dedupe_key), pending)
                    key = candidate.dedupe_key
                else:
                    action = decode_model(AlertAction, record.value, max_bytes)
                    outcome = self._on_action(action, state.get(key))
            except Rejected as rejected:
                pending.append(await self._dead_letter(rejected, record))
                continue
            except Exception as error:  # a bug in us: the message goes aside, the rest flows
                log.error("internal %s while handling %s[%d]@%d; message dead-lettered", type(error).__name__,
                          record.topic, record.partition, record.offset)
                pending.append(await self._dead_letter(Rejected(
                    "unprocessable", f"internal error ({type(error).__name__}); see the worker log"), record))
                continue
            metrics.MESSAGES_CONSUMED.labels(record.topic, "ok").inc()
            if outcome is None or outcome.published is None:
                continue
            # Published (below) before its state is: a crash in between republishes the same alert id,
            # which the compacted topic and the console absorb; the reverse order could lose it.
            alerts.append((outcome.published["alert_id"].encode(), STATE_CODEC.encode(outcome.published)))
            assert outcome.state is not None
            state[key] = outcome.state
            changed[record.partition, key] = outcome.state
            released += outcome.released_snapshots
        if alerts:
            # Sent first is not stored first: alerts and alerts.state partitions may lead on different
            # brokers. A state stored without its alert would lose the alert to a crash, as the
            # redelivered candidate is a duplicate to that state. So: the alerts' acks, then the states.
            # As whole batches: aiokafka's per-record send (with the candidates' and states') was
            # about a tenth of a worker's time in a profile of a long ANPR run.
            published = await self.send_many(ALERTS, alerts)
            metrics.MESSAGES_PRODUCED.labels(ALERTS).inc(len(alerts))
            await asyncio.gather(*published)
            pending += published
        states: dict[int, list[tuple[bytes | None, bytes | None]]] = {}
        for (partition, key), state_value in changed.items():
            states.setdefault(partition, []).append((key.encode(), STATE_CODEC.encode(state_value)))
        for partition, records_of_partition in states.items():
            pending += await self.send_many(ALERT_STATE, records_of_partition, partition)
        if released:
            await asyncio.to_thread(delete_snapshots, snapshot_dir(self.config), released)
        return pending

    async def _on_candidate(self, candidate: AlertCandidateRecord, state: State | None,
                            pending: list[Awaitable[Any]]) -> Outcome:
        now = time.time()
        deployment = self.settings.deployment_at(candidate.site_id, candidate.event_time, self.declared.values())
        outcome = apply_candidate(state, candidate, now, self.settings.cooldown_s, deployment)
        if outcome.published is None:
            metrics.DUPLICATES_SUPPRESSED.labels(candidate.rule).inc()
            return outcome
        if outcome.kind == "new":
            correlated = await self._correlate(outcome.published, pending)
            if correlated is not outcome.published:
                new_state = dict(outcome.state or {})
                new_state["alerts"] = {**new_state["alerts"], correlated["alert_id"]: correlated}
                outcome = Outcome(new_state, correlated, outcome.kind)
            metrics.ALERTS_RAISED.labels(candidate.rule, correlated["severity"]).inc()
            metrics.EVENT_TO_ALERT.observe(max(0.0, now - candidate.event_time))
        else:
            metrics.ALERT_UPDATES.labels(candidate.rule).inc()
        return outcome

    async def _correlate(self, alert: AlertDoc, pending: list[Awaitable[Any]]) -> AlertDoc:
        """A watchlisted vehicle at a site with an open unattended item: escalate and link both."""
        if not self.settings.correlate_watchlist_with_unattended or alert["rule"] != "watchlist_hit" \
                or alert["site_id"] is None:
            return alert
        others = self.open_by_site.open_at(alert["site_id"], CORRELATED_RULE)
        if not others:
            return alert
        alert_id = alert["alert_id"]
        for other_id, other_key in others:
            link = AlertAction(action_id=f"corr-{uuid.uuid4().hex[:16]}", alert_id=other_id, action="link",
                               by="correlator", at=time.time(), linked_alert_id=alert_id,
                               severity="critical", reason=f"watchlisted vehicle {alert_id} at the site")
            pending.append(await self.send(ALERT_ACTIONS, other_key.encode(), encode(link)))
        metrics.CORRELATIONS.inc(len(others))
        return {**alert, "severity": "critical", "linked_alert_ids": [i for i, _ in others]}

    def _on_action(self, action: AlertAction, state: State | None) -> Outcome | None:
        outcome = apply_action(state, action, time.time())
        if outcome.kind in ("unknown_alert", "invalid"):
            raise Rejected("unprocessable", outcome.error or outcome.kind)
        if outcome.published is None:
            return None  # a replayed action
        metrics.ALERT_ACTIONS.labels(action.action).inc()
        if action.action == "acknowledge":
            metrics.TIME_TO_ACKNOWLEDGE.observe(max(0.0, action.at - outcome.published["raised_at"]))
        return outcome

    async def _dead_letter(self, rejected: Rejected, record: Record) -> Awaitable[Any]:
        metrics.MESSAGES_CONSUMED.labels(record.topic, "deadletter").inc()
        return await self.dead_letter(rejected, record)


def register(app: faust.App, runtime: Runtime) -> AlertingConsumer:
    open_by_site = OpenAlertsBySite(rules=(CORRELATED_RULE,))
    declared: dict[str, Deployment] = {}  # deployments declared at run time, by id
    views = [CompactedTopicReplica(runtime.config, DEPLOYMENTS, lambda k, v: apply_deployment(declared, k, v))]
    if runtime.config.alerting.correlate_watchlist_with_unattended:
        views.append(CompactedTopicReplica(runtime.config, ALERTS, open_by_site.apply))
    runtime.replicas.extend(views)
    consumer = AlertingConsumer(runtime, open_by_site, declared, views)

    @app.task(on_leader=False)
    async def work_alerts() -> None:
        await consumer.run()  # cancelled by Faust on shutdown; the consumer then leaves its group

    return consumer
