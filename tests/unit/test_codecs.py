"""Decoding plate reads: every kind of bad input is rejected with a reason naming the problem."""

from __future__ import annotations

import json

import pytest

from schemas.alerts import AlertAction
from streams.codecs import Rejected, decode_model, decode_plate_reads, load_json

GOOD = {"read_id": "r1", "plate": "AB12CDE", "confidence": 0.9, "camera_id": "c", "event_time": 1.7e9}


def encode(value: object) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    ("raw", "reason", "message"),
    [
        (None, "undecodable", "null value"),
        (b"\xff\xfe", "undecodable", "not UTF-8"),
        # Bad UTF-8 in a field name or text: msgspec raises UnicodeDecodeError there, not DecodeError.
        (b'{"\xc3x": 1}', "undecodable", "not UTF-8"),
        (b'{"reads": [{"read_id": "\xc3"}]}', "undecodable", "not UTF-8"),
        (b'{"read_id": ', "undecodable", "not JSON"),
        (b"[" * 100_000, "undecodable", ""),
        (b"x" * 2000, "oversize", "exceeds the limit of 1000"),
        (encode(GOOD | {"confidence": 2}), "schema_violation", "confidence"),
        (encode(GOOD | {"speed": 3}), "schema_violation", "speed: unknown field"),
        (encode({k: v for k, v in GOOD.items() if k != "plate"}), "schema_violation", "plate: Field required"),
        (encode(GOOD | {"event_time": 1e300}), "schema_violation", "event_time"),
        (encode(GOOD | {"event_time": "yesterday"}), "schema_violation", "event_time"),
        (encode([GOOD]), "schema_violation", "PlateRead"),
        (encode({"reads": []}), "schema_violation", "reads"),
        (encode({"reads": "nope"}), "schema_violation", "reads"),
        (encode({"reads": [GOOD], "extra": 1}), "schema_violation", "extra"),
    ],
)
def test_bad_messages_are_rejected_with_reason(raw: bytes | None, reason: str, message: str) -> None:
    max_bytes = 1000 if reason == "oversize" else 1_000_000
    with pytest.raises(Rejected) as raised:
        decode_plate_reads(raw, max_bytes)
    assert raised.value.reason == reason
    assert message in raised.value.error


def test_batch_keeps_good_reads_and_reports_bad_ones_by_index() -> None:
    batch = {"reads": [GOOD, GOOD | {"read_id": "r2", "confidence": -1}, GOOD | {"read_id": "r3"}]}
    good, bad = decode_plate_reads(encode(batch), 1_000_000)
    assert [r.read_id for r in good] == ["r1", "r3"]
    assert [(index, rejected.reason) for index, rejected in bad] == [(1, "schema_violation")]
    assert "reads.1" in bad[0][1].error


def test_single_and_batch_decode() -> None:
    assert [r.read_id for r in decode_plate_reads(encode(GOOD), 10_000)[0]] == ["r1"]
    assert len(decode_plate_reads(encode({"reads": [GOOD] * 3}), 10_000)[0]) == 3


def test_load_json_accepts_unicode() -> None:
    assert load_json("{\"a\": \"Straße\"}".encode(), 100) == {"a": "Straße"}


def test_openalpr_agent_messages_become_reads() -> None:
    message = {"data_type": "alpr_group", "version": 2, "epoch_start": 1_700_000_000_000,
               "epoch_end": 1_700_000_001_500, "camera_id": 7, "agent_uid": "agent-1", "best_uuid": "u-1",
               "best_plate_number": "AB12CDE", "best_confidence": 91.2, "best_region": "gb",
               "travel_direction": 180.0, "best_plate": {"plate": "AB12CDE", "confidence": 91.2}}
    good, bad = decode_plate_reads(encode(message), 10_000)
    assert bad == [] and len(good) == 1
    assert good[0].plate == "AB12CDE" and 0.9 < good[0].confidence < 0.92


def test_openalpr_message_that_cannot_be_adapted_is_rejected_with_reason() -> None:
    with pytest.raises(Rejected) as raised:
        decode_plate_reads(encode({"data_type": "heartbeat"}), 10_000)
    assert raised.value.reason == "schema_violation" and "OpenALPR" in raised.value.error


def test_reads_the_fast_path_declines_but_the_model_accepts_are_kept() -> None:
    """msgspec is strict about numbers; pydantic's lax ``"lane": 1.0`` still gets through, whole or in a batch."""
    lax = GOOD | {"lane": 1.0}
    (single,), _ = decode_plate_reads(encode(lax), 10_000)
    good, bad = decode_plate_reads(encode({"reads": [lax, GOOD | {"read_id": "r2"}]}), 10_000)
    assert single.lane == 1 and [r.read_id for r in good] == ["r1", "r2"] and bad == []


ACTION = {"action_id": "a1", "alert_id": "al-1", "action": "resolve", "by": "ops", "at": 1.7e9, "reason": "done"}


@pytest.mark.parametrize("action", [ACTION, ACTION | {"by": "  ops  "}, ACTION | {"at": 1_700_000_000}])
def test_decode_model_from_bytes_agrees_with_the_model(action: dict[str, object]) -> None:
    assert decode_model(AlertAction, encode(action), 10_000) == AlertAction.model_validate(action)


@pytest.mark.parametrize(
    ("raw", "reason", "message"),
    [
        (None, "undecodable", "null value"),
        (b'{"action_id": ', "undecodable", "not JSON"),
        (b"\xff", "undecodable", "not UTF-8"),
        (encode(ACTION), "oversize", "exceeds the limit of 10"),
        (encode(ACTION | {"action": "explode"}), "schema_violation", "AlertAction: action: Input should be"),
        (encode(ACTION | {"extra": 1}), "schema_violation", "extra: unknown field"),
    ],
)
def test_decode_model_rejects_with_the_reason(raw: bytes | None, reason: str, message: str) -> None:
    with pytest.raises(Rejected) as raised:
        decode_model(AlertAction, raw, 10 if reason == "oversize" else 10_000)
    assert raised.value.reason == reason
    assert message in raised.value.error


CANDIDATE = {"alert_id": "al-1", "rule": "watchlist_hit", "subject": "AB12CDE", "severity": "high", "event_time": 1.7e9,
             "title": "Watchlisted vehicle", "evidence": [{"event_id": "r1", "event_time": 1.7e9, "box": [1, 2, 3, 4]}]}


@pytest.mark.parametrize(("change", "expected"), [
    ({}, {}),
    ({"event_time": 1700000000}, {"event_time": 1.7e9}),
    ({"restricted": "true"}, {"restricted": True}),  # turned down by the fast path, taken by the model
    ({"camera_id": None, "details": {"covert": True}}, {}),
])
def test_candidates_decode_as_the_model_reads_them(change: dict[str, object], expected: dict[str, object]) -> None:
    import msgspec

    from schemas.alerts import AlertCandidate
    from streams.codecs import decode_candidate

    raw = encode(CANDIDATE | change)
    decoded = msgspec.to_builtins(decode_candidate(raw, 10_000))
    assert decoded == AlertCandidate.model_validate_json(raw).model_dump(mode="json")
    wanted = {k: v for k, v in (CANDIDATE | change | expected).items() if k != "evidence"}
    assert {k: decoded[k] for k in wanted} == wanted
    assert decoded["evidence"][0]["box"] == [1, 2, 3, 4]


@pytest.mark.parametrize(("raw", "reason", "message"), [
    (encode(CANDIDATE | {"severity": "urgent"}), "schema_violation", "severity"),
    (encode(CANDIDATE | {"evidence": []}), "schema_violation", "evidence"),
    (encode(CANDIDATE | {"evidence": [{"event_id": "r1", "event_time": 1.0, "box": [1, 2]}]}), "schema_violation",
     "evidence.0.box"),
    (encode(CANDIDATE | {"extra": 1}), "schema_violation", "extra: unknown field"),
    (b"{", "undecodable", "not JSON"),
    (None, "undecodable", "null value"),
    (b'{"\xc3x": 1}', "undecodable", "not UTF-8"),
])
def test_bad_candidates_are_rejected_with_the_reason(raw: bytes | None, reason: str, message: str) -> None:
    from streams.codecs import decode_candidate

    with pytest.raises(Rejected) as caught:
        decode_candidate(raw, 10_000)
    assert caught.value.reason == reason and message in caught.value.error
