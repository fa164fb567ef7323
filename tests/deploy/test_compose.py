"""The compose stack, read as Docker, Prometheus and Grafana would read it (no Docker engine needed).

Checks that every path it mounts exists, every watchfloor command parses with the real CLI, every
scrape target is a service listening on that port, and every dashboard and rule file is valid.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.cli import build_parser
from streams.config import load_config
from tests.deploy.compose_files import (
    COMPOSE_FILE,
    DEPLOY,
    GRAFANA_DIR,
    REPO,
    SHARED_DATA,
    command_of,
    dashboard_files,
    host_mounts,
    host_path_for,
    interpolate,
    is_watchfloor,
    listening_ports,
    load_compose,
    named_volumes,
    panels,
    prometheus_config,
    rule_files,
    rules,
    services,
)

SECRET_WORDS = re.compile(r"(KEY|SECRET|PASSWORD|PASSWD|TOKEN)", re.IGNORECASE)


def test_compose_is_spec_format_without_version() -> None:
    compose = load_compose()
    assert "version" not in compose, "the compose spec has no `version:`; remove it"
    assert compose["services"], "no services"


def test_every_service_has_an_image_or_a_build() -> None:
    for name, service in services().items():
        assert service.get("image") or service.get("build"), f"service {name}: neither image nor build"
        image = interpolate(str(service.get("image", "")))
        if image and not image.startswith("watchfloor"):
            assert ":" in image and not image.endswith(":latest"), f"service {name}: pin the image tag ({image})"


def test_stack_has_the_expected_parts() -> None:
    names = set(services())
    for required in ("kafka", "topics", "worker", "console", "prometheus", "grafana"):
        assert required in names, f"service {required} missing from {COMPOSE_FILE.name}"
    assert services()["worker"].get("deploy", {}).get("replicas", 1) >= 2, "run at least two workers"


@pytest.mark.parametrize("name", sorted(services()))
def test_bind_mounts_exist(name: str) -> None:
    """Host paths (with ``${VAR:-default}`` at its default) exist; only ../shared/data may be outside."""
    for host, target in host_mounts(services()[name]):
        assert not host.startswith(("/", "~")), f"service {name}: absolute host path {host} (use a relative one)"
        path = (REPO / host).resolve()
        if not path.is_relative_to(REPO):
            assert path.is_relative_to(SHARED_DATA.resolve()), (
                f"service {name}: {host} is outside the repo (only ../shared/data may be mounted from outside)")
            if not path.exists():
                if os.environ.get("CI") == "true":
                    pytest.fail(f"{path} is missing: CI must have ../shared/data next to the repo")
                pytest.skip(f"{path} not found (shared footage)")
        assert path.exists(), f"service {name}: host path {host} (mounted at {target}) does not exist"


def test_named_volumes_are_declared() -> None:
    declared = set(load_compose().get("volumes") or {})
    for name, service in services().items():
        for volume in named_volumes(service):
            assert volume in declared, f"service {name}: volume {volume} is not declared under top-level volumes"


def test_secrets_are_declared_and_never_literal() -> None:
    compose = load_compose()
    declared = compose.get("secrets") or {}
    for name, service in services().items():
        for secret in service.get("secrets", []):
            secret_name = secret["source"] if isinstance(secret, dict) else secret
            assert secret_name in declared, f"service {name}: secret {secret_name} not declared"
        env = service.get("environment") or {}
        assert isinstance(env, dict), f"service {name}: write environment as a mapping"
        for var, value in env.items():
            if SECRET_WORDS.search(var) and not var.endswith(("_FILE", "_ENV")):
                assert isinstance(value, str) and value.startswith("${"), (
                    f"service {name}: {var} must come from the environment/.env (${{...}}), not a literal")
        for part in command_of(service):
            assert not SECRET_WORDS.search(part.split("=")[0].lstrip("-")), (
                f"service {name}: secret-looking command argument {part!r}; pass secrets by env or file")
    for secret_name, source in declared.items():
        assert "file" in source or "environment" in source or "external" in source, secret_name


def _parse_cli(argv: list[str]) -> Any:
    parser = build_parser()
    try:
        return parser.parse_args(argv)
    except SystemExit:
        subcommands = " ".join(argv[:2])
        pytest.fail(f"`watchfloor {' '.join(argv)}` does not parse with streams.cli.build_parser(): the CLI has "
                    f"no such command or option yet (`{subcommands}`); it must exist for the compose stack")


@pytest.mark.parametrize("name", sorted(n for n, s in services().items() if is_watchfloor(s)))
def test_watchfloor_commands_parse_with_the_real_cli(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    service = services()[name]
    argv = command_of(service)
    assert argv, f"service {name}: no command (the image's default is `worker`; say it explicitly)"
    args = _parse_cli(argv)
    assert callable(getattr(args, "handler", None)), f"service {name}: {argv} selects no command"


def test_workers_and_console_listen_where_the_health_checks_look() -> None:
    for name, port in (("worker", 6066), ("console", 8080)):
        service = services()[name]
        assert port in listening_ports(service), f"{name} does not listen on {port}"
        check = " ".join(service["healthcheck"]["test"])
        assert f":{port}/healthz" in check, f"{name}: health check must hit /healthz on {port}: {check}"
    worker_env = services()["worker"]["environment"]
    assert worker_env["WATCHFLOOR_WEB_HOST"] == "0.0.0.0", "workers must listen beyond loopback for Prometheus"
    console_cmd = command_of(services()["console"])
    assert console_cmd[console_cmd.index("--host") + 1] == "0.0.0.0"


def test_workers_and_console_share_the_snapshot_volume() -> None:
    mounts = {}
    for name in ("worker", "console"):
        service = services()[name]
        snapshot_dir = service["environment"]["WATCHFLOOR_SNAPSHOT_DIR"]
        by_target = {entry.partition(":")[2].split(":")[0]: entry.partition(":")[0]
                     for entry in service["volumes"] if isinstance(entry, str)}
        assert snapshot_dir in by_target, f"{name}: nothing mounted at WATCHFLOOR_SNAPSHOT_DIR {snapshot_dir}"
        mounts[name] = by_target[snapshot_dir]
    assert mounts["worker"] == mounts["console"], f"workers and console mount different snapshot volumes: {mounts}"


def test_watchfloor_services_use_the_kafka_service_and_a_valid_config() -> None:
    compose_services = services()
    for name, service in compose_services.items():
        if not is_watchfloor(service):
            continue
        env = {k: interpolate(str(v)) for k, v in (service.get("environment") or {}).items()}
        host = env.get("WATCHFLOOR_BOOTSTRAP", "").split(":")[0]
        assert host in compose_services, f"service {name}: WATCHFLOOR_BOOTSTRAP {env.get('WATCHFLOOR_BOOTSTRAP')}"
        config_path = host_path_for(service, env["WATCHFLOOR_CONFIG"])
        assert config_path is not None, f"service {name}: WATCHFLOOR_CONFIG {env['WATCHFLOOR_CONFIG']} not mounted"
        # The config as the container sees it: the file, then the env overrides (no secrets needed).
        override_env = {k: v for k, v in env.items() if k != "WATCHFLOOR_PLATE_HASH_KEY_FILE"}
        config = load_config(config_path, env=override_env)
        assert config.kafka.bootstrap == "kafka:9092"
        depends = service.get("depends_on") or {}
        assert "kafka" in depends or "topics" in depends, f"service {name}: must wait for kafka or topics"


def test_camera_publisher_reads_a_mounted_video_of_a_configured_camera() -> None:
    service = services()["camera-market-1"]
    argv = command_of(service)
    source = argv[argv.index("--source") + 1]
    assert any(source.startswith(target.rstrip("/") + "/") and target_mode_ro(service, target)
               for _, target in host_mounts(service)), f"--source {source} is not under a read-only mount"
    config = load_config(DEPLOY / "watchfloor" / "watchfloor.yaml", env={})
    camera = config.camera(argv[argv.index("--camera-id") + 1])
    assert camera is not None and camera.kind == "cctv", "the demo camera must be a cctv camera of the config"
    host = host_path_for(service, source)
    assert host is not None
    if host.exists() or os.environ.get("CI") == "true":
        assert host.is_file(), f"default demo video {host} not found"


def target_mode_ro(service: dict[str, Any], target: str) -> bool:
    return any(isinstance(v, str) and interpolate(v).endswith(f":{target}:ro") for v in service.get("volumes", []))


def test_prometheus_scrapes_services_that_exist_on_their_ports() -> None:
    compose_services = services()
    prometheus_mounts = host_mounts(compose_services["prometheus"])
    assert any(host.rstrip("/") == "./deploy/prometheus" for host, _ in prometheus_mounts)
    jobs = {job["job_name"]: job for job in prometheus_config()["scrape_configs"]}
    assert {"watchfloor-workers", "watchfloor-console"} <= set(jobs)
    for job_name, job in jobs.items():
        targets: list[tuple[str, int]] = []
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, _, port = target.rpartition(":")
                targets.append((host, int(port)))
        for dns in job.get("dns_sd_configs", []):
            assert dns.get("type", "SRV") == "A", f"{job_name}: Docker DNS answers A records"
            targets.extend((name, int(dns["port"])) for name in dns["names"])
        assert targets, f"job {job_name} has no targets"
        for host, port in targets:
            service_name = "prometheus" if host == "localhost" else host
            assert service_name in compose_services, f"job {job_name}: {host} is not a compose service"
            assert port in listening_ports(compose_services[service_name]), (
                f"job {job_name}: {service_name} does not listen on {port}")
        assert job.get("metrics_path", "/metrics") == "/metrics"


def test_prometheus_loads_rule_files_that_exist_and_are_complete() -> None:
    prometheus = services()["prometheus"]
    patterns = prometheus_config()["rule_files"]
    for pattern in patterns:
        host = host_path_for(prometheus, pattern)
        assert host is not None, f"rule_files {pattern} is not inside a mounted directory"
        assert list(host.parent.glob(host.name)), f"rule_files {pattern} matches no file ({host})"
    assert rule_files()
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)), "duplicate alert names"
    for rule in rules():
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert rule["annotations"].get("summary"), f"{rule['alert']}: no summary"
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", "0s"))), rule["alert"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), f"{rule['alert']}: unbalanced parentheses"


def _grafana_provisioning() -> tuple[dict[str, Any], dict[str, Any]]:
    root = GRAFANA_DIR / "provisioning"
    datasources = yaml.safe_load((root / "datasources" / "prometheus.yml").read_text())
    dashboards = yaml.safe_load((root / "dashboards" / "watchfloor.yml").read_text())
    return datasources, dashboards


def test_grafana_provisions_the_prometheus_datasource_and_the_dashboards() -> None:
    grafana = services()["grafana"]
    provisioning = host_path_for(grafana, "/etc/grafana/provisioning/datasources")
    assert provisioning == GRAFANA_DIR / "provisioning" / "datasources"
    datasources, dashboards = _grafana_provisioning()
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == "watchfloor-prometheus"
    host, _, port = source["url"].removeprefix("http://").partition(":")
    assert host in services() and int(port) in listening_ports(services()[host]), source["url"]
    for provider in dashboards["providers"]:
        folder = host_path_for(grafana, provider["options"]["path"])
        assert folder is not None, f"provider {provider['name']}: {provider['options']['path']} is not mounted"
        assert sorted(folder.glob("*.json")) == dashboard_files(), "provider does not serve the dashboards"
    home = interpolate(grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    home_path = host_path_for(grafana, home)
    assert home_path is not None and home_path.is_file(), f"home dashboard {home} does not exist"


def _load(path: Path) -> dict[str, Any]:
    try:
        board: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        pytest.fail(f"{path.name} is not valid JSON: {error}")
    return board


def test_dashboards_are_valid_and_every_panel_has_the_provisioned_datasource() -> None:
    uid = _grafana_provisioning()[0]["datasources"][0]["uid"]
    files = dashboard_files()
    assert {p.name for p in files} >= {"watchfloor-ops.json", "watchfloor-control-room.json"}
    uids = set()
    for path in files:
        board = _load(path)
        assert board.get("uid") and board["uid"] not in uids, f"{path.name}: missing or duplicate uid"
        uids.add(board["uid"])
        assert 36 <= board.get("schemaVersion", 0) <= 41, f"{path.name}: schemaVersion {board.get('schemaVersion')}"
        assert "id" not in board or board["id"] is None, f"{path.name}: drop the instance-specific id"
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in panels(board):
            where = f"{path.name}: panel {panel.get('title')!r}"
            assert panel.get("datasource", {}).get("uid") == uid, f"{where}: datasource must be uid {uid}"
            assert panel.get("targets"), f"{where}: no queries"
            for target in panel["targets"]:
                assert target.get("expr"), f"{where}: empty query"
                assert target.get("datasource", {}).get("uid") == uid, f"{where}: query datasource must be {uid}"
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{where}: wider than the grid"


def test_dockerfile_runs_watchfloor_as_non_root_from_the_pinned_base() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim-bookworm\b", dockerfile, re.M)
    assert re.search(r"^USER (?!root)\S+", dockerfile, re.M), "the image must run as a non-root user"
    assert 'ENTRYPOINT ["watchfloor"]' in dockerfile
    ignored = (REPO / ".dockerignore").read_text().split()
    for secret in (".env", ".venv", ".git"):
        assert secret in ignored, f".dockerignore must exclude {secret}"
    for copied in re.findall(r"^COPY (\S+)", dockerfile, re.M):
        assert (REPO / copied).exists(), f"Dockerfile copies {copied}, which does not exist"
