"""Validation of the camera.detections wire model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.detections import MAX_OBJECTS_PER_FRAME, WIRE_MODELS, DetectionFrame, TrackedObject


def obj(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"track_id": "42", "class_name": "person", "confidence": 0.9,
                              "box": [10, 20, 30, 60]}
    fields.update(overrides)
    return fields


def message(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"event_id": "e-1", "camera_id": "cam-1", "event_time": 1717236000.04,
                              "objects": [obj()]}
    fields.update(overrides)
    return fields


def test_valid_message() -> None:
    frame = DetectionFrame.model_validate(message(frame_width=1920, frame_height=1080))
    assert frame.schema_version == 1
    assert frame.objects[0].box == (10.0, 20.0, 30.0, 60.0)
    assert frame.objects[0].attributes is None


def test_valid_json_round_trip() -> None:
    frame = DetectionFrame.model_validate(message(objects=[obj(attributes={"colour": "red", "n": 2})]))
    again = DetectionFrame.model_validate_json(frame.model_dump_json())
    assert again == frame


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1717236000, 1717236000.0),
        (1717236000.04, 1717236000.04),
        ("1717236000.5", 1717236000.5),
        ("2024-06-01T10:00:00Z", 1717236000.0),
        ("2024-06-01T10:00:00.040Z", 1717236000.04),
        ("2024-06-01T11:00:00+01:00", 1717236000.0),
        ("2024-06-01T10:00:00.123456+00:00", 1717236000.123456),
    ],
)
def test_event_time_forms(value: Any, expected: float) -> None:
    assert DetectionFrame.model_validate(message(event_time=value)).event_time == pytest.approx(expected)


def test_class_name_is_lower_cased() -> None:
    frame = DetectionFrame.model_validate(message(objects=[obj(class_name=" Backpack ")]))
    assert frame.objects[0].class_name == "backpack"


@pytest.mark.parametrize(
    ("overrides", "message_part"),
    [
        ({"event_time": "2024-06-01T10:00:00"}, "no time zone"),
        ({"event_time": "yesterday"}, "neither epoch seconds nor ISO-8601"),
        ({"event_time": 1717236000040}, "less than or equal"),  # milliseconds, not seconds
        ({"event_time": -1}, "greater than or equal"),
        ({"event_time": float("nan")}, "event_time"),
        ({"schema_version": 2}, "Input should be 1"),
        ({"event_id": ""}, "at least 1 character"),
        ({"camera": "cam-1"}, "Extra inputs are not permitted"),
        ({"frame_width": 0}, "greater than or equal to 1"),
        ({"objects": [obj(confidence=1.2)]}, "less than or equal to 1"),
        ({"objects": [obj(confidence=-0.1)]}, "greater than or equal to 0"),
        ({"objects": [obj(box=[0, 0, -5, 10])]}, "greater than or equal to 0"),
        ({"objects": [obj(box=[0, 0, 5])]}, "Field required"),
        ({"objects": [obj(box=[0, 0, 5, 5, 5])]}, "at most 4 items"),
        ({"objects": [obj(track_id="")]}, "at least 1 character"),
        ({"objects": [obj(colour="red")]}, "Extra inputs are not permitted"),
        ({"objects": [obj(attributes={f"k{i}": i for i in range(33)})]}, "at most 32 items"),
        ({"objects": [obj(attributes={"note": "x" * 300})]}, "longer than 256"),
        ({"objects": [obj(attributes={"nested": {"a": 1}})]}, "attributes.nested"),
        ({"objects": [obj(), obj()]}, "appears twice"),
        ({"objects": [obj(track_id=str(i)) for i in range(MAX_OBJECTS_PER_FRAME + 1)]}, "at most 500 items"),
    ],
)
def test_bad_values_rejected(overrides: dict[str, Any], message_part: str) -> None:
    with pytest.raises(ValidationError, match=message_part):
        DetectionFrame.model_validate(message(**overrides))


def test_max_objects_accepted() -> None:
    objects = [obj(track_id=str(i)) for i in range(MAX_OBJECTS_PER_FRAME)]
    assert len(DetectionFrame.model_validate(message(objects=objects)).objects) == MAX_OBJECTS_PER_FRAME


def test_wire_models_and_json_schema() -> None:
    assert {"camera.detections": DetectionFrame} == WIRE_MODELS
    schema = DetectionFrame.model_json_schema()
    json.dumps(schema)  # serialisable
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["TrackedObject"]["additionalProperties"] is False
    assert {"event_id", "camera_id", "event_time"} <= set(schema["required"])
    time_forms = schema["properties"]["event_time"]["anyOf"]
    assert {"type": "string", "format": "date-time"} in time_forms
    assert all(p.get("description") for p in schema["properties"].values())
    assert all(p.get("description") for p in schema["$defs"]["TrackedObject"]["properties"].values())


def test_tracked_object_standalone() -> None:
    assert TrackedObject.model_validate(obj()).confidence == 0.9
