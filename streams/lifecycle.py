"""Alert lifecycle rules, pure: how a candidate or an operator action changes an alert.

The alerting agent keeps one state per dedupe key (``rule:subject``) in a Faust table and calls
these functions; they take time as an argument so tests and replays are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.alerts import Alert, AlertCandidate

#: Evidence ids remembered per alert to recognise redelivered events (bounded: memory).
REMEMBERED_EVIDENCE = 64
#: Evidence entries carried on the alert itself (the first, plus the latest repeats).
EVIDENCE_ON_ALERT = 10

OPEN_STATUSES = ("new", "acknowledged")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to do after a candidate: the new table state, and the alert to publish, if any."""

    state: dict[str, Any]
    alert: Alert | None
    kind: str
    """``new``, ``repeat`` (folded into the open alert) or ``duplicate`` (a redelivery)."""


def apply_candidate(state: dict[str, Any] | None, candidate: AlertCandidate, now: float,
                    cooldown_s: float) -> Outcome:
    """Fold a candidate into the state for its dedupe key.

    - the same evidence again (at-least-once redelivery) changes nothing;
    - a repeat within ``cooldown_s`` (event time) of an open alert's last sighting updates it;
    - otherwise a new alert with the candidate's idempotent id.
    """
    evidence_ids = [e.event_id for e in candidate.evidence]
    if state is not None:
        seen = set(state["evidence_ids"])
        if candidate.alert_id == state["alert"]["alert_id"] or evidence_ids[0] in seen:
            return Outcome(state, None, "duplicate")
        alert = Alert.model_validate(state["alert"])
        in_cooldown = candidate.event_time - alert.last_seen <= cooldown_s
        if alert.status in OPEN_STATUSES and in_cooldown:
            evidence = (alert.evidence[:1] + alert.evidence[1:] + candidate.evidence)
            updated = alert.model_copy(update={
                "count": alert.count + 1,
                "last_seen": max(alert.last_seen, candidate.event_time),
                "updated_at": now,
                "evidence": evidence[:1] + evidence[1:][-(EVIDENCE_ON_ALERT - 1):],
                "severity": _higher(alert.severity, candidate.severity),
            })
            remembered = (state["evidence_ids"] + evidence_ids)[-REMEMBERED_EVIDENCE:]
            return Outcome({"alert": updated.model_dump(mode="json"), "evidence_ids": remembered},
                           updated, "repeat")
    alert = Alert(
        alert_id=candidate.alert_id,
        rule=candidate.rule,
        subject=candidate.subject,
        severity=candidate.severity,
        title=candidate.title,
        camera_id=candidate.camera_id,
        site_id=candidate.site_id,
        first_seen=candidate.event_time,
        last_seen=candidate.event_time,
        raised_at=now,
        updated_at=now,
        restricted=candidate.restricted,
        evidence=candidate.evidence,
        details=candidate.details,
    )
    return Outcome({"alert": alert.model_dump(mode="json"), "evidence_ids": evidence_ids[-REMEMBERED_EVIDENCE:]},
                   alert, "new")


_SEVERITIES = ("info", "low", "medium", "high", "critical")


def _higher(a: str, b: str) -> Any:
    return a if _SEVERITIES.index(a) >= _SEVERITIES.index(b) else b
