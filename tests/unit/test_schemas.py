"""The JSON Schema files integrators read are generated from the models and never stale."""

from __future__ import annotations

import json

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


def test_fast_path_plate_read_validators_match_the_wire_models() -> None:
    from schemas.anpr import PLATE_READ_BATCH_DICT, PLATE_READ_DICT, PlateRead, PlateReadBatch

    assert _shape(PLATE_READ_DICT.json_schema()) == _shape(PlateRead.model_json_schema())
    fast_batch = json.loads(json.dumps(PLATE_READ_BATCH_DICT.json_schema()).replace("PlateReadDict", "PlateRead"))
    assert _shape(fast_batch) == _shape(PlateReadBatch.model_json_schema())
