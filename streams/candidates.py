"""Turning detector findings into alert candidates (the wire model the alerting agent reads)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from detectors.findings import Finding
from schemas.alerts import AlertAction, AlertCandidateRecord, EvidenceRecord, alert_id_for

CLEARED_SUFFIX = "_cleared"

TITLES = {
    "watchlist_hit": "Watchlisted vehicle",
    "cloned_plate": "Possible cloned plate (impossible journey)",
    "circling": "Vehicle circling a site",
    "convoy": "Vehicles travelling in convoy",
    "unattended_item": "Unattended item",
    "unattended_item_cleared": "Unattended item removed",
    "loitering": "Loitering",
    "intrusion": "Intrusion into a restricted zone",
    "crowd_limit": "Crowd over limit",
    "camera_covered": "Camera covered or blacked out",
    "camera_defocused": "Camera defocused",
    "camera_moved": "Camera moved (scene shifted)",
    "camera_frozen": "Camera picture frozen",
    "camera_feed_lost": "Camera feed lost",
}


def candidate_from_finding(finding: Finding, evidence: Sequence[EvidenceRecord], *, title: str | None = None,
                           restricted: bool = False, details: Mapping[str, Any] | None = None
                           ) -> AlertCandidateRecord:
    """Wrap a finding with its evidence; the alert id depends only on rule, subject and first evidence.

    A struct, not the ``AlertCandidate`` model: built from a finding and evidence already valid, it
    needs no validation here (the alerting consumer validates what it reads), and building and
    encoding the model was a fifth of the ANPR pipeline's cost once its rules' window was full.
    """
    return AlertCandidateRecord(
        alert_id=alert_id_for(finding.rule, finding.subject, finding.first_evidence_id),
        rule=finding.rule,
        subject=finding.subject,
        severity=finding.severity,
        event_time=finding.event_time,
        camera_id=finding.camera_id,
        site_id=finding.site_id,
        title=title or TITLES.get(finding.rule, finding.rule.replace("_", " ").capitalize()),
        evidence=list(evidence),
        details=dict(finding.details if details is None else details),
        restricted=restricted,
    )


def clearance_from_finding(finding: Finding) -> tuple[bytes, AlertAction]:
    """A ``<rule>_cleared`` finding becomes a ``clear`` action on the alert it ends.

    The detector gives the clearance the same first evidence as the alarm, so the alarm's id
    (and its dedupe key, the Kafka key of ``alerts.actions``) can be derived here.
    """
    rule = finding.rule.removesuffix(CLEARED_SUFFIX)
    alert_id = alert_id_for(rule, finding.subject, finding.first_evidence_id)
    action = AlertAction(action_id=f"clear-{alert_id}-{finding.evidence_ids[-1]}"[:64], alert_id=alert_id,
                         action="clear", by="detector", at=finding.event_time,
                         reason=f"{TITLES.get(rule, rule)}: condition ended")
    return f"{rule}:{finding.subject}".encode(), action
