"""The JSON Schema files integrators read are generated from the models and never stale."""

from __future__ import annotations

from schemas import generate


def test_json_schema_files_are_up_to_date() -> None:
    assert generate.main(["--check"]) == 0, "schemas/json is stale: run `python -m schemas.generate`"


def test_every_topic_payload_has_a_versioned_schema() -> None:
    models = generate.wire_models()
    for name in ("anpr.read", "anpr.read_batch", "alerts.alert", "alerts.action", "watchlist.entry",
                 "deadletter.record"):
        assert "schema_version" in models[name].model_json_schema()["properties"], name
