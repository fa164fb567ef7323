"""Open alerts by site, for correlation across alert keys (kept by every worker from ``alerts``)."""

from __future__ import annotations

import logging

import msgspec

from schemas.alerts import AlertStatus
from streams.codecs import MSGSPEC_DECODE_ERRORS
from streams.lifecycle import OPEN_STATUSES

log = logging.getLogger(__name__)


class _AlertHead(msgspec.Struct):
    """The fields of an ``Alert`` this view needs; msgspec skips the rest (evidence, details) unread.

    Why not the ``Alert`` model: every worker reads every alert back, and validating the whole
    alert cost ~25 us, most of it in evidence this view never looks at.
    """

    alert_id: str
    rule: str
    subject: str
    status: AlertStatus
    site_id: str | None = None


_ALERT_HEAD = msgspec.json.Decoder(_AlertHead)


class OpenAlertsBySite:
    """Which alerts of a rule are open at each site: ``(alert_id, dedupe key)`` pairs.

    >>> view = OpenAlertsBySite(rules=("unattended_item",))
    >>> view.open_at("market", "unattended_item")
    []
    """

    def __init__(self, rules: tuple[str, ...]) -> None:
        self.rules = rules
        self._open: dict[tuple[str, str], dict[str, str]] = {}

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            return
        try:
            alert = _ALERT_HEAD.decode(value)
        except MSGSPEC_DECODE_ERRORS:
            log.warning("skipping an unreadable record on alerts")
            return
        if alert.rule not in self.rules or alert.site_id is None:
            return
        bucket = self._open.setdefault((alert.site_id, alert.rule), {})
        if alert.status in OPEN_STATUSES:
            bucket[alert.alert_id] = f"{alert.rule}:{alert.subject}"
        else:
            bucket.pop(alert.alert_id, None)

    def open_at(self, site_id: str, rule: str) -> list[tuple[str, str]]:
        return sorted(self._open.get((site_id, rule), {}).items())
