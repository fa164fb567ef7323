"""The JSON Schema files integrators read are generated from the models and never stale."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from schemas import generate


def test_json_schema_files_are_up_to_date() -> None:
    assert generate.main(["--check"]) == 0, "schemas/json is stale: run `python -m schemas.generate`"


def test_every_topic_payload_has_a_versioned_schema() -> None:
    models = generate.wire_models()
    for name in ("anpr.read", "anpr.read_batch", "alerts.alert", "alerts.action", "watchlist.entry",
                 "deadletter.record"):
        assert "schema_version" in models[name].model_json_schema()["properties"], name


def _shape(schema: object) -> object:
    """A JSON Schema without its prose: titles, descriptions and defaults."""
    if isinstance(schema, dict):
        return {k: _shape(v) for k, v in schema.items() if k not in ("title", "description", "default")}
    if isinstance(schema, list):
        return [_shape(v) for v in schema]
    return schema


def _constraints(schema: dict[str, Any]) -> dict[str, object]:
    """Each property's accepted values in a form both generators agree on: branches of constraints."""
    out: dict[str, object] = {}
    for name, prop in schema["properties"].items():
        branches = []
        for branch in prop.get("anyOf", [prop]):
            kept = {k: v for k, v in branch.items() if k not in ("title", "description", "default")}
            if "const" in kept:  # pydantic writes Literal[1] as const + type, msgspec as enum
                kept = {"enum": [kept["const"]]}
            if "enum" in kept:
                kept = {"enum": sorted(kept["enum"])}
            branches.append(json.dumps(kept, sort_keys=True))
        out[name] = sorted(branches)
    return {"properties": out, "required": sorted(schema.get("required", []))}


def test_fast_path_plate_read_structs_match_the_wire_models() -> None:
    from schemas.anpr import PlateRead, PlateReadBatch, PlateReadBatchRecord, PlateReadRecord

    (_, fast), = msgspec.json.schema_components([PlateReadRecord])[1].items()
    assert _constraints(fast) == _constraints(PlateRead.model_json_schema())
    fast_batch = msgspec.json.schema_components([PlateReadBatchRecord])[1]["PlateReadBatchRecord"]
    wire_batch = PlateReadBatch.model_json_schema()
    assert fast_batch["required"] == wire_batch["required"] == ["reads"]
    assert {k: v for k, v in fast_batch["properties"]["reads"].items() if k != "items"} == {
        k: v for k, v in wire_batch["properties"]["reads"].items() if k not in ("items", "title", "description")}


def test_fast_path_alert_candidate_structs_match_the_wire_models() -> None:
    from schemas.alerts import AlertCandidate, AlertCandidateRecord, Evidence

    fast = msgspec.json.schema_components([AlertCandidateRecord])[1]
    # The struct's evidence items are its own EvidenceRecord; a box is [x, y, w, h] either way.
    candidate = json.loads(json.dumps(fast["AlertCandidateRecord"]).replace("EvidenceRecord", "Evidence"))
    wire_candidate = AlertCandidate.model_json_schema()
    # pydantic spells a dict[str, Any] out as an object with any properties; msgspec leaves it implied.
    assert wire_candidate["properties"]["details"].pop("additionalProperties") is True
    assert _constraints(candidate) == _constraints(wire_candidate)
    box = {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 4}
    wire_evidence = Evidence.model_json_schema()
    assert wire_evidence["properties"]["data"].pop("additionalProperties") is True
    assert wire_evidence["properties"]["box"]["anyOf"][0] == {
        "type": "array", "minItems": 4, "maxItems": 4, "prefixItems": [{"type": "integer"}] * 4}
    wire_evidence["properties"]["box"]["anyOf"][0] = box
    assert _constraints(fast["EvidenceRecord"]) == _constraints(wire_evidence)


GOOD_READ = {"read_id": "r1", "plate": "AB12CDE", "confidence": 0.9, "camera_id": "c1", "event_time": 1.7e9}


@pytest.mark.parametrize("change", [
    {}, {"confidence": 0}, {"confidence": 1}, {"confidence": 1.0001}, {"confidence": -0.1}, {"confidence": "0.9"},
    {"confidence": True}, {"event_time": 946_684_799}, {"event_time": 4_102_444_800}, {"plate": ""},
    {"plate": "X" * 16}, {"plate": "X" * 17}, {"read_id": "r" * 129}, {"camera_id": "c" * 65}, {"lane": 32},
    {"lane": 33}, {"lane": -1}, {"lane": 1.5}, {"lane": None}, {"direction": "away"}, {"direction": "up"},
    {"country": "G"}, {"country": "GBR"}, {"country": "GBRX"}, {"image_ref": "x" * 513}, {"schema_version": 1},
    {"schema_version": 2}, {"extra": 1}, {"plate": 7}, {"read_id": None},
])
def test_fast_path_accepts_only_what_the_wire_model_accepts(change: dict[str, Any]) -> None:
    """Whatever the msgspec fast path accepts, the published model accepts with the same values."""
    from schemas.anpr import PLATE_READ_DECODER, PlateRead

    raw = json.dumps(GOOD_READ | change).encode()
    try:
        fast = PLATE_READ_DECODER.decode(raw)
    except msgspec.ValidationError:
        return  # the worker then asks the model, which accepts or names the problem (test_codecs)
    assert msgspec.to_builtins(fast) == PlateRead.model_validate_json(raw).model_dump(exclude_defaults=True)
