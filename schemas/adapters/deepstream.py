"""Convert NVIDIA DeepStream nvmsgconv "full" schema messages into ``DetectionFrame`` s.

DeepStream's message converter emits one JSON message per object per frame:

.. code-block:: json

    {"messageid": "…uuid…", "mdsversion": "1.0", "@timestamp": "2024-06-01T10:00:00.040Z",
     "sensor": {"id": "lobby-cam-3", "type": "Camera", ...}, "place": {...}, "analyticsModule": {...},
     "object": {"id": "42", "speed": 0.0, "direction": 0.0, "orientation": 0.0,
                "person": {"age": 0, "gender": "", ..., "confidence": 0.91},
                "bbox": {"topleftx": 612, "toplefty": 188, "bottomrightx": 686, "bottomrighty": 398},
                "location": {...}, "coordinate": {...}},
     "event": {"id": "…uuid…", "type": "moving"}, "videoPath": ""}

The object's class is the name of its one type sub-object (``vehicle``, ``person``, ``face``, or
for unknown types the label DeepStream was given, e.g. ``bag``). ``deepstream_to_frame``
converts one message; ``merge_frames`` / ``merge_deepstream_messages`` regroup the per-object
messages of a frame by (sensor id, timestamp).

>>> frame = deepstream_to_frame({
...     "messageid": "m-1", "@timestamp": "2024-06-01T10:00:00.040Z", "sensor": {"id": "cam-3"},
...     "object": {"id": "42", "person": {"confidence": 0.91},
...                "bbox": {"topleftx": 612, "toplefty": 188, "bottomrightx": 686, "bottomrighty": 398}},
...     "event": {"id": "ev-1", "type": "moving"}})
>>> frame.event_id, frame.objects[0].class_name, frame.objects[0].box
('ds:cam-3:1717236000040', 'person', (612.0, 188.0, 74.0, 210.0))
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from schemas.adapters import AdapterError, finite_number
from schemas.detections import (
    MAX_OBJECTS_PER_FRAME,
    AttributeValue,
    DetectionFrame,
    TrackedObject,
    parse_event_time,
)

# Members of "object" that describe it rather than name its class.
_NON_CLASS_KEYS = frozenset({
    "id", "trackingId", "speed", "direction", "orientation", "bbox", "location", "coordinate",
    "signature", "maskoutline", "pose", "pose2D", "pose3D", "pose25D", "embedding", "confidence",
})
# DeepStream's tracker uses this id (0xFFFFFFFFFFFFFFFF) for objects it does not track.
UNTRACKED_OBJECT_ID = "18446744073709551615"
# Vehicle attributes never copied: the plate is personal data and belongs on anpr.reads.
_PERSONAL_ATTRIBUTES = frozenset({"license", "licenseState", "name"})


def _field(container: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in container or container[key] is None:
        raise AdapterError(f"{path}: missing")
    return container[key]


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AdapterError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value



def _non_empty_str(value: Any, path: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # some forks emit numeric ids
    if not isinstance(value, str) or not value.strip():
        raise AdapterError(f"{path}: expected a non-empty string, got {value!r}")
    return value.strip()


def frame_event_id(camera_id: str, event_time: float) -> str:
    """Deterministic frame id from camera and time (ms), identical however messages are batched.

    DeepStream's ``messageid`` is a fresh random UUID per object, so it cannot identify a frame.

    >>> frame_event_id("cam-3", 1717236000.04)
    'ds:cam-3:1717236000040'
    """
    return f"ds:{camera_id}:{round(event_time * 1000)}"


def _class_of(obj: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    candidates = [(k, v) for k, v in obj.items() if k not in _NON_CLASS_KEYS and isinstance(v, Mapping)]
    if not candidates:
        raise AdapterError("object: no class sub-object (expected one of vehicle, person, face, bag, ...)")
    if len(candidates) > 1:
        names = ", ".join(sorted(k for k, _ in candidates))
        raise AdapterError(f"object: several class sub-objects ({names}); expected exactly one")
    return candidates[0]


def _confidence(sub: Mapping[str, Any], obj: Mapping[str, Any], path: str) -> float:
    raw = sub.get("confidence")
    if raw is None:
        raw, path = obj.get("confidence"), "object.confidence"  # some forks put it on the object
    if raw is None:
        return 1.0  # nvmsgconv writes 1.0 itself when it has no classifier output
    value = finite_number(raw, path)
    if value < 0:
        return 0.0  # DeepStream reports -0.1 for tracker-only (not re-detected) objects
    if value > 1:
        raise AdapterError(f"{path}: {value} is above 1; expected a probability 0..1")
    return value


def _attributes(message: Mapping[str, Any], class_obj: Mapping[str, Any]) -> dict[str, AttributeValue]:
    attrs: dict[str, AttributeValue] = {}
    for key, value in class_obj.items():
        if key == "confidence" or key in _PERSONAL_ATTRIBUTES:
            continue
        # Empty strings and zeros are nvmsgconv's "unknown" placeholders: drop them.
        keep_str = isinstance(value, str) and 0 < len(value) <= 256
        keep_num = isinstance(value, int | float) and not isinstance(value, bool) and value != 0
        if keep_str or (keep_num and math.isfinite(value)):
            attrs[key[:64]] = value
    event = message.get("event")
    if isinstance(event, Mapping) and isinstance(event.get("type"), str) and event["type"]:
        attrs["ds_event_type"] = event["type"]
    module = message.get("analyticsModule")
    if isinstance(module, Mapping) and isinstance(module.get("id"), str) and module["id"]:
        attrs["ds_analytics_module"] = module["id"][:256]
    if isinstance(message.get("messageid"), str) and message["messageid"]:
        attrs["ds_messageid"] = message["messageid"][:256]
    return dict(list(attrs.items())[:32])


def _track_object(message: Mapping[str, Any]) -> TrackedObject:
    obj = _mapping(_field(message, "object", "object"), "object")
    raw_id = obj.get("trackingId") if obj.get("trackingId") is not None else obj.get("id")
    id_path = "object.trackingId" if obj.get("trackingId") is not None else "object.id"
    if raw_id is None:
        raise AdapterError("object.id: missing")
    track_id = _non_empty_str(raw_id, id_path)
    if track_id == UNTRACKED_OBJECT_ID:
        # No tracker: give it a per-message id so it can never accumulate dwell time.
        track_id = f"untracked:{_non_empty_str(message.get('messageid'), 'messageid')}"

    bbox = _mapping(_field(obj, "bbox", "object.bbox"), "object.bbox")
    x1 = finite_number(_field(bbox, "topleftx", "object.bbox.topleftx"), "object.bbox.topleftx")
    y1 = finite_number(_field(bbox, "toplefty", "object.bbox.toplefty"), "object.bbox.toplefty")
    x2 = finite_number(_field(bbox, "bottomrightx", "object.bbox.bottomrightx"), "object.bbox.bottomrightx")
    y2 = finite_number(_field(bbox, "bottomrighty", "object.bbox.bottomrighty"), "object.bbox.bottomrighty")
    if x2 < x1 or y2 < y1:
        raise AdapterError(
            f"object.bbox: bottom-right ({x2}, {y2}) is above or left of top-left ({x1}, {y1})"
        )

    class_key, class_obj = _class_of(obj)
    try:
        return TrackedObject(
            track_id=track_id,
            class_name=class_key,
            confidence=_confidence(class_obj, obj, f"object.{class_key}.confidence"),
            box=(x1, y1, x2 - x1, y2 - y1),
            attributes=_attributes(message, class_obj) or None,
        )
    except ValidationError as exc:
        raise AdapterError(f"object: {_first_error(exc)}") from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])


def deepstream_to_frame(
    message: Mapping[str, Any] | str | bytes, *, camera_id: str | None = None
) -> DetectionFrame:
    """Convert one nvmsgconv "full" message (one object) into a one-object ``DetectionFrame``.

    ``camera_id`` overrides ``sensor.id`` (e.g. with the Kafka key); without it ``sensor.id``
    is required. Raises ``AdapterError`` naming the missing or bad field.
    """
    if isinstance(message, str | bytes | bytearray):
        try:
            message = json.loads(message)
        except (ValueError, UnicodeDecodeError) as exc:
            raise AdapterError(f"message: not valid JSON ({exc})") from exc
    msg = _mapping(message, "message")

    raw_ts = _field(msg, "@timestamp", "@timestamp")
    if not isinstance(raw_ts, str):
        raise AdapterError(f"@timestamp: expected an ISO-8601 string, got {raw_ts!r}")
    try:
        event_time = float(parse_event_time(raw_ts))
    except ValueError as exc:
        raise AdapterError(f"@timestamp: {exc}") from exc

    if camera_id is None:
        sensor = _mapping(_field(msg, "sensor", "sensor"), "sensor")
        camera_id = _non_empty_str(_field(sensor, "id", "sensor.id"), "sensor.id")

    tracked = _track_object(msg)
    try:
        return DetectionFrame(
            event_id=frame_event_id(camera_id, event_time),
            camera_id=camera_id,
            event_time=event_time,
            objects=[tracked],
        )
    except ValidationError as exc:
        raise AdapterError(_first_error(exc)) from exc


def merge_frames(frames: Iterable[DetectionFrame]) -> list[DetectionFrame]:
    """Regroup frames that share (camera id, event time) into one frame each.

    The merged frame keeps the parts' event id when they all share one (as DeepStream-derived
    frames do), otherwise it gets ``frame_event_id(camera, time)``.
    Returned in (event time, camera id) order, so each camera's frames are in time order.
    A track id repeated within a group (a redelivered message) is kept once, last one wins.
    Raises ``AdapterError`` if a group would exceed ``MAX_OBJECTS_PER_FRAME``.

    >>> a = DetectionFrame(event_id="a", camera_id="c", event_time=1.0, objects=[])
    >>> [f.event_id for f in merge_frames([a, a.model_copy(update={"event_id": "b"})])]
    ['ds:c:1000']
    >>> [f.event_id for f in merge_frames([a, a])]
    ['a']
    """
    groups: dict[tuple[str, float], list[DetectionFrame]] = {}
    for frame in frames:
        groups.setdefault((frame.camera_id, frame.event_time), []).append(frame)
    merged: list[DetectionFrame] = []
    for (camera, t), parts in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if len(parts) == 1:
            merged.append(parts[0])
            continue
        objects: dict[str, TrackedObject] = {}
        for part in parts:
            for obj in part.objects:
                objects.pop(obj.track_id, None)
                objects[obj.track_id] = obj
        if len(objects) > MAX_OBJECTS_PER_FRAME:
            raise AdapterError(f"camera {camera!r} at {t}: {len(objects)} objects in one frame "
                               f"(limit {MAX_OBJECTS_PER_FRAME})")
        first = parts[0]
        same_id = all(part.event_id == first.event_id for part in parts)
        merged.append(DetectionFrame(
            event_id=first.event_id if same_id else frame_event_id(camera, t),
            camera_id=camera,
            event_time=t,
            frame_width=first.frame_width,
            frame_height=first.frame_height,
            objects=list(objects.values()),
        ))
    return merged


def merge_deepstream_messages(
    messages: Iterable[Mapping[str, Any] | str | bytes], *, camera_id: str | None = None
) -> list[DetectionFrame]:
    """Convert a batch of per-object DeepStream messages into one frame per (sensor, timestamp).

    Fails on the first bad message (``AdapterError`` prefixed with its index). To dead-letter bad
    messages one by one instead, call ``deepstream_to_frame`` per message and ``merge_frames``.
    """
    frames = []
    for index, message in enumerate(messages):
        try:
            frames.append(deepstream_to_frame(message, camera_id=camera_id))
        except AdapterError as exc:
            raise AdapterError(f"message {index}: {exc}") from exc
    return merge_frames(frames)
