"""Alerts: candidates from detectors, alerts for operators, and operator actions."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

import msgspec
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


# -- fast path -----------------------------------------------------------------------------------
# The alerting consumer decodes candidates with msgspec, into structs: ~2 us a candidate against
# ~15 us for the pydantic model, and from there works on JSON-ready dicts (see streams.lifecycle).
# These mirror ``AlertCandidate`` and ``Evidence`` field for field and constraint for constraint;
# tests/unit/test_schemas.py fails if they drift apart. Two differences, both on the safe side:
# anything msgspec rejects is decoded again by the models, which accept pydantic's lax conversions
# and name the problem; and ``box`` is a list of four, as the models write it in JSON.
# Not stripped of surrounding whitespace as the models' strings are: candidates come from
# watchfloor's own detectors, which write none.

class EvidenceRecord(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, gc=False):
    event_id: str
    event_time: float
    camera_id: str | None = None
    source_topic: str | None = None
    snapshot_ref: str | None = None
    box: Annotated[list[int], msgspec.Meta(min_length=4, max_length=4)] | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class AlertCandidateRecord(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, gc=False):
    """A validated ``AlertCandidate`` as the alerting consumer holds it."""

    schema_version: Literal[1] = 1
    alert_id: str
    rule: str
    subject: str
    severity: Severity
    event_time: float
    camera_id: str | None = None
    site_id: str | None = None
    title: str
    evidence: Annotated[list[EvidenceRecord], msgspec.Meta(min_length=1)]
    details: dict[str, Any] = msgspec.field(default_factory=dict)
    restricted: bool = False

    @property
    def dedupe_key(self) -> str:
        return f"{self.rule}:{self.subject}"


ALERT_CANDIDATE_DECODER = msgspec.json.Decoder(AlertCandidateRecord)


WIRE_MODELS = {
    "alerts.candidate": AlertCandidate,
    "alerts.alert": Alert,
    "alerts.action": AlertAction,
}
