"""The config object: strict validation with the offending path, env overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config import DEFAULT_CONFIG_PATH, ConfigError, load_config, parse_config

SITE = {"id": "market", "name": "Market", "lat": 51.5, "lon": -0.12}
CAMERA = {"id": "cam-1", "name": "Gate", "site": "market", "lat": 51.5, "lon": -0.12}


def test_demo_config_loads() -> None:
    config = load_config(DEFAULT_CONFIG_PATH, env={})
    assert config.cameras and all(config.camera(c.id) is c for c in config.cameras)


@pytest.mark.parametrize(
    ("raw", "expected_in_message"),
    [
        ({"kafak": {}}, "kafak: unknown key"),
        ({"kafka": {"partitions": 0}}, "kafka.partitions"),
        ({"kafka": {"partitons": 3}}, "kafka.partitons: unknown key"),
        ({"sites": [SITE], "cameras": [CAMERA | {"site": "nowhere"}]}, "cameras.0.site: unknown site 'nowhere'"),
        ({"sites": [SITE, SITE]}, "duplicate id(s) ['market']"),
        ({"sites": [SITE | {"lat": 123}]}, "sites.0.lat"),
        ({"cameras": [CAMERA | {"kind": "thermal"}], "sites": [SITE]}, "cameras.0.kind"),
        ({"alerting": {"cooldown_s": -1}}, "alerting.cooldown_s"),
    ],
)
def test_bad_config_names_path_and_reason(raw: dict[str, object], expected_in_message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, "site.yaml", env={})
    assert "site.yaml" in str(raised.value)
    assert expected_in_message in str(raised.value)


def test_env_overrides_connection_settings() -> None:
    config = parse_config({"kafka": {"bootstrap": "a:1"}}, env={"WATCHFLOOR_BOOTSTRAP": "b:2",
                                                                 "WATCHFLOOR_PARTITIONS": "8"})
    assert (config.kafka.bootstrap, config.kafka.partitions) == ("b:2", 8)


@pytest.mark.parametrize(("content", "message"), [("kafka: [1, 2", "not valid YAML"), ("- a\n- b", "mapping")])
def test_unreadable_files_fail_clearly(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={})


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not found: .*nope\.yaml"):
        load_config(tmp_path / "nope.yaml", env={})


def test_sasl_password_comes_from_env_never_the_file() -> None:
    config = parse_config({"kafka": {"security": {"protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                                                   "username": "wf", "password_env": "WF_PW"}}}, env={})
    with pytest.raises(ConfigError, match="WF_PW is not set"):
        config.kafka.security.password()


def test_production_refuses_to_run_without_a_plate_hash_key(tmp_path: Path) -> None:
    required = parse_config({"privacy": {"require_plate_hash_key": True}}, env={})
    with pytest.raises(ConfigError, match="no plate hash key"):
        required.privacy.plate_hash_key()
    empty = tmp_path / "key"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        parse_config({"privacy": {"plate_hash_key_file": str(empty)}}, env={}).privacy.plate_hash_key()
