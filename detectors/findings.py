"""The one output type every detector produces.

A ``Finding`` is what a detector believes needs a human. The stream layer turns it into an
alert candidate; the alert id is derived from ``rule``, ``subject`` and ``first_evidence_id`` so
that re-processing the same events (at-least-once delivery) yields the same alert id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITY_ORDER: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a detector flags for an operator.

    >>> Finding(rule="watchlist_hit", subject="AB12CDE", severity="high", event_time=10.0,
    ...         first_evidence_id="read-1").evidence_ids
    ('read-1',)
    """

    rule: str
    """Machine name of the rule, e.g. ``watchlist_hit`` or ``unattended_item``."""
    subject: str
    """What the finding is about: a normalised plate, a camera id, a track id."""
    severity: Severity
    event_time: float
    """Event time (epoch seconds) of the evidence that completed the rule."""
    first_evidence_id: str
    """Id of the first evidence event; part of the idempotent alert id."""
    evidence_ids: tuple[str, ...] = ()
    camera_id: str | None = None
    site_id: str | None = None
    box: tuple[int, int, int, int] | None = None
    """``[x, y, w, h]`` in the source's pixels, for video findings."""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.evidence_ids:
            object.__setattr__(self, "evidence_ids", (self.first_evidence_id,))
