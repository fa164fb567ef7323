"""Alert lifecycle: idempotent ids, redeliveries ignored, repeats folded within the cooldown."""

from __future__ import annotations

import pytest

from schemas.alerts import Alert, AlertAction, AlertCandidate, AlertCandidateRecord, Evidence, alert_id_for
from streams.agents.alerting import STATE_CODEC, STATE_DECODER
from streams.codecs import decode_candidate, encode
from streams.lifecycle import (
    ALERTS_PER_KEY,
    EVIDENCE_ON_ALERT,
    MAX_ALERTS_PER_KEY,
    apply_action,
    apply_candidate,
    current_alert,
    expired,
    expired_retired,
)


def candidate(read_id: str, t: float, severity: str = "high", subject: str = "AB12CDE",
              snapshot: str | None = None) -> AlertCandidateRecord:
    """A candidate as the alerting consumer gets it: published by a detector, decoded off the topic."""
    model = AlertCandidate(alert_id=alert_id_for("watchlist_hit", subject, read_id), rule="watchlist_hit",
                           subject=subject, severity=severity, event_time=t, title="Watchlisted vehicle",  # type: ignore[arg-type]
                           evidence=[Evidence(event_id=read_id, event_time=t, snapshot_ref=snapshot, box=(1, 2, 3, 4),
                                              data={"plate": subject, "confidence": 0.9})])
    return decode_candidate(encode(model), 1_048_576)


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


def action(alert_id: str, kind: str, action_id: str = "a1", **fields: object) -> AlertAction:
    return AlertAction(action_id=action_id, alert_id=alert_id, action=kind, by="op1", at=500.0,  # type: ignore[arg-type]
                       **fields)  # type: ignore[arg-type]


def raised() -> tuple[dict[str, object], str]:
    outcome = apply_candidate(None, candidate("r1", 100.0), 101.0, 300)
    assert outcome.alert is not None and outcome.state is not None
    return outcome.state, outcome.alert.alert_id


@pytest.mark.parametrize(
    ("steps", "final_status", "error"),
    [
        ([("acknowledge", {})], "acknowledged", None),
        ([("acknowledge", {}), ("resolve", {"reason": "towed"})], "resolved", None),
        ([("dismiss", {"reason": "false read"})], "dismissed", None),
        ([("resolve", {})], "new", "resolve needs a reason"),
        ([("dismiss", {"reason": "x"}), ("acknowledge", {})], "dismissed",
         "cannot acknowledge an alert that is dismissed"),
        ([("acknowledge", {}), ("acknowledge", {})], "acknowledged",
         "cannot acknowledge an alert that is acknowledged"),
        ([("assign", {})], "new", "assign needs an assignee"),
    ],
)
def test_action_transitions(steps: list[tuple[str, dict[str, object]]], final_status: str, error: str | None) -> None:
    state, alert_id = raised()
    last = None
    for number, (kind, fields) in enumerate(steps):
        last = apply_action(state, action(alert_id, kind, action_id=f"a{number}", **fields), now=600.0)
        state = last.state or state
    assert last is not None
    assert last.error == error
    alert = current_alert(state)
    assert alert is not None and alert.status == final_status


def test_actions_record_history_assignee_and_ignore_replays() -> None:
    state, alert_id = raised()
    assigned = apply_action(state, action(alert_id, "assign", assignee="op2"), 600.0)
    assert assigned.alert is not None and assigned.alert.assignee == "op2"
    assert [(h.by, h.action) for h in assigned.alert.history] == [("op1", "assign")]
    assert assigned.state is not None
    replay = apply_action(assigned.state, action(alert_id, "assign", assignee="op2"), 601.0)
    assert replay.kind == "duplicate" and replay.alert is None


def test_action_on_unknown_alert_is_reported() -> None:
    state, _ = raised()
    assert apply_action(state, action("al-nope", "acknowledge"), 600.0).kind == "unknown_alert"
    assert apply_action(None, action("al-nope", "acknowledge"), 600.0).kind == "unknown_alert"


def test_action_on_an_older_alert_of_the_same_key_still_applies() -> None:
    state, first_id = raised()
    later = apply_candidate(state, candidate("r9", 1000.0), 1001.0, 300)  # after the cooldown: a new alert
    assert later.state is not None and later.alert is not None and later.alert.alert_id != first_id
    acted = apply_action(later.state, action(first_id, "acknowledge"), 1002.0)
    assert acted.alert is not None and acted.alert.alert_id == first_id and acted.alert.status == "acknowledged"
    assert current_alert(acted.state) is not None
    assert current_alert(acted.state).alert_id == later.alert.alert_id  # type: ignore[union-attr]


def test_deployment_raises_severity_and_names_itself() -> None:
    outcome = apply_candidate(None, candidate("r1", 100.0, severity="medium"), 101.0, 300,
                              deployment=("Christmas market", 1))
    assert outcome.alert is not None
    assert outcome.alert.severity == "high" and outcome.alert.details["deployment"] == "Christmas market"


def test_link_escalates_and_records_the_other_alert() -> None:
    state, alert_id = raised()
    linked = apply_action(state, action(alert_id, "link", linked_alert_id="al-x", severity="critical"), 600.0)
    assert linked.alert is not None
    assert linked.alert.severity == "critical" and linked.alert.linked_alert_ids == ["al-x"]


def test_evidence_trimmed_off_a_repeating_alert_releases_its_snapshot() -> None:
    state = apply_candidate(None, candidate("r0", 100.0, snapshot="r0.jpg"), 100.0, 300).state
    released: list[str] = []
    for n in range(1, EVIDENCE_ON_ALERT + 2):  # two repeats more than the alert carries
        outcome = apply_candidate(state, candidate(f"r{n}", 100.0 + n, snapshot=f"r{n}.jpg"), 100.0 + n, 300)
        assert outcome.kind == "repeat" and outcome.alert is not None
        state, released = outcome.state, released + list(outcome.released_snapshots)
    assert outcome.alert is not None
    shown = [e.snapshot_ref for e in outcome.alert.evidence]
    assert released == ["r1.jpg", "r2.jpg"]  # the oldest repeats; the first read's image stays
    assert shown[0] == "r0.jpg" and not set(released) & set(shown) and len(shown) == EVIDENCE_ON_ALERT


def resolve(state: dict[str, object] | None, alert_id: str, at: float) -> dict[str, object] | None:
    outcome = apply_action(state, action(alert_id, "resolve", action_id=f"res-{alert_id}", reason="done"), at)
    assert outcome.kind == "applied", outcome.error
    return outcome.state


def test_closed_alerts_pushed_out_of_a_key_are_kept_for_deletion_and_open_ones_stay() -> None:
    state = None
    ids = []
    for n in range(ALERTS_PER_KEY + 1):  # each past the cooldown: a new alert under the same key
        t = 1000.0 * (n + 1)
        outcome = apply_candidate(state, candidate(f"r{n}", t, snapshot=f"r{n}.jpg"), t, 300)
        assert outcome.kind == "new" and outcome.alert is not None
        ids.append(outcome.alert.alert_id)
        state = outcome.state
        if n == 0:  # the first one stays open: it must never be pushed out
            continue
        if n < ALERTS_PER_KEY:  # the last one is current and open
            state = resolve(state, outcome.alert.alert_id, t + 1)
    assert state is not None
    alerts, retired = state["alerts"], state["retired"]
    assert isinstance(alerts, dict) and isinstance(retired, dict)
    assert ids[0] in alerts and len(alerts) == ALERTS_PER_KEY  # open, though the oldest
    assert list(retired) == [ids[1]]  # the oldest closed one
    assert retired[ids[1]]["snapshots"] == ["r1.jpg"]
    # Its retention runs from its last change (resolved at 2001); the key itself is not expired.
    assert expired_retired(state, 2001.0 + 50, 100.0) == []
    assert expired_retired(state, 2001.0 + 150, 100.0) == [ids[1]]
    assert not expired(state, 1e9, 100.0)  # an open alert keeps the key


def test_a_key_stays_bounded_where_nobody_closes_alerts() -> None:
    state = None
    ids = []
    for n in range(MAX_ALERTS_PER_KEY + 3):  # all left open
        t = 1000.0 * (n + 1)
        outcome = apply_candidate(state, candidate(f"r{n}", t), t, 300)
        assert outcome.alert is not None
        ids.append(outcome.alert.alert_id)
        state = outcome.state
    assert state is not None
    alerts, retired = state["alerts"], state["retired"]
    assert isinstance(alerts, dict) and isinstance(retired, dict)
    assert list(alerts) == ids[3:] and list(retired) == ids[:3]  # the oldest open ones retire, to be deleted in time
    # Acting on one says why it cannot change, not that there is no such alert.
    late = apply_action(state, action(ids[0], "resolve", reason="done"), 1e5)
    assert late.kind == "unknown_alert" and late.alert is None and late.state is state
    assert late.error is not None and "archived" in late.error


def test_a_state_read_back_from_its_topic_gives_the_same_outcomes_as_the_one_in_memory() -> None:
    """The worker keeps states in memory and reloads them from ``alerts.state`` (as its codec
    wrote them) after a restart: either way, every candidate and action has the same outcome."""
    in_memory: dict[str, object] | None = None
    reloaded: dict[str, object] | None = None
    steps: list[AlertCandidateRecord | AlertAction] = [candidate(f"r{n}", 100.0 + 10 * n, snapshot=f"r{n}.jpg")
                                                 for n in range(EVIDENCE_ON_ALERT + 3)]
    first_id = alert_id_for("watchlist_hit", "AB12CDE", "r0")
    steps += [candidate("r12", 220.0),  # redelivered
              action(first_id, "assign", assignee="op2"), candidate("r50", 600.0),
              action(first_id, "resolve", action_id="res", reason="stopped"), candidate("r60", 2000.0)]
    for n, step in enumerate(steps):
        now = 1000.0 + n
        if isinstance(step, AlertCandidateRecord):
            ours, theirs = apply_candidate(in_memory, step, now, 300), apply_candidate(reloaded, step, now, 300)
        else:
            ours, theirs = apply_action(in_memory, step, now), apply_action(reloaded, step, now)
        assert (ours.kind, ours.published, ours.state) == (theirs.kind, theirs.published, theirs.state), f"step {n}"
        in_memory, reloaded = ours.state, STATE_DECODER.decode(STATE_CODEC.encode(ours.state))
    assert current_alert(in_memory) == current_alert(reloaded)
    assert current_alert(in_memory) is not None and current_alert(in_memory).count == 1  # type: ignore[union-attr]


def test_published_alerts_are_exactly_what_the_alert_model_publishes() -> None:
    """Candidates are folded in on plain dicts, not models (speed): every alert published, new,
    repeated or acted on, must still be a valid ``Alert`` with nothing missing, extra or converted."""
    state = None
    published = []
    first_id = alert_id_for("watchlist_hit", "AB12CDE", "r0")
    steps: list[AlertCandidateRecord | AlertAction] = [
        candidate("r0", 100.0, snapshot="r0.jpg"), candidate("r1", 110.0, severity="critical"),
        action(first_id, "assign", assignee="op2"), action(first_id, "resolve", action_id="res", reason="stopped"),
        candidate("r2", 2000.0)]
    for n, step in enumerate(steps):
        if isinstance(step, AlertCandidateRecord):
            outcome = apply_candidate(state, step, 1000.0 + n, 300, deployment=("Christmas market", 1))
        else:
            outcome = apply_action(state, step, 1000.0 + n)
        assert outcome.published is not None, outcome
        published.append(outcome.kind)
        assert Alert.model_validate(outcome.published).model_dump(mode="json") == outcome.published
        assert STATE_DECODER.decode(STATE_CODEC.encode(outcome.published)) == outcome.published
        state = outcome.state
    assert published == ["new", "repeat", "applied", "applied", "new"]
