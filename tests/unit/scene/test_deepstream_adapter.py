"""DeepStream nvmsgconv "full" schema -> DetectionFrame."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from schemas.adapters.deepstream import (
    UNTRACKED_OBJECT_ID,
    AdapterError,
    deepstream_to_frame,
    frame_event_id,
    merge_deepstream_messages,
    merge_frames,
)
from schemas.detections import DetectionFrame

SHARED_SCHEMA = Path(__file__).resolve().parents[4] / "shared" / "data" / "schemas" / "deepstream_nv_schema.json"

# Shaped like nvmsgconv's generate_event_message() output (DeepStream 6.x/7.x "full" schema).
VEHICLE_MESSAGE: dict[str, Any] = {
    "messageid": "3f1c2a9e-5b7d-4c1e-9f0a-2d6b8e4c7a10",
    "mdsversion": "1.0",
    "@timestamp": "2024-06-01T10:00:00.040Z",
    "place": {
        "id": "1",
        "name": "Station Road car park",
        "type": "garage",
        "location": {"lat": 51.5074, "lon": -0.1278, "alt": 11.0},
        "aisle": {"id": "walsh", "name": "lane1", "level": "P2",
                  "coordinate": {"x": 1.0, "y": 2.0, "z": 3.0}},
    },
    "sensor": {
        "id": "carpark-cam-2",
        "type": "Camera",
        "description": "Entrance of Station Road car park",
        "location": {"lat": 51.5074, "lon": -0.1278, "alt": 14.0},
        "coordinate": {"x": 5.2, "y": 10.1, "z": 11.2},
    },
    "analyticsModule": {"id": "XYZ", "description": "Vehicle Detection and License Plate Recognition",
                        "source": "OpenALR", "version": "1.0"},
    "object": {
        "id": "957",
        "speed": 0.0,
        "direction": 0.0,
        "orientation": 0.0,
        "vehicle": {"type": "sedan", "make": "Ford", "model": "Focus", "color": "blue",
                    "licenseState": "GB", "license": "AB12CDE", "confidence": 0.82},
        "bbox": {"topleftx": 1834, "toplefty": 150, "bottomrightx": 1918, "bottomrighty": 215},
        "location": {"lat": 0.0, "lon": 0.0, "alt": 0.0},
        "coordinate": {"x": 0.0, "y": 0.0, "z": 0.0},
    },
    "event": {"id": "8a2b6c1d-0e4f-4a7b-9c3d-5e6f7a8b9c0d", "type": "moving"},
    "videoPath": "",
}

PERSON_MESSAGE: dict[str, Any] = {
    "messageid": "b7e0c7a4-1d2e-4f3a-8b9c-0d1e2f3a4b5c",
    "mdsversion": "1.0",
    "@timestamp": "2024-06-01T10:00:00.040Z",
    "sensor": {"id": "lobby-cam-3", "type": "Camera", "description": "Lobby"},
    "analyticsModule": {"id": "peoplenet", "description": "", "source": "", "version": "2.6"},
    "object": {
        "id": "42",
        "speed": 0.0,
        "direction": 0.0,
        "orientation": 0.0,
        # nvmsgconv writes empty placeholders when no secondary classifier ran.
        "person": {"age": 0, "gender": "", "hair": "", "cap": "", "apparel": "", "confidence": 0.91},
        "bbox": {"topleftx": 612, "toplefty": 188, "bottomrightx": 686, "bottomrighty": 398},
        "location": {"lat": 0.0, "lon": 0.0, "alt": 0.0},
        "coordinate": {"x": 0.0, "y": 0.0, "z": 0.0},
    },
    "event": {"id": "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f", "type": "entry"},
    "videoPath": "",
}


def bag_message(track: str = "77", ts: str = "2024-06-01T10:00:00.040Z") -> dict[str, Any]:
    """NVDS_OBJECT_TYPE_UNKNOWN with objectId "bag": an empty sub-object named after the label."""
    msg = copy.deepcopy(PERSON_MESSAGE)
    msg["messageid"] = f"msg-{track}-{ts}"
    msg["@timestamp"] = ts
    del msg["object"]["person"]
    msg["object"]["id"] = track
    msg["object"]["bag"] = {}
    msg["object"]["bbox"] = {"topleftx": 131.0, "toplefty": 325.0, "bottomrightx": 187.0, "bottomrighty": 378.0}
    return msg


def without(msg: dict[str, Any], dotted: str) -> dict[str, Any]:
    out = copy.deepcopy(msg)
    *parents, leaf = dotted.split(".")
    node = out
    for key in parents:
        node = node[key]
    del node[leaf]
    return out


def with_value(msg: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(msg)
    *parents, leaf = dotted.split(".")
    node = out
    for key in parents:
        node = node[key]
    node[leaf] = value
    return out


def test_vehicle_message() -> None:
    frame = deepstream_to_frame(VEHICLE_MESSAGE)
    assert frame.camera_id == "carpark-cam-2"
    assert frame.event_time == pytest.approx(1717236000.04)
    assert frame.event_id == "ds:carpark-cam-2:1717236000040"
    assert len(frame.objects) == 1
    obj = frame.objects[0]
    assert (obj.track_id, obj.class_name, obj.confidence) == ("957", "vehicle", 0.82)
    assert obj.box == (1834.0, 150.0, 84.0, 65.0)
    assert obj.attributes is not None
    assert obj.attributes["make"] == "Ford" and obj.attributes["ds_event_type"] == "moving"
    assert obj.attributes["ds_messageid"] == VEHICLE_MESSAGE["messageid"]
    # The plate is personal data: it belongs on anpr.reads, never in scene metadata.
    assert "license" not in obj.attributes and "licenseState" not in obj.attributes
    assert "AB12CDE" not in frame.model_dump_json()


def test_person_message_drops_placeholders() -> None:
    frame = deepstream_to_frame(PERSON_MESSAGE)
    obj = frame.objects[0]
    assert (obj.class_name, obj.confidence, obj.box) == ("person", 0.91, (612.0, 188.0, 74.0, 210.0))
    assert obj.attributes == {"ds_event_type": "entry", "ds_analytics_module": "peoplenet",
                              "ds_messageid": PERSON_MESSAGE["messageid"]}


def test_unknown_type_uses_label_as_class() -> None:
    obj = deepstream_to_frame(bag_message()).objects[0]
    assert (obj.class_name, obj.confidence, obj.box) == ("bag", 1.0, (131.0, 325.0, 56.0, 53.0))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(-0.10000000149011612, 0.0), (None, 1.0), (0.5, 0.5), (1, 1.0), (0, 0.0)],
)
def test_confidence_mapping(raw: float | None, expected: float) -> None:
    msg = with_value(PERSON_MESSAGE, "object.person.confidence", raw)
    assert deepstream_to_frame(msg).objects[0].confidence == expected


def test_tracking_id_field_wins_over_object_id() -> None:
    msg = with_value(PERSON_MESSAGE, "object.trackingId", "1001")
    msg["object"]["id"] = "person"
    assert deepstream_to_frame(msg).objects[0].track_id == "1001"


def test_numeric_ids_are_accepted() -> None:
    msg = with_value(PERSON_MESSAGE, "object.id", 42)
    msg["sensor"]["id"] = 3
    frame = deepstream_to_frame(msg)
    assert (frame.camera_id, frame.objects[0].track_id) == ("3", "42")


def test_untracked_object_gets_per_message_id() -> None:
    msg = with_value(PERSON_MESSAGE, "object.id", UNTRACKED_OBJECT_ID)
    assert deepstream_to_frame(msg).objects[0].track_id == f"untracked:{PERSON_MESSAGE['messageid']}"


def test_camera_id_override_allows_missing_sensor() -> None:
    frame = deepstream_to_frame(without(PERSON_MESSAGE, "sensor"), camera_id="from-kafka-key")
    assert frame.camera_id == "from-kafka-key"


@pytest.mark.parametrize("raw", [json.dumps(PERSON_MESSAGE), json.dumps(PERSON_MESSAGE).encode()])
def test_json_text_and_bytes(raw: str | bytes) -> None:
    assert deepstream_to_frame(raw) == deepstream_to_frame(PERSON_MESSAGE)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (without(PERSON_MESSAGE, "@timestamp"), "@timestamp: missing"),
        (with_value(PERSON_MESSAGE, "@timestamp", 1717236000), "@timestamp: expected an ISO-8601 string"),
        (with_value(PERSON_MESSAGE, "@timestamp", "2024-06-01T10:00:00.040"), "@timestamp: .*no time zone"),
        (with_value(PERSON_MESSAGE, "@timestamp", "not a time"), "@timestamp: .*neither"),
        (without(PERSON_MESSAGE, "sensor"), "sensor: missing"),
        (without(PERSON_MESSAGE, "sensor.id"), "sensor.id: missing"),
        (with_value(PERSON_MESSAGE, "sensor.id", ""), "sensor.id: expected a non-empty string"),
        (with_value(PERSON_MESSAGE, "sensor", "cam"), "sensor: expected a JSON object"),
        (without(PERSON_MESSAGE, "object"), "object: missing"),
        (with_value(PERSON_MESSAGE, "object", []), "object: expected a JSON object"),
        (without(PERSON_MESSAGE, "object.id"), "object.id: missing"),
        (with_value(PERSON_MESSAGE, "object.id", ""), "object.id: expected a non-empty string"),
        (without(PERSON_MESSAGE, "object.bbox"), "object.bbox: missing"),
        (without(PERSON_MESSAGE, "object.bbox.topleftx"), "object.bbox.topleftx: missing"),
        (with_value(PERSON_MESSAGE, "object.bbox.toplefty", "188"), "object.bbox.toplefty: expected a finite"),
        (with_value(PERSON_MESSAGE, "object.bbox.bottomrightx", True), "object.bbox.bottomrightx: expected"),
        (with_value(PERSON_MESSAGE, "object.bbox.bottomrighty", 100), "object.bbox: bottom-right"),
        (without(PERSON_MESSAGE, "object.person"), "object: no class sub-object"),
        (with_value(PERSON_MESSAGE, "object.face", {}), r"object: several class sub-objects \(face, person\)"),
        (with_value(PERSON_MESSAGE, "object.person.confidence", 1.5), "object.person.confidence: 1.5 is above 1"),
        (with_value(PERSON_MESSAGE, "object.person.confidence", "high"), "object.person.confidence: expected"),
        (with_value(PERSON_MESSAGE, "object.bbox.topleftx", -200_000), "object: box.0"),
        ([PERSON_MESSAGE], "message: expected a JSON object, got list"),
        (b"{not json", "message: not valid JSON"),
    ],
)
def test_bad_messages_raise_adapter_error(message: Any, error: str) -> None:
    with pytest.raises(AdapterError, match=error):
        deepstream_to_frame(message)


def test_adapter_error_is_a_value_error() -> None:
    assert issubclass(AdapterError, ValueError)


def test_merge_groups_by_sensor_and_timestamp() -> None:
    t0, t1 = "2024-06-01T10:00:00.040Z", "2024-06-01T10:00:00.080Z"
    person = copy.deepcopy(PERSON_MESSAGE)
    messages = [
        bag_message("77", t1),  # later frame first: output is still time-ordered
        person,
        bag_message("77", t0),
        bag_message("78", t0),
        with_value(VEHICLE_MESSAGE, "@timestamp", t0),  # another camera, same time
    ]
    frames = merge_deepstream_messages(messages)
    assert [(f.camera_id, f.event_time, sorted(o.track_id for o in f.objects)) for f in frames] == [
        ("carpark-cam-2", pytest.approx(1717236000.04), ["957"]),
        ("lobby-cam-3", pytest.approx(1717236000.04), ["42", "77", "78"]),
        ("lobby-cam-3", pytest.approx(1717236000.08), ["77"]),
    ]
    lobby = frames[1]
    assert lobby.event_id == frame_event_id("lobby-cam-3", lobby.event_time)
    assert isinstance(lobby, DetectionFrame)


def test_merge_is_independent_of_batching() -> None:
    messages = [PERSON_MESSAGE, bag_message("77"), bag_message("78")]
    whole = merge_deepstream_messages(messages)
    split = merge_deepstream_messages(messages[:1]) + merge_deepstream_messages(messages[1:])
    assert {f.event_id for f in whole} == {f.event_id for f in split}


def test_merge_deduplicates_redelivered_messages() -> None:
    frames = merge_deepstream_messages([bag_message("77"), bag_message("77"), PERSON_MESSAGE])
    assert len(frames) == 1 and sorted(o.track_id for o in frames[0].objects) == ["42", "77"]


def test_merge_reports_index_of_bad_message() -> None:
    with pytest.raises(AdapterError, match=r"message 1: object.bbox: missing"):
        merge_deepstream_messages([PERSON_MESSAGE, without(PERSON_MESSAGE, "object.bbox")])


def test_merge_rejects_oversized_frame() -> None:
    frames = [deepstream_to_frame(bag_message(str(i))) for i in range(501)]
    with pytest.raises(AdapterError, match="501 objects"):
        merge_frames(frames)


@pytest.mark.footage
def test_sample_matches_shared_deepstream_schema() -> None:
    """Our vehicle sample only uses keys the published nvmsgconv JSON Schema defines."""
    if not SHARED_SCHEMA.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"missing {SHARED_SCHEMA}")
        pytest.skip(f"needs {SHARED_SCHEMA.parent}")
    schema = json.loads(SHARED_SCHEMA.read_text())
    assert set(schema["required"]) <= set(VEHICLE_MESSAGE)
    assert set(VEHICLE_MESSAGE) <= set(schema["properties"])
    obj_props = schema["properties"]["object"]["properties"]
    assert set(VEHICLE_MESSAGE["object"]) <= set(obj_props)
    assert set(VEHICLE_MESSAGE["object"]["bbox"]) == set(obj_props["bbox"]["properties"])
    assert set(VEHICLE_MESSAGE["object"]["vehicle"]) <= set(obj_props["vehicle"]["properties"])
    assert VEHICLE_MESSAGE["event"]["type"] in schema["properties"]["event"]["properties"]["type"]["enum"]
