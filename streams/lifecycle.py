"""Alert lifecycle rules, pure: how a candidate or an operator action changes alerts.

The alerting consumer keeps one state per dedupe key (``rule:subject``), in memory and on the
compacted ``alerts.state`` topic, and calls these functions; they take time as an argument so
tests and replays are deterministic.

State per key: the latest few alerts for that key (an operator may still act on an older one),
which of them is current, the evidence ids seen recently (to recognise redeliveries), and the
closed alerts pushed out of that list (``retired``), kept only as what their deletion needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from schemas.alerts import Alert, AlertAction, AlertCandidateRecord, AlertHistoryEntry, Severity

#: Evidence ids remembered per key to recognise redelivered events (bounded: memory).
REMEMBERED_EVIDENCE = 64
#: Evidence entries carried on the alert itself (the first, plus the latest repeats).
EVIDENCE_ON_ALERT = 10
#: Alerts remembered per key so late operator actions on an older alert still apply.
ALERTS_PER_KEY = 5
#: Open alerts beyond ALERTS_PER_KEY are kept too, up to this many in all (the state of a key is
#: one Kafka message, so it must stay bounded even where nobody closes alerts).
MAX_ALERTS_PER_KEY = 20

OPEN_STATUSES = ("new", "acknowledged")
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")

#: Which status an action needs, and which it leads to (``None``: status unchanged).
TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "acknowledge": (("new",), "acknowledged"),
    "assign": (OPEN_STATUSES, None),
    "resolve": (OPEN_STATUSES, "resolved"),
    "dismiss": (OPEN_STATUSES, "dismissed"),
    "comment": (("new", "acknowledged", "resolved", "dismissed"), None),
    "link": (("new", "acknowledged", "resolved", "dismissed"), None),
    # A detector saw the condition end (item removed, camera uncovered); operators still close it.
    "clear": (("new", "acknowledged", "resolved", "dismissed"), None),
}

AlertDoc = dict[str, Any]
"""An alert as a JSON-ready dict, what ``Alert.model_dump(mode="json")`` gives: as a key's state
holds it and as it is published. Candidates are folded in on these, not on ``Alert`` models: a
model's validation and dump were most of a candidate's cost (tests check the two agree)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to do next: the new table state, and the alert to publish, if any."""

    state: dict[str, Any] | None
    published: AlertDoc | None
    """The alert to publish (it is also in ``state``)."""
    kind: str
    """``new``, ``repeat``, ``duplicate``, ``applied``, ``unknown_alert`` or ``invalid``."""
    error: str | None = None
    released_snapshots: tuple[str, ...] = ()
    """Snapshot refs no alert points to any more (evidence trimmed off a repeating alert): to delete."""

    @property
    def alert(self) -> Alert | None:
        """``published`` as the validated model."""
        return None if self.published is None else Alert.model_validate(self.published)


def snapshot_refs(alert: dict[str, Any]) -> list[str]:
    """The snapshot refs of an alert's evidence (an alert as stored in the state)."""
    return [ref for evidence in alert.get("evidence", ()) if (ref := evidence.get("snapshot_ref"))]


def escalate(severity: Severity, steps: int) -> Severity:
    """Raise a severity by ``steps`` levels, capped at critical.

    >>> escalate("medium", 1), escalate("high", 3)
    ('high', 'critical')
    """
    return SEVERITIES[min(len(SEVERITIES) - 1, SEVERITIES.index(severity) + steps)]


def higher(a: Severity, b: Severity) -> Severity:
    return a if SEVERITIES.index(a) >= SEVERITIES.index(b) else b


def current_alert(state: dict[str, Any] | None) -> Alert | None:
    if not state:
        return None
    return Alert.model_validate(state["alerts"][state["current"]])


def _with_alert(state: dict[str, Any] | None, alert: AlertDoc, evidence_ids: list[str], make_current: bool
                ) -> dict[str, Any]:
    alerts = dict(state["alerts"]) if state else {}
    alerts[alert["alert_id"]] = alert
    current = alert["alert_id"] if make_current or not state else state["current"]
    retired = dict(state.get("retired", {})) if state else {}
    # Past ALERTS_PER_KEY the oldest closed alerts leave the list; open ones stay, so operators can
    # still close them, unless there are more than MAX_ALERTS_PER_KEY. A retired alert is still on
    # the alerts topic: what its deletion at the end of the retention needs is kept.
    older = sorted((a for a in alerts if a != current), key=lambda a: alerts[a]["first_seen"])
    closed = [a for a in older if alerts[a]["status"] not in OPEN_STATUSES]
    leaving = closed[:max(0, len(alerts) - ALERTS_PER_KEY)]
    still_open = [a for a in older if a not in leaving and a not in closed]
    leaving += still_open[:max(0, len(alerts) - len(leaving) - MAX_ALERTS_PER_KEY)]
    for alert_id in leaving:
        gone = alerts.pop(alert_id)
        retired[alert_id] = {"updated_at": gone["updated_at"], "snapshots": snapshot_refs(gone)}
    remembered = ((state["evidence_ids"] if state else []) + evidence_ids)[-REMEMBERED_EVIDENCE:]
    new_state = {"alerts": alerts, "current": current, "evidence_ids": remembered}
    if retired:
        new_state["retired"] = retired
    return new_state


def expired(state: dict[str, Any], now: float, retention_s: float) -> bool:
    """True when every alert under a key is closed and none changed within ``retention_s`` of ``now``.

    >>> closed = {"alerts": {"a1": {"status": "resolved", "updated_at": 100.0}}, "current": "a1"}
    >>> expired(closed, 200.0, 50.0), expired(closed, 120.0, 50.0)
    (True, False)
    >>> expired({"alerts": {"a1": {"status": "acknowledged", "updated_at": 0.0}}, "current": "a1"}, 1e9, 1.0)
    False
    """
    alerts = state["alerts"].values()
    return all(a["status"] not in OPEN_STATUSES and now - a["updated_at"] > retention_s for a in alerts)


def expired_retired(state: dict[str, Any], now: float, retention_s: float) -> list[str]:
    """The retired alerts of a key (out of its list) unchanged for longer than ``retention_s``.

    >>> state = {"alerts": {}, "retired": {"a1": {"updated_at": 100.0, "snapshots": []},
    ...                                    "a2": {"updated_at": 190.0, "snapshots": []}}}
    >>> expired_retired(state, 200.0, 50.0)
    ['a1']
    """
    return [alert_id for alert_id, kept in state.get("retired", {}).items() if now - kept["updated_at"] > retention_s]


def apply_candidate(state: dict[str, Any] | None, candidate: AlertCandidateRecord, now: float, cooldown_s: float,
                    deployment: tuple[str, int] | None = None) -> Outcome:
    """Fold a candidate into the state for its dedupe key.

    - the same evidence again (at-least-once redelivery) changes nothing;
    - a repeat within ``cooldown_s`` (event time) of the open alert's last sighting updates it;
    - otherwise a new alert with the candidate's idempotent id, its severity raised by
      ``deployment`` (name, levels) when it happened inside an active deployment zone.
    """
    evidence_ids = [e.event_id for e in candidate.evidence]
    if state and (candidate.alert_id in state["alerts"] or evidence_ids[0] in set(state["evidence_ids"])):
        return Outcome(state, None, "duplicate")
    new_evidence: list[dict[str, Any]] = msgspec.to_builtins(candidate.evidence)
    if state:
        current = state["alerts"][state["current"]]
        if current["status"] in OPEN_STATUSES and candidate.event_time - current["last_seen"] <= cooldown_s:
            evidence = current["evidence"] + new_evidence
            kept = evidence[:1] + evidence[1:][-(EVIDENCE_ON_ALERT - 1):]
            updated = {**current, "count": current["count"] + 1,
                       "last_seen": max(current["last_seen"], candidate.event_time), "updated_at": now,
                       "evidence": kept, "severity": higher(current["severity"], candidate.severity)}
            still_shown = {e["snapshot_ref"] for e in kept}
            # Trimmed evidence is no longer shown anywhere: its snapshot goes now, not at retention.
            released = tuple(dict.fromkeys(ref for e in evidence
                                           if (ref := e["snapshot_ref"]) and ref not in still_shown))
            return Outcome(_with_alert(state, updated, evidence_ids, make_current=True), updated, "repeat",
                           released_snapshots=released)
    severity = candidate.severity
    details = dict(candidate.details)
    if deployment is not None:
        name, steps = deployment
        severity = escalate(severity, steps)
        details["deployment"] = name
    alert: AlertDoc = {
        "schema_version": 1, "alert_id": candidate.alert_id, "rule": candidate.rule, "subject": candidate.subject,
        "severity": severity, "status": "new", "title": candidate.title, "camera_id": candidate.camera_id,
        "site_id": candidate.site_id, "first_seen": candidate.event_time, "last_seen": candidate.event_time,
        "count": 1, "raised_at": now, "updated_at": now, "assignee": None, "resolution": None,
        "restricted": candidate.restricted, "evidence": new_evidence, "details": details, "history": [],
        "linked_alert_ids": [],
    }
    return Outcome(_with_alert(state, alert, evidence_ids, make_current=True), alert, "new")


def apply_action(state: dict[str, Any] | None, action: AlertAction, now: float) -> Outcome:
    """Apply an operator (or correlation) action to the alert it names.

    Replayed actions (same ``action_id``) change nothing; an action the alert's status does not
    allow, or on an alert this key does not know, is reported with the reason.
    """
    if not state or action.alert_id not in state["alerts"]:
        if state and action.alert_id in state.get("retired", {}):
            return Outcome(state, None, "unknown_alert", (
                f"alert {action.alert_id} is archived and can no longer change: newer alerts of the same rule "
                "and subject pushed it out of the key's state; act on the newest one"))
        return Outcome(state, None, "unknown_alert", f"no alert {action.alert_id} under this key")
    alert = Alert.model_validate(state["alerts"][action.alert_id])
    if any(entry.action_id == action.action_id for entry in alert.history):
        return Outcome(state, None, "duplicate")
    allowed, target = TRANSITIONS[action.action]
    if alert.status not in allowed:
        return Outcome(state, None, "invalid", f"cannot {action.action} an alert that is {alert.status}")
    if action.action in ("resolve", "dismiss") and not action.reason:
        return Outcome(state, None, "invalid", f"{action.action} needs a reason")
    if action.action == "assign" and not action.assignee:
        return Outcome(state, None, "invalid", "assign needs an assignee")
    if action.action == "link" and not action.linked_alert_id:
        return Outcome(state, None, "invalid", "link needs linked_alert_id")
    update: dict[str, Any] = {"updated_at": now}
    note = action.reason
    if target:
        update["status"] = target
    if action.action in ("resolve", "dismiss"):
        update["resolution"] = action.reason
    if action.action == "assign":
        update["assignee"] = action.assignee
        note = f"assigned to {action.assignee}"
    if action.action == "link" and action.linked_alert_id:
        if action.linked_alert_id not in alert.linked_alert_ids:
            update["linked_alert_ids"] = [*alert.linked_alert_ids, action.linked_alert_id]
        if action.severity:
            update["severity"] = higher(alert.severity, action.severity)
        note = note or f"linked to {action.linked_alert_id}"
    if action.action == "clear":
        update["details"] = {**alert.details, "cleared": True, "cleared_at": action.at}
        note = note or "condition cleared"
    entry = AlertHistoryEntry(at=action.at, by=action.by, action=action.action, note=note,
                              action_id=action.action_id)
    update["history"] = [*alert.history, entry]
    updated = alert.model_copy(update=update).model_dump(mode="json")
    return Outcome(_with_alert(state, updated, [], make_current=False), updated, "applied")
