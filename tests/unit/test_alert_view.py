"""The open-alerts-by-site view every worker keeps from ``alerts`` (for correlation)."""

from __future__ import annotations

from schemas.alerts import Alert, Evidence
from streams.alert_view import OpenAlertsBySite
from streams.codecs import encode


def alert(alert_id: str, status: str = "new", rule: str = "unattended_item", site: str | None = "market") -> bytes:
    return encode(Alert.model_validate({
        "alert_id": alert_id, "rule": rule, "subject": f"cam-1:{alert_id}", "severity": "high", "status": status,
        "title": "Unattended item", "site_id": site, "first_seen": 1.0, "last_seen": 2.0, "raised_at": 2.0,
        "updated_at": 2.0, "evidence": [Evidence(event_id="f1", event_time=1.0, data={"box": [1, 2, 3, 4]})],
        "details": {"dwell_s": 90}}))


def test_open_alerts_of_the_rule_are_listed_by_site_until_closed() -> None:
    view = OpenAlertsBySite(rules=("unattended_item",))
    for value in (alert("a1"), alert("a2", status="acknowledged"), alert("a3", site="station"),
                  alert("a4", rule="loitering"), alert("a5", site=None)):
        view.apply(None, value)
    assert view.open_at("market", "unattended_item") == [("a1", "unattended_item:cam-1:a1"),
                                                         ("a2", "unattended_item:cam-1:a2")]
    view.apply(None, alert("a1", status="resolved"))
    view.apply(b"a2", None)  # a tombstone says nothing about status: the alert stays as it was
    assert view.open_at("market", "unattended_item") == [("a2", "unattended_item:cam-1:a2")]
    assert view.open_at("station", "unattended_item") == [("a3", "unattended_item:cam-1:a3")]
    assert view.open_at("market", "loitering") == []


def test_unreadable_records_are_skipped() -> None:
    view = OpenAlertsBySite(rules=("unattended_item",))
    bad_utf8 = b'{"alert_id": "\xc3x"}'
    for value in (b"not json", b'{"alert_id": "a1"}', alert("a1").replace(b'"new"', b'"lost"'), bad_utf8):
        view.apply(None, value)
    view.apply(None, alert("a2"))
    assert view.open_at("market", "unattended_item") == [("a2", "unattended_item:cam-1:a2")]
