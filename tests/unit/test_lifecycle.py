"""Alert lifecycle: idempotent ids, redeliveries ignored, repeats folded within the cooldown."""

from __future__ import annotations

from schemas.alerts import AlertCandidate, Evidence, alert_id_for
from streams.lifecycle import apply_candidate


def candidate(read_id: str, t: float, severity: str = "high", subject: str = "AB12CDE") -> AlertCandidate:
    return AlertCandidate(alert_id=alert_id_for("watchlist_hit", subject, read_id), rule="watchlist_hit",
                          subject=subject, severity=severity, event_time=t, title="Watchlisted vehicle",  # type: ignore[arg-type]
                          evidence=[Evidence(event_id=read_id, event_time=t)])


def test_first_candidate_raises_a_new_alert_with_its_id() -> None:
    outcome = apply_candidate(None, candidate("r1", 100.0), now=101.0, cooldown_s=300)
    assert outcome.kind == "new" and outcome.alert is not None
    assert outcome.alert.alert_id == alert_id_for("watchlist_hit", "AB12CDE", "r1")
    assert outcome.alert.count == 1 and outcome.alert.status == "new"


def test_redelivered_evidence_changes_nothing() -> None:
    state = apply_candidate(None, candidate("r1", 100.0), 101.0, 300).state
    again = apply_candidate(state, candidate("r1", 100.0), 105.0, 300)
    assert again.kind == "duplicate" and again.alert is None and again.state == state


def test_repeat_within_cooldown_updates_open_alert() -> None:
    state = apply_candidate(None, candidate("r1", 100.0), 101.0, 300).state
    repeat = apply_candidate(state, candidate("r2", 200.0, severity="critical"), 201.0, 300)
    assert repeat.kind == "repeat" and repeat.alert is not None
    assert repeat.alert.alert_id == alert_id_for("watchlist_hit", "AB12CDE", "r1")
    assert (repeat.alert.count, repeat.alert.last_seen, repeat.alert.severity) == (2, 200.0, "critical")
    # and the repeat's evidence, replayed, is recognised too
    assert apply_candidate(repeat.state, candidate("r2", 200.0), 202.0, 300).kind == "duplicate"


def test_repeat_after_cooldown_raises_a_new_alert() -> None:
    state = apply_candidate(None, candidate("r1", 100.0), 101.0, 300).state
    later = apply_candidate(state, candidate("r9", 1000.0), 1001.0, 300)
    assert later.kind == "new" and later.alert is not None
    assert later.alert.alert_id == alert_id_for("watchlist_hit", "AB12CDE", "r9")


def test_out_of_order_repeat_keeps_latest_last_seen() -> None:
    state = apply_candidate(None, candidate("r1", 100.0), 101.0, 300).state
    late = apply_candidate(state, candidate("r0", 90.0), 102.0, 300)
    assert late.alert is not None and late.alert.last_seen == 100.0 and late.alert.count == 2
