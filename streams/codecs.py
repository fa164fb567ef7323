"""Decoding raw Kafka bytes into wire models, and turning failures into dead letters.

Agents consume raw bytes and decode here, not in Faust's serializers, because a serializer
error happens before the agent sees the message: we could not dead-letter it with its offset.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

import msgspec
from pydantic import BaseModel, ValidationError

from schemas.adapters.openalpr import AdapterError, openalpr_to_reads
from schemas.alerts import ALERT_CANDIDATE_DECODER, AlertCandidate, AlertCandidateRecord
from schemas.anpr import (
    MAX_BATCH_READS,
    PLATE_READ_BATCH_DECODER,
    PLATE_READ_DECODER,
    PlateRead,
    PlateReadBatch,
    PlateReadRecord,
)
from schemas.base import WireModel
from schemas.deadletter import DeadLetter, DeadLetterReason

#: Bytes of an oversize message kept in its dead letter (enough to identify the sender).
OVERSIZE_SAMPLE_BYTES = 4096

Model = TypeVar("Model", bound=BaseModel)

#: What a msgspec decoder raises on bad input: bad UTF-8 in a field name or text raises
#: UnicodeDecodeError, not DecodeError (uncaught, that message would stop its partition for good).
MSGSPEC_DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError)


class Rejected(Exception):
    """A message cannot be accepted; ``reason`` is the dead-letter category."""

    def __init__(self, reason: DeadLetterReason, error: str) -> None:
        super().__init__(f"{reason}: {error}")
        self.reason: DeadLetterReason = reason
        self.error = error


def describe_validation_error(error: ValidationError, limit: int = 5) -> str:
    """One line naming each offending field, e.g. ``confidence: Input should be <= 1``."""
    parts = []
    for item in error.errors()[:limit]:
        path = ".".join(str(p) for p in item["loc"]) or "(message)"
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        parts.append(f"{path}: {message}")
    more = len(error.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def load_json(raw: bytes | None, max_bytes: int) -> Any:
    if raw is None:
        raise Rejected("undecodable", "empty message (null value)")
    if len(raw) > max_bytes:
        raise Rejected("oversize", f"{len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        # Decode explicitly: json.loads(bytes) would guess UTF-16/32 from a BOM; the contract is UTF-8.
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise Rejected("undecodable", f"not UTF-8: {error.reason} at byte {error.start}") from None
    except json.JSONDecodeError as error:
        raise Rejected("undecodable", f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise Rejected("undecodable", "JSON nested too deeply") from None


def validate(model: type[Model], data: Any) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise Rejected("schema_violation", f"{model.__name__}: {describe_validation_error(error)}") from None


def decode_model(model: type[Model], raw: bytes | None, max_bytes: int) -> Model:
    """``validate(model, load_json(raw, max_bytes))``, in one pass from bytes when the message is good.

    Why: pydantic-core parses and validates a good message in about a third of the time of
    ``json.loads`` plus ``model_validate``; a bad one takes the slow path, whose error says what is wrong.
    """
    if raw is not None and len(raw) <= max_bytes:
        try:
            return model.model_validate_json(raw)
        except ValidationError:
            pass
    return validate(model, load_json(raw, max_bytes))


def decode_candidate(raw: bytes | None, max_bytes: int) -> AlertCandidateRecord:
    """An ``alerts.candidates`` message as a struct (see ``schemas.alerts``, fast path).

    A message msgspec turns down is decoded by the model, which accepts its lax conversions or
    raises ``Rejected`` naming what is wrong.
    """
    if raw is not None and len(raw) <= max_bytes:
        try:
            return ALERT_CANDIDATE_DECODER.decode(raw)
        except MSGSPEC_DECODE_ERRORS:
            pass
    model = decode_model(AlertCandidate, raw, max_bytes)
    return msgspec.convert(model.model_dump(mode="json"), AlertCandidateRecord)


def decode_plate_reads(raw: bytes | None, max_bytes: int) -> tuple[list[PlateReadRecord], list[tuple[int, Rejected]]]:
    """Decode one read, a batch, or an OpenALPR/Rekor agent message into validated reads.

    Returns the valid reads and the rejected ones by batch index: a batch with a few bad reads
    still yields its good reads, so nothing valid is lost. Raises ``Rejected`` when the message
    as a whole is unusable.
    """
    if raw is not None and len(raw) <= max_bytes:
        try:  # fast path: a valid batch or read, validated straight from bytes
            if raw[:16].lstrip().startswith(b'{"reads"'):
                return PLATE_READ_BATCH_DECODER.decode(raw).reads, []
            return [PLATE_READ_DECODER.decode(raw)], []
        except MSGSPEC_DECODE_ERRORS:
            pass  # the models below accept a little more (lax numbers) and say exactly what is wrong
    data = load_json(raw, max_bytes)
    if isinstance(data, dict) and "data_type" in data:
        try:
            items: Any = openalpr_to_reads(data)
        except AdapterError as error:
            raise Rejected("schema_violation", f"OpenALPR message: {error}") from None
        return _validate_each(items, "results")
    if isinstance(data, dict) and "reads" in data:
        envelope = {k: v for k, v in data.items() if k != "reads"}
        items = data["reads"]
        if (not isinstance(items, list) or not items or len(items) > MAX_BATCH_READS
                or envelope not in ({}, {"schema_version": 1})):
            validate(PlateReadBatch, data)  # raises with the precise message
            raise AssertionError("unreachable: the batch failed validation above")
        return _validate_each(items, "reads")
    return [_record(validate(PlateRead, data))], []  # validate raises with the precise message


def _record(read: WireModel) -> PlateReadRecord:
    """A read the model accepted (maybe laxly, e.g. ``"lane": 1.0``) as the worker's struct."""
    return msgspec.convert(read.model_dump(exclude_none=True), PlateReadRecord)


def _validate_each(items: list[Any], where: str) -> tuple[list[PlateReadRecord], list[tuple[int, Rejected]]]:
    good: list[PlateReadRecord] = []
    bad: list[tuple[int, Rejected]] = []
    for index, item in enumerate(items):
        try:
            good.append(_record(PlateRead.model_validate(item)))
        except ValidationError as error:
            bad.append((index, Rejected("schema_violation",
                                        f"{where}.{index}: PlateRead: {describe_validation_error(error)}")))
    return good, bad


def dead_letter(
    rejected: Rejected,
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    kind: Literal["whole", "part"] = "whole",
) -> DeadLetter:
    value = value or b""
    kept = value[:OVERSIZE_SAMPLE_BYTES] if rejected.reason == "oversize" else value
    return DeadLetter(
        reason=rejected.reason,
        error=rejected.error if kind == "whole" else f"(part of a batch) {rejected.error}",
        source_topic=topic,
        partition=partition,
        offset=offset,
        key_b64=base64.b64encode(key).decode() if key is not None else None,
        value_b64=base64.b64encode(kept).decode(),
        value_size=len(value),
        rejected_at=time.time(),
    )


def encode(model: WireModel) -> bytes:
    return model.model_dump_json().encode()


#: msgspec's JSON encoder, for what the hot paths write that is not a pydantic model: candidate
#: structs (every field, defaults too, as ``model_dump_json`` writes them), alerts and key states.
JSON_ENCODER = msgspec.json.Encoder()


def encode_candidate(candidate: AlertCandidateRecord) -> bytes:
    return JSON_ENCODER.encode(candidate)


def encode_many(models: Sequence[WireModel]) -> list[bytes]:
    return [encode(m) for m in models]
