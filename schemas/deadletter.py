"""Dead-letter records: anything a worker could not accept, with the original bytes and why."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import WireModel

DeadLetterReason = Literal[
    "undecodable",  # not UTF-8 / not JSON
    "schema_violation",  # JSON, but not a valid message for the topic
    "oversize",  # larger than the accepted maximum
    "unprocessable",  # valid, but a detector could not process it (e.g. corrupt JPEG)
]


class DeadLetter(WireModel):
    """One rejected message, on topic ``deadletter``."""

    schema_version: Literal[1] = 1
    reason: DeadLetterReason
    error: str = Field(description="Human-readable explanation, naming the offending field where known.")
    source_topic: str
    partition: int
    offset: int
    key_b64: str | None = Field(default=None, description="Original key bytes, base64.")
    value_b64: str = Field(description="Original value bytes, base64 (truncated for oversize messages).")
    value_size: int = Field(description="Size of the original value in bytes.")
    rejected_at: float = Field(description="Wall time of rejection, epoch seconds.")


WIRE_MODELS = {"deadletter.record": DeadLetter}
