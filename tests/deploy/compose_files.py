"""Reading the deployment files (compose, Prometheus, Grafana) the way Docker and Grafana would.

No Docker engine is needed: compose is parsed with PyYAML (anchors and ``<<`` merges resolve as
Compose resolves them) and ``${VAR:-default}`` interpolation is applied with an empty environment.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DEPLOY = REPO / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
GRAFANA_DIR = DEPLOY / "grafana"
#: Footage is read from ../shared/data, never copied into the repo (DESIGN.md); compose may mount it.
SHARED_DATA = REPO.parent / "shared" / "data"

_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")
METRIC_NAME = re.compile(r"\bwatchfloor_[a-z0-9_]+\b")


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose interpolation: ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``, ``${VAR:+alt}``.

    >>> interpolate("/videos/${CLIP:-a.mp4}", {})
    '/videos/a.mp4'
    >>> interpolate("${KEY:?set KEY}", {})
    '<KEY>'
    """
    env = env or {}

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
        present = env.get(name)
        if op in (":-", "-"):
            return present if present or (op == "-" and present is not None) else arg
        if op in (":?", "?"):
            return present if present else f"<{name}>"
        if op in (":+", "+"):
            return arg if present else ""
        return present or ""

    return _INTERPOLATION.sub(replace, value)


def load_compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = load_compose()["services"]
    return result


def is_watchfloor(service: dict[str, Any]) -> bool:
    """Services running the watchfloor image (built from this repo's Dockerfile)."""
    return "build" in service or str(service.get("image", "")).startswith("watchfloor")


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    if isinstance(command, str):
        import shlex

        command = shlex.split(command)
    return [interpolate(str(part)) for part in command]


def host_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of every bind mount, interpolated with an empty environment."""
    mounts: list[tuple[str, str]] = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((interpolate(str(volume["source"])), str(volume["target"])))
            continue
        source, _, rest = interpolate(str(volume)).partition(":")
        if source.startswith((".", "/", "~")):
            mounts.append((source, rest.split(":")[0]))
    return mounts


def named_volumes(service: dict[str, Any]) -> list[str]:
    names = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "volume":
                names.append(str(volume["source"]))
            continue
        source = interpolate(str(volume)).partition(":")[0]
        if not source.startswith((".", "/", "~")):
            names.append(source)
    return names


def host_path_for(service: dict[str, Any], container_path: str) -> Path | None:
    """The repo path a container path of ``service`` comes from, through its bind mounts."""
    best: tuple[int, Path] | None = None
    for host, target in host_mounts(service):
        target = target.rstrip("/")
        if container_path == target or container_path.startswith(target + "/"):
            candidate = (REPO / host / container_path[len(target):].lstrip("/")).resolve()
            if best is None or len(target) > best[0]:
                best = (len(target), candidate)
    return best[1] if best else None


def listening_ports(service: dict[str, Any]) -> set[int]:
    """Container ports a service listens on: ``expose``, the container side of ``ports``, and the
    port a watchfloor command is told to use (``--web-port``/``--port``)."""
    ports: set[int] = set()
    for port in service.get("expose", []):
        ports.add(int(str(port).split("/")[0]))
    for mapping in service.get("ports", []):
        if isinstance(mapping, dict):
            ports.add(int(mapping["target"]))
        else:
            ports.add(int(interpolate(str(mapping)).split(":")[-1].split("/")[0]))
    command = command_of(service)
    for flag in ("--web-port", "--port"):
        if flag in command:
            ports.add(int(command[command.index(flag) + 1]))
    return ports


def prometheus_config() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    return data


def rule_files() -> list[Path]:
    return sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))


def rules() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            found.extend(group["rules"])
    return found


def dashboard_files() -> list[Path]:
    return sorted((GRAFANA_DIR / "dashboards").glob("*.json"))


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those nested in (collapsed) rows; rows themselves excluded."""
    found: list[dict[str, Any]] = []
    for panel in board.get("panels", []):
        if panel.get("type") == "row":
            found.extend(panels(panel))
        else:
            found.append(panel)
    return found


def dashboard_expressions() -> list[tuple[str, str]]:
    """(where, PromQL) for every target of every dashboard panel."""
    found = []
    for path in dashboard_files():
        board = json.loads(path.read_text())
        for panel in panels(board):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((f"{path.name}: {panel.get('title')}", str(target["expr"])))
    return found


def rule_expressions() -> list[tuple[str, str]]:
    return [(f"rule {rule.get('alert') or rule.get('record')}", str(rule["expr"])) for rule in rules()]


def metric_names(expression: str) -> set[str]:
    """watchfloor metric names in a PromQL expression (a loose parse: identifiers only).

    >>> sorted(metric_names('sum by (le) (rate(watchfloor_a_seconds_bucket[5m])) / watchfloor_b'))
    ['watchfloor_a_seconds_bucket', 'watchfloor_b']
    """
    return set(METRIC_NAME.findall(expression))
