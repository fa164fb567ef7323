"""Turning detector findings into alert candidates (the wire model the alerting agent reads)."""

from __future__ import annotations

from collections.abc import Sequence

from detectors.findings import Finding
from schemas.alerts import AlertCandidate, Evidence, alert_id_for

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


def candidate_from_finding(finding: Finding, evidence: Sequence[Evidence], *, title: str | None = None,
                           restricted: bool = False) -> AlertCandidate:
    """Wrap a finding with its evidence; the alert id depends only on rule, subject and first evidence."""
    return AlertCandidate(
        alert_id=alert_id_for(finding.rule, finding.subject, finding.first_evidence_id),
        rule=finding.rule,
        subject=finding.subject,
        severity=finding.severity,
        event_time=finding.event_time,
        camera_id=finding.camera_id,
        site_id=finding.site_id,
        title=title or TITLES.get(finding.rule, finding.rule.replace("_", " ").capitalize()),
        evidence=list(evidence),
        details=dict(finding.details),
        restricted=restricted,
    )
