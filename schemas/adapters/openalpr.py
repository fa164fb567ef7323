"""Convert OpenALPR / Rekor agent JSON into plate-read dicts (the fields of ``schemas.anpr.PlateRead``).

Two message types come out of an OpenALPR agent (``alprd``):

* ``alpr_results``: one analysed frame. ``results[]`` holds one entry per plate in the frame,
  each with ``plate``, ``confidence`` (0-100), ``candidates[]``, ``coordinates[]`` and ``region``
  (``"us-ca"``, ``"gb"``); the top level has ``epoch_time`` (ms), ``uuid``, ``camera_id``,
  ``site_id``, ``agent_uid``...
* ``alpr_group``: one vehicle pass, summarising several frames: ``best_plate_number``,
  ``best_confidence``, ``epoch_start``/``epoch_end`` (ms), ``travel_direction`` (degrees),
  ``uuids[]``, ``best_uuid``, ``country``, ``best_region``, ``is_preview``...

Forward one kind or the other from a camera, not both, or each vehicle is read twice.

Every function is pure: a parsed JSON object (or the raw ``str``/``bytes``) in, plain dicts out,
with the keys ``read_id, plate, confidence (0..1), camera_id, event_time (epoch s), lane,
direction, country, image_ref``. Bad input raises ``AdapterError`` naming the offending field.

>>> reads = openalpr_to_reads({
...     "data_type": "alpr_results", "epoch_time": 1700000000123, "camera_id": 17, "uuid": "AGENT-17-1700000000123",
...     "results": [{"plate": "AB12CDE", "confidence": 91.5, "region": "gb"}]})
>>> reads[0]["read_id"], reads[0]["confidence"], reads[0]["event_time"], reads[0]["country"]
('AGENT-17-1700000000123#0', 0.915, 1700000000.123, 'GB')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from schemas.adapters import AdapterError, finite_number

MIN_EPOCH_S = 946_684_800.0  # 2000-01-01, as schemas.anpr.PlateRead
MAX_EPOCH_S = 4_102_444_800.0  # 2100-01-01
MAX_PLATE_CHARS = 16
MAX_ID_CHARS = 128


def openalpr_to_reads(
    payload: Mapping[str, Any] | str | bytes,
    *,
    image_url_template: str | None = None,
    towards_heading_deg: float = 180.0,
    include_previews: bool = False,
) -> list[dict[str, Any]]:
    """Convert one OpenALPR agent message (either type) into plate-read dicts.

    ``image_url_template`` (e.g. ``"http://agent-3:8355/img/{uuid}.jpg"``) builds ``image_ref``
    from the frame uuid; without it ``image_ref`` is None. Group previews (``is_preview``: an
    early, incomplete group that a final one will replace) are skipped unless ``include_previews``.

    >>> try:
    ...     openalpr_to_reads('{"data_type": "heartbeat"}')
    ... except AdapterError as exc:
    ...     print(exc)
    data_type: unsupported OpenALPR message type 'heartbeat' (expected alpr_results or alpr_group)
    """
    msg = _as_mapping(payload)
    data_type = msg.get("data_type")
    if data_type == "alpr_results":
        return alpr_results_to_reads(msg, image_url_template=image_url_template)
    if data_type == "alpr_group":
        read = alpr_group_to_read(
            msg,
            image_url_template=image_url_template,
            towards_heading_deg=towards_heading_deg,
            include_previews=include_previews,
        )
        return [] if read is None else [read]
    raise AdapterError(
        f"data_type: unsupported OpenALPR message type {data_type!r} (expected alpr_results or alpr_group)"
    )


def alpr_results_to_reads(
    payload: Mapping[str, Any] | str | bytes, *, image_url_template: str | None = None
) -> list[dict[str, Any]]:
    """One read per entry of ``results[]`` (a frame may show several plates; none is fine).

    ``read_id`` is ``"<uuid>#<plate_index>"`` so it is stable when the agent re-sends the frame.
    """
    msg = _as_mapping(payload)
    if msg.get("error") is True:
        raise AdapterError(f"error: agent reported an error: {msg.get('error_message', 'no message')!r}")
    uuid = _text(msg, "uuid")
    camera_id = _camera_id(msg)
    event_time = _epoch_ms(msg, "epoch_time")
    results = msg.get("results")
    if not isinstance(results, list):
        raise AdapterError(f"results: expected a list, got {type(results).__name__}")
    lane = _lane(msg)
    image_ref = _image_ref(image_url_template, uuid, msg)
    reads: list[dict[str, Any]] = []
    for i, result in enumerate(results):
        where = f"results[{i}]"
        if not isinstance(result, Mapping):
            raise AdapterError(f"{where}: expected an object, got {type(result).__name__}")
        index = result.get("plate_index", i)
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise AdapterError(f"{where}.plate_index: expected a non-negative integer, got {index!r}")
        result_lane = _lane(result, where) if "lane" in result else lane
        reads.append(
            {
                "read_id": _read_id(f"{uuid}#{index}"),
                "plate": _plate(result, "plate", where),
                "confidence": _confidence(result, "confidence", where),
                "camera_id": camera_id,
                "event_time": event_time,
                "lane": result_lane,
                "direction": None,  # a single frame has no direction of travel
                "country": _country(result.get("region"), f"{where}.region"),
                "image_ref": image_ref,
            }
        )
    return reads


def alpr_group_to_read(
    payload: Mapping[str, Any] | str | bytes,
    *,
    image_url_template: str | None = None,
    towards_heading_deg: float = 180.0,
    include_previews: bool = False,
) -> dict[str, Any] | None:
    """One read for a vehicle pass (``alpr_group``), or None for a skipped preview.

    ``event_time`` is ``epoch_start`` (when the vehicle was first seen). ``direction``: OpenALPR's
    ``travel_direction`` is a heading in image degrees; within 90 degrees of ``towards_heading_deg``
    is ``"towards"``, the opposite half-circle ``"away"`` (the default 180 assumes a camera
    looking along the road so approaching vehicles move down the frame; set it per camera).

    >>> read = alpr_group_to_read({
    ...     "data_type": "alpr_group", "epoch_start": 1700000000000, "epoch_end": 1700000001500,
    ...     "camera_id": "A3", "best_uuid": "U-9", "uuids": ["U-8", "U-9"], "best_plate_number": "AB12CDE",
    ...     "best_confidence": 88.0, "travel_direction": 175.0, "country": "gb"})
    >>> read["read_id"], read["direction"], read["confidence"]
    ('group:U-9', 'towards', 0.88)
    """
    msg = _as_mapping(payload)
    if msg.get("is_preview") is True and not include_previews:
        return None
    best_uuid = msg.get("best_uuid")
    if best_uuid is None:
        uuids = msg.get("uuids")
        if not isinstance(uuids, list) or not uuids:
            raise AdapterError("best_uuid: missing, and uuids is not a non-empty list")
        best_uuid = uuids[0]
    if not isinstance(best_uuid, str) or not best_uuid.strip():
        raise AdapterError(f"best_uuid: expected a non-empty string, got {best_uuid!r}")
    start = _epoch_ms(msg, "epoch_start")
    if "epoch_end" in msg:
        end = _epoch_ms(msg, "epoch_end")
        if end < start:
            raise AdapterError(f"epoch_end: {msg['epoch_end']!r} is before epoch_start {msg['epoch_start']!r}")
    country_src = msg.get("country") or msg.get("best_region")
    return {
        "read_id": _read_id(f"group:{best_uuid.strip()}"),
        "plate": _plate(msg, "best_plate_number", ""),
        "confidence": _confidence(msg, "best_confidence", ""),
        "camera_id": _camera_id(msg),
        "event_time": start,
        "lane": _lane(msg),
        "direction": _direction(msg.get("travel_direction"), towards_heading_deg),
        "country": _country(country_src, "country"),
        "image_ref": _image_ref(image_url_template, best_uuid.strip(), msg),
    }


# ---------------------------------------------------------------------------------- helpers


def _as_mapping(payload: Mapping[str, Any] | str | bytes) -> Mapping[str, Any]:
    if isinstance(payload, str | bytes | bytearray):
        try:
            payload = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AdapterError(f"payload: not valid JSON ({exc})") from exc
    if not isinstance(payload, Mapping):
        raise AdapterError(f"payload: expected a JSON object, got {type(payload).__name__}")
    return payload


def _path(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _text(msg: Mapping[str, Any], key: str) -> str:
    value = msg.get(key)
    if not isinstance(value, str) or not value.strip():
        raise AdapterError(f"{key}: expected a non-empty string, got {value!r}")
    return value.strip()


def _read_id(value: str) -> str:
    if len(value) > MAX_ID_CHARS:
        raise AdapterError(f"uuid: read id {value[:40]!r}... is longer than {MAX_ID_CHARS} characters")
    return value


def _camera_id(msg: Mapping[str, Any]) -> str:
    value = msg.get("camera_id")
    # OpenALPR camera ids are integers; some deployments use names.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise AdapterError(f"camera_id: expected an integer or string, got {value!r}")
    text = str(value).strip()
    if not text or len(text) > 64:
        raise AdapterError(f"camera_id: must be 1..64 characters, got {text!r}")
    return text



def _epoch_ms(msg: Mapping[str, Any], key: str) -> float:
    if key not in msg:
        raise AdapterError(f"{key}: missing (epoch milliseconds)")
    seconds = finite_number(msg[key], key) / 1000.0
    if not MIN_EPOCH_S <= seconds <= MAX_EPOCH_S:
        raise AdapterError(f"{key}: {msg[key]!r} is not epoch milliseconds between 2000 and 2100")
    return seconds


def _plate(msg: Mapping[str, Any], key: str, where: str) -> str:
    value = msg.get(key)
    path = _path(where, key)
    if not isinstance(value, str) or not value.strip():
        raise AdapterError(f"{path}: expected a non-empty plate string, got {value!r}")
    text = value.strip()
    if len(text) > MAX_PLATE_CHARS:
        raise AdapterError(f"{path}: plate text is longer than {MAX_PLATE_CHARS} characters")
    return text


def _confidence(msg: Mapping[str, Any], key: str, where: str) -> float:
    path = _path(where, key)
    if key not in msg:
        raise AdapterError(f"{path}: missing")
    value = finite_number(msg[key], path)
    # OpenALPR reports percent.
    if not 0.0 <= value <= 100.0:
        raise AdapterError(f"{path}: {value!r} is outside 0..100 (OpenALPR confidence is a percentage)")
    return round(value / 100.0, 6)


def _lane(msg: Mapping[str, Any], where: str = "") -> int | None:
    value = msg.get("lane")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 32:
        raise AdapterError(f"{_path(where, 'lane')}: expected an integer 0..32, got {value!r}")
    return value


def _country(value: Any, path: str) -> str | None:
    """``"gb"`` -> ``"GB"``; ``"us-ca"`` -> ``"US"``; empty or unknown -> None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise AdapterError(f"{path}: expected a string, got {value!r}")
    code = value.strip().split("-", 1)[0].upper()
    if not (2 <= len(code) <= 3 and code.isascii() and code.isalpha()):
        return None
    return code


def _direction(value: Any, towards_heading_deg: float) -> str | None:
    if value is None:
        return None
    heading = finite_number(value, "travel_direction")
    if heading < 0:
        # OpenALPR uses -1 when it could not tell.
        return "unknown"
    diff = abs((heading - towards_heading_deg + 180.0) % 360.0 - 180.0)
    if diff < 90.0:
        return "towards"
    if diff > 90.0:
        return "away"
    return "unknown"


def _image_ref(template: str | None, uuid: str, msg: Mapping[str, Any]) -> str | None:
    if template is None:
        return None
    agent = msg.get("agent_uid", "")
    try:
        ref = template.format(uuid=uuid, agent_uid=agent, camera_id=msg.get("camera_id", ""))
    except (KeyError, IndexError) as exc:
        raise AdapterError(f"image_url_template: unknown placeholder {exc} (use uuid, agent_uid, camera_id)") from exc
    return ref[:512]
