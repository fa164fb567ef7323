"""Wire model of topic ``camera.detections``: edge-analytics tracks and boxes for one frame.

Integrators (or an adapter such as ``schemas.adapters.deepstream``) publish one
``DetectionFrame`` per camera frame, keyed by camera id. Unknown keys are rejected so a typo
is reported instead of being silently ignored.

>>> frame = DetectionFrame.model_validate({
...     "event_id": "cam-1:1717236000.04", "camera_id": "cam-1",
...     "event_time": "2024-06-01T10:00:00.040Z",
...     "objects": [{"track_id": "42", "class_name": "Person", "confidence": 0.91,
...                  "box": [612, 188, 74, 210]}]})
>>> frame.event_time, frame.objects[0].class_name
(1717236000.04, 'person')
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

MAX_OBJECTS_PER_FRAME = 500
"""Upper bound on ``DetectionFrame.objects``; bigger frames are rejected (and dead-lettered)."""

MAX_ATTRIBUTES = 32


def parse_event_time(value: Any) -> Any:
    """Accept epoch seconds or an ISO-8601 string with a zone offset; return epoch seconds.

    Naive ISO strings are rejected: a control room cannot guess which zone a camera meant.

    >>> parse_event_time("2024-06-01T10:00:00Z")
    1717236000.0
    >>> parse_event_time(1717236000)
    1717236000
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            try:
                return float(text)  # numeric strings are tolerated (some bridges stringify numbers)
            except ValueError:
                raise ValueError(f"event_time {value!r} is neither epoch seconds nor ISO-8601") from None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise ValueError(f"event_time {value!r} has no time zone; add 'Z' or an offset like '+01:00'")
        return parsed.timestamp()
    return value


EventTime = Annotated[
    float,
    BeforeValidator(parse_event_time),
    Field(ge=0, le=32_503_680_000, allow_inf_nan=False),  # up to year 3000: catches ms-instead-of-s
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 32_503_680_000},
                {"type": "string", "format": "date-time"},
            ],
            "description": "Event time: epoch seconds (float), or ISO-8601 with a zone offset.",
        },
        mode="validation",
    ),
    WithJsonSchema({"type": "number", "minimum": 0, "description": "Epoch seconds."}, mode="serialization"),
]

PixelCoord = Annotated[float, Field(ge=-100_000, le=100_000, allow_inf_nan=False)]
PixelSize = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
AttributeValue = str | int | float | bool | None


class TrackedObject(BaseModel):
    """One tracked object in a frame."""

    model_config = ConfigDict(extra="forbid")

    track_id: str = Field(
        min_length=1, max_length=128,
        description="Tracker id, stable while the edge tracker follows the object; unique per camera.",
    )
    class_name: str = Field(
        min_length=1, max_length=64,
        description="Object class, e.g. person, bag, backpack, suitcase, vehicle. Case-insensitive; "
        "stored lower-case.",
    )
    confidence: float = Field(ge=0.0, le=1.0, allow_inf_nan=False, description="Detector confidence 0..1.")
    box: tuple[PixelCoord, PixelCoord, PixelSize, PixelSize] = Field(
        description="[x, y, w, h] in the camera image's pixels, top-left origin."
    )
    attributes: dict[Annotated[str, Field(min_length=1, max_length=64)], AttributeValue] | None = Field(
        default=None, max_length=MAX_ATTRIBUTES,
        description="Optional free-form attributes (colour, vehicle type, analytics event...). "
        "Never put personal data such as number plates here; plates go to anpr.reads.",
    )

    @field_validator("class_name", mode="before")
    @classmethod
    def _lower_class(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("attributes")
    @classmethod
    def _short_strings(cls, attrs: dict[str, AttributeValue] | None) -> dict[str, AttributeValue] | None:
        for key, value in (attrs or {}).items():
            if isinstance(value, str) and len(value) > 256:
                raise ValueError(f"attribute {key!r} is longer than 256 characters")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"attribute {key!r} is not a finite number")
        return attrs


class DetectionFrame(BaseModel):
    """All objects one camera's edge analytics reported for one frame."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = Field(default=1, description="Wire format version of this message.")
    event_id: str = Field(
        min_length=1, max_length=128,
        description="Unique id of this message; findings cite it as evidence. Re-sending the same "
        "frame must reuse the same id.",
    )
    camera_id: str = Field(min_length=1, max_length=128, description="Camera id (also the Kafka key).")
    event_time: EventTime = Field(
        description="Capture time of the frame: epoch seconds (float), or an ISO-8601 string with a "
        "zone offset, e.g. '2024-06-01T10:00:00.040Z' (normalised to epoch seconds)."
    )
    frame_width: int | None = Field(default=None, ge=1, le=16_384, description="Image width in pixels.")
    frame_height: int | None = Field(default=None, ge=1, le=16_384, description="Image height in pixels.")
    objects: list[TrackedObject] = Field(
        default_factory=list, max_length=MAX_OBJECTS_PER_FRAME,
        description="Tracked objects in this frame. Send empty frames too: they advance the "
        "camera's event clock, so objects that have gone expire on time.",
    )

    @model_validator(mode="after")
    def _unique_tracks(self) -> DetectionFrame:
        seen: set[str] = set()
        for obj in self.objects:
            if obj.track_id in seen:
                raise ValueError(f"track_id {obj.track_id!r} appears twice in one frame")
            seen.add(obj.track_id)
        return self


WIRE_MODELS: dict[str, type[BaseModel]] = {"camera.detections": DetectionFrame}
"""Topic name -> wire model, for JSON Schema generation."""
