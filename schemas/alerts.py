"""Alerts: candidates from detectors, alerts for operators, and operator actions."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import Field

from schemas.base import WireModel

Severity = Literal["info", "low", "medium", "high", "critical"]
AlertStatus = Literal["new", "acknowledged", "resolved", "dismissed"]
ActionKind = Literal["acknowledge", "assign", "resolve", "dismiss", "comment", "link", "clear"]


def alert_id_for(rule: str, subject: str, first_evidence_id: str) -> str:
    """Derive the idempotent alert id: the same evidence always yields the same id.

    >>> alert_id_for("watchlist_hit", "AB12CDE", "r1") == alert_id_for("watchlist_hit", "AB12CDE", "r1")
    True
    """
    digest = hashlib.sha256(f"{rule}\x1f{subject}\x1f{first_evidence_id}".encode()).hexdigest()
    return f"al-{digest[:24]}"


class Evidence(WireModel):
    """One event an alert rests on."""

    event_id: str = Field(description="Id of the source event (read id, frame id, ...).")
    event_time: float = Field(description="Event time, epoch seconds.")
    camera_id: str | None = None
    source_topic: str | None = None
    snapshot_ref: str | None = Field(default=None, description="Where the console can fetch an image.")
    box: tuple[int, int, int, int] | None = Field(default=None, description="[x, y, w, h] in source pixels.")
    data: dict[str, Any] = Field(default_factory=dict, description="The event's own fields.")


class AlertCandidate(WireModel):
    """What an agent emits to ``alerts.candidates``; the alerting agent dedupes them into alerts."""

    schema_version: Literal[1] = 1
    alert_id: str
    rule: str
    subject: str
    severity: Severity
    event_time: float
    camera_id: str | None = None
    site_id: str | None = None
    title: str
    evidence: list[Evidence] = Field(min_length=1)
    details: dict[str, Any] = Field(default_factory=dict)
    restricted: bool = Field(default=False, description="Covert: only supervisors and above may see it.")

    @property
    def dedupe_key(self) -> str:
        return f"{self.rule}:{self.subject}"


class AlertHistoryEntry(WireModel):
    at: float
    by: str
    action: str
    note: str | None = None
    action_id: str | None = Field(default=None, description="The operator action this entry records.")


class Alert(WireModel):
    """An alert as operators see it; latest state per ``alert_id`` on the compacted ``alerts`` topic."""

    schema_version: Literal[1] = 1
    alert_id: str
    rule: str
    subject: str
    severity: Severity
    status: AlertStatus = "new"
    title: str
    camera_id: str | None = None
    site_id: str | None = None
    first_seen: float = Field(description="Event time of the first evidence.")
    last_seen: float = Field(description="Event time of the latest repeat.")
    count: int = Field(default=1, ge=1, description="How many times it fired within the cooldown.")
    raised_at: float = Field(description="Wall time the alert was first published.")
    updated_at: float
    assignee: str | None = None
    resolution: str | None = None
    restricted: bool = False
    evidence: list[Evidence]
    details: dict[str, Any] = Field(default_factory=dict)
    history: list[AlertHistoryEntry] = Field(default_factory=list)
    linked_alert_ids: list[str] = Field(default_factory=list)


class AlertAction(WireModel):
    """An operator's action on an alert, on topic ``alerts.actions``."""

    schema_version: Literal[1] = 1
    action_id: str = Field(min_length=1, max_length=64)
    alert_id: str
    action: ActionKind
    by: str = Field(min_length=1, max_length=64)
    at: float
    assignee: str | None = None
    reason: str | None = Field(default=None, max_length=1000)
    linked_alert_id: str | None = Field(default=None, description="For ``link``: the correlated alert.")
    severity: Severity | None = Field(default=None, description="For ``link``: escalate to at least this.")


WIRE_MODELS = {
    "alerts.candidate": AlertCandidate,
    "alerts.alert": Alert,
    "alerts.action": AlertAction,
}
