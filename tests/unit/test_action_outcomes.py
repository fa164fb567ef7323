"""What the console tells an operator about an action after its 202: applied, refused or pending."""

from __future__ import annotations

import asyncio
import base64

import pytest

from schemas.alerts import Alert, AlertAction, AlertHistoryEntry
from schemas.deadletter import DeadLetter
from streams.console import materialiser
from streams.console.auth import Principal
from streams.console.materialiser import ActionRejection, AlertView, rejection_of
from streams.console.metrics import ConsoleMetrics
from tests.console.conftest import make_alert


def alert(**fields: object) -> Alert:
    return make_alert(**{"alert_id": "al-1", "updated_at": 1.0, **fields})


def action(action_id: str = "act-1", by: str = "ann") -> AlertAction:
    return AlertAction(action_id=action_id, alert_id="al-1", action="acknowledge", by=by, at=2.0)


def refusal(action_id: str = "act-1", by: str = "ann") -> ActionRejection:
    return ActionRejection(action_id, "al-1", "acknowledge", by, "cannot acknowledge an alert that is resolved", 3.0)


def letter(value: bytes, source_topic: str = "alerts.actions") -> DeadLetter:
    return DeadLetter(reason="unprocessable", error="cannot acknowledge an alert that is resolved",
                      source_topic=source_topic, partition=0, offset=1, value_b64=base64.b64encode(value).decode(),
                      value_size=len(value), rejected_at=3.0)


def test_an_action_is_pending_until_the_alert_history_has_it() -> None:
    view = AlertView(ConsoleMetrics())
    view.apply(alert())
    view.action_sent(action())
    assert view.action_status("act-1") == ("pending", "al-1", None)
    entry = AlertHistoryEntry(at=2.0, by="ann", action="acknowledge", action_id="act-1")
    view.apply(alert(status="acknowledged", history=[entry], updated_at=2.0))
    assert view.action_status("act-1") == ("applied", "al-1", None)


def test_a_refusal_wins_and_is_known_even_for_another_consoles_action() -> None:
    view = AlertView(ConsoleMetrics())
    view.reject(refusal("act-elsewhere"))
    assert view.action_status("act-elsewhere") == ("rejected", "al-1", refusal("act-elsewhere"))
    assert view.action_status("act-never-seen") is None


def test_a_refusal_goes_only_to_the_live_feeds_of_the_user_who_acted() -> None:
    async def run() -> tuple[int, int]:
        view = AlertView(ConsoleMetrics())
        ann = view.subscribe(Principal("ann", "operator", "session"))
        bob = view.subscribe(Principal("bob", "supervisor", "session"))
        view.reject(refusal(by="ann"))
        return ann.queue.qsize(), bob.queue.qsize()

    assert asyncio.run(run()) == (1, 0)


def test_remembered_actions_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(materialiser, "ACTIONS_REMEMBERED", 3)
    view = AlertView(ConsoleMetrics())
    for n in range(5):
        view.action_sent(action(f"act-{n}"))
        view.reject(refusal(f"rej-{n}"))
    assert list(view.sent) == ["act-2", "act-3", "act-4"]
    assert list(view.rejected) == ["rej-2", "rej-3", "rej-4"]


def test_only_dead_lettered_actions_become_refusals() -> None:
    good = action().model_dump_json().encode()
    assert rejection_of(letter(good)) == ActionRejection("act-1", "al-1", "acknowledge", "ann",
                                                         "cannot acknowledge an alert that is resolved", 3.0)
    assert rejection_of(letter(good, source_topic="anpr.reads")) is None  # another topic's dead letter
    assert rejection_of(letter(b"{not json")) is None  # an action no operator sent: nobody to tell
    broken = letter(good).model_copy(update={"value_b64": "%%%"})
    assert rejection_of(broken) is None
