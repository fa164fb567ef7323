"""Camera frames on ``camera.frames``: the value is the JPEG itself, metadata in Kafka headers.

Why headers: a frame is tens of kilobytes of JPEG; wrapping it in JSON would cost a base64 copy
and a parse per frame. Key = camera id, so one worker owns each camera's background model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from schemas.base import WireModel

HEADER_TIME = "wf-time"
HEADER_SEQUENCE = "wf-seq"
HEADER_CONTENT_TYPE = "content-type"
HEADER_SCHEMA = "wf-schema"


class FrameHeaders(WireModel):
    """The Kafka headers of one frame message (each value UTF-8 text)."""

    # Other headers (tracing, the integrator's own) are allowed and ignored.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    schema_version: int = Field(default=1, ge=1, le=1, alias="wf-schema", description="Header format version.")
    event_time: float = Field(alias="wf-time", ge=946_684_800.0, le=4_102_444_800.0,
                              description="Capture time, epoch seconds (UTC).")
    sequence: int = Field(alias="wf-seq", ge=0, description="Frame number from the publisher, for gap detection.")
    content_type: Literal["image/jpeg"] = Field(default="image/jpeg", alias="content-type")

    @classmethod
    def from_kafka(cls, headers: object) -> FrameHeaders:
        """Parse Kafka headers given as a list of ``(name, bytes)`` pairs or a mapping."""
        pairs: Any = headers.items() if isinstance(headers, dict) else (headers or [])
        text = {str(k): (v.decode("utf-8", "replace") if isinstance(v, bytes | bytearray) else str(v))
                for k, v in pairs}
        return cls.model_validate(text)

    @classmethod
    def create(cls, event_time: float, sequence: int) -> FrameHeaders:
        return cls.model_validate({"event_time": event_time, "sequence": sequence})

    def to_kafka(self) -> list[tuple[str, bytes]]:
        return [(HEADER_SCHEMA, b"1"), (HEADER_TIME, f"{self.event_time:.6f}".encode()),
                (HEADER_SEQUENCE, str(self.sequence).encode()), (HEADER_CONTENT_TYPE, b"image/jpeg")]


WIRE_MODELS = {"camera.frame_headers": FrameHeaders}
