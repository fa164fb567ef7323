"""The one configuration object, loaded from YAML and validated strictly at start-up.

Cameras, sites and rule thresholds live in the YAML file; connection settings can be
overridden by environment variables (``WATCHFLOOR_BOOTSTRAP``, ...) so the same file serves a
laptop demo and a production cluster. Unknown keys and bad values fail with the offending path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detectors.plates.config import PlatesConfig
from detectors.scene.config import SceneRulesConfig, ZoneConfig
from detectors.video.config import VideoDetectorsConfig
from schemas.deployments import Deployment
from streams.console.config import ConsoleConfig

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "demo.yaml"


class ConfigError(Exception):
    """The configuration is invalid; the message names the file, the path and the reason."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSecurity(Strict):
    """TLS/SASL settings for an existing cluster. Secrets come from env or files, never the CLI."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    username: str | None = None
    password_env: str | None = Field(default=None, description="Env var holding the SASL password.")
    password_file: Path | None = Field(default=None, description="File holding the SASL password.")
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def password(self) -> str | None:
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(f"kafka.security.password_env: env var {self.password_env} is not set")
            return value
        if self.password_file:
            return self.password_file.read_text().strip()
        return None


class KafkaConfig(Strict):
    bootstrap: str = Field(default="127.0.0.1:9092", description="host:port[,host:port]; env WATCHFLOOR_BOOTSTRAP.")
    partitions: int = Field(default=4, ge=1, le=1024, description="Partitions for every watchfloor topic.")
    replication_factor: int = Field(default=1, ge=1, le=7)
    rebalance_timeout_s: float = Field(
        default=3.0, gt=0, le=300, description="Short on the embedded broker: first join waits for all of it."
    )
    max_message_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    fetch_max_bytes: int = Field(
        default=4 * 1_048_576, ge=65_536, le=256 * 1_048_576,
        description="Most bytes a hot-path consumer (anpr, alerting) asks for per fetch, a quarter of it "
        "per partition. Brokers still return a message bigger than this, whole. A few MB keep what a fetch "
        "brings within the CPU cache while it is handled. Whatever the size, the worker maps each fetch's "
        "buffers afresh and returns them when freed (its glibc mmap threshold is pinned, streams/worker.py): "
        "page faults cost the same per byte fetched, and memory stays flat.",
    )
    fetch_max_wait_ms: int = Field(
        default=10, ge=1, le=30_000,
        description="Longest a consumer fetch may wait on the broker for data. The embedded broker holds "
        "a fetch for much of this even when data is waiting, so it bounds each hop's latency there; "
        "Apache Kafka answers as soon as data arrives, so 500 there saves idle fetch requests.",
    )
    agents_fetch_max_wait_ms: int = Field(
        default=100, ge=1, le=30_000,
        description="The same for the Faust agents' consumer (camera.frames, camera.detections, "
        "alerts.actions). Their rules work over seconds, so a tenth of a second per hop is not seen, "
        "and an idle worker's Faust consumer thread sends a tenth of the fetches it would at 10 ms: "
        "CPU (and the GIL) left for the ANPR path.",
    )
    route_journeys_by_plate: bool = Field(
        default=False,
        description="Send every usable plate read on through anpr.sightings, keyed by plate, for the "
        "cloned-plate and circling rules, so they see every read of a plate whichever worker consumed "
        "it. Needed with more than one worker unless anpr.reads is keyed by region; costs a second "
        "pass through Kafka. Convoy stays with the camera's partition unless route_convoy_by_pair is on.",
    )
    route_convoy_by_pair: bool = Field(
        default=False,
        description="With route_journeys_by_plate: the camera-keyed stage pairs each read with the reads "
        "of other plates at its camera within convoy.max_gap_s and sends each pair on by plate, so the "
        "convoy rule sees all of a pair's co-occurrences whichever workers consumed them. Needed for "
        "convoys across several workers unless anpr.reads is keyed by region; costs one extra "
        "anpr.sightings record per pair of plates read together.",
    )
    rebuild_anpr_state: bool = Field(
        default=True,
        description="When a worker takes over anpr.reads (or anpr.sightings) partitions, at start-up or in "
        "a rebalance, it first replays the reads of the rules' horizon before the last commit, so the "
        "cloned-plate, circling and convoy windows span restarts. Start-up then takes about a second per "
        "90,000 reads replayed (a national feed's 4 h horizon on one worker: about a minute and a half).",
    )
    security: KafkaSecurity = KafkaSecurity()

    @model_validator(mode="after")
    def _pairs_need_plate_routing(self) -> KafkaConfig:
        if self.route_convoy_by_pair and not self.route_journeys_by_plate:
            raise ValueError("route_convoy_by_pair needs route_journeys_by_plate: the pairs go on through "
                             "anpr.sightings to the plate-keyed stage")
        return self


class Site(Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Camera(Strict):
    id: str = Field(min_length=1, max_length=64)
    name: str
    site: str = Field(description="Id of the site the camera watches.")
    kind: Literal["anpr", "cctv"] = "anpr"
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


MIN_PLATE_HASH_KEY_BYTES = 16


class PrivacyConfig(Strict):
    plate_hash_key_env: str = Field(
        default="WATCHFLOOR_PLATE_HASH_KEY", description="Env var with the key for plate hashes in logs."
    )
    plate_hash_key_file: Path | None = None
    require_plate_hash_key: bool = Field(
        default=False, description="Refuse to start without a real key (set in production; the demo uses a fixed one)."
    )

    def plate_hash_key(self) -> bytes:
        key = self._read_plate_hash_key()
        if len(key) < MIN_PLATE_HASH_KEY_BYTES:
            raise ConfigError(f"privacy: the plate hash key must be at least {MIN_PLATE_HASH_KEY_BYTES} bytes")
        return key

    def _read_plate_hash_key(self) -> bytes:
        if self.plate_hash_key_file:
            try:
                key = self.plate_hash_key_file.read_bytes().strip()
            except OSError as error:
                raise ConfigError(
                    f"privacy.plate_hash_key_file: cannot read {self.plate_hash_key_file}: {error}"
                ) from None
            if not key:
                raise ConfigError(f"privacy.plate_hash_key_file: {self.plate_hash_key_file} is empty")
            return key
        value = os.environ.get(self.plate_hash_key_env, "").strip()
        if value:
            return value.encode()
        if self.require_plate_hash_key:
            raise ConfigError(f"privacy: no plate hash key: set {self.plate_hash_key_env} or plate_hash_key_file")
        # Why a fallback: a demo must start with no setup; production sets require_plate_hash_key.
        return b"watchfloor-demo-key-change-me"


class AlertingConfig(Strict):
    cooldown_s: float = Field(
        default=300.0, ge=0, le=86400, description="Repeats within this time update the open alert."
    )
    deployments: list[Deployment] = Field(default_factory=list, description="Active deployment zones.")
    correlate_watchlist_with_unattended: bool = Field(
        default=True, description="A watchlisted vehicle at a site with an open unattended item escalates both."
    )
    closed_alert_retention_s: float = Field(
        default=90 * 86400.0, gt=0, le=3660 * 86400,
        description="Resolved and dismissed alerts (and the state behind them) are deleted this long after "
        "their last change: tombstones on alerts and alerts.state, so consoles drop them too. Alerts carry "
        "plates and images of people; open alerts are never deleted.",
    )

    def deployment_at(self, site_id: str | None, t: float,
                      extra: Iterable[Deployment] = ()) -> tuple[str, int] | None:
        """The (name, levels) of the deployment covering a site at event time ``t``, if any.

        ``extra``: deployments declared at run time (the ``deployments`` topic).
        """
        for deployment in (*self.deployments, *extra):
            if deployment.covers(site_id, t):
                return deployment.name, deployment.raise_severity_by
        return None


class SnapshotConfig(Strict):
    dir: Path | None = Field(
        default=None,
        description="Where alarm snapshots (JPEG) are written and the console serves them from; shared "
        "by workers and consoles (a volume in production). Default ~/.watchfloor/snapshots.",
    )


class WorkerConfig(Strict):
    web_port: int = Field(default=6066, ge=0, le=65535, description="Metrics/health port; 0 picks a free one.")
    web_host: str = "127.0.0.1"
    data_dir: Path | None = Field(
        default=None, description="Faust's working directory; default ~/.watchfloor/worker-data/<web_port>."
    )


class WatchfloorConfig(Strict):
    """Everything watchfloor reads at start-up."""

    kafka: KafkaConfig = KafkaConfig()
    worker: WorkerConfig = WorkerConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    alerting: AlertingConfig = AlertingConfig()
    sites: list[Site] = Field(default_factory=list)
    cameras: list[Camera] = Field(default_factory=list)
    anpr: PlatesConfig = PlatesConfig()
    zones: list[ZoneConfig] = Field(default_factory=list, description="Polygons on camera images.")
    scene: SceneRulesConfig = SceneRulesConfig()
    video: VideoDetectorsConfig = Field(default_factory=lambda: VideoDetectorsConfig.model_validate({}))
    snapshots: SnapshotConfig = SnapshotConfig()
    console: ConsoleConfig = ConsoleConfig()

    @model_validator(mode="after")
    def _check_references(self) -> WatchfloorConfig:
        site_ids = [s.id for s in self.sites]
        camera_ids = [c.id for c in self.cameras]
        for kind, ids in (("sites", site_ids), ("cameras", camera_ids)):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"{kind}: duplicate id(s) {dupes}")
        for index, camera in enumerate(self.cameras):
            if camera.site not in site_ids:
                raise ValueError(f"cameras.{index}.site: unknown site {camera.site!r} (known: {site_ids})")
        for index, zone in enumerate(self.zones):
            if zone.camera_id not in camera_ids:
                raise ValueError(f"zones.{index}.camera_id: unknown camera {zone.camera_id!r}")
        for index, deployment in enumerate(self.alerting.deployments):
            unknown = [s for s in deployment.sites if s not in site_ids]
            if unknown:
                raise ValueError(f"alerting.deployments.{index}.sites: unknown site(s) {unknown}")
        return self

    def camera(self, camera_id: str) -> Camera | None:
        return self._cameras_by_id().get(camera_id)

    def _cameras_by_id(self) -> dict[str, Camera]:
        cached: dict[str, Camera] | None = self.__dict__.get("_camera_index")
        if cached is None:
            cached = {c.id: c for c in self.cameras}
            object.__setattr__(self, "_camera_index", cached)  # frozen model: cache once
        return cached


ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "WATCHFLOOR_BOOTSTRAP": ("kafka", "bootstrap"),
    "WATCHFLOOR_PARTITIONS": ("kafka", "partitions"),
    "WATCHFLOOR_WEB_PORT": ("worker", "web_port"),
    "WATCHFLOOR_WEB_HOST": ("worker", "web_host"),
    "WATCHFLOOR_PLATE_HASH_KEY_FILE": ("privacy", "plate_hash_key_file"),
    "WATCHFLOOR_SNAPSHOT_DIR": ("snapshots", "dir"),
}


def _format_errors(source: str, error: ValidationError) -> str:
    lines = [f"invalid configuration in {source}:"]
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"  {path}: {message}")
    return "\n".join(lines)


def parse_config(raw: dict[str, Any], source: str = "<config>", env: dict[str, str] | None = None) -> WatchfloorConfig:
    """Validate a config mapping, applying env overrides; raises ``ConfigError`` naming the path.

    >>> parse_config({"kafka": {"partitions": 2}}, env={}).kafka.partitions
    2
    """
    env = dict(os.environ) if env is None else env
    merged: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for var, (section, key) in ENV_OVERRIDES.items():
        if var in env:
            merged.setdefault(section, {})
            merged[section][key] = env[var]
    try:
        return WatchfloorConfig.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(_format_errors(source, error)) from None


def load_config(path: Path | str | None = None, env: dict[str, str] | None = None) -> WatchfloorConfig:
    """Load the YAML file (``WATCHFLOOR_CONFIG`` or the demo config by default)."""
    env = dict(os.environ) if env is None else env
    path = Path(path or env.get("WATCHFLOOR_CONFIG") or DEFAULT_CONFIG_PATH)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping, got {type(raw).__name__}")
    return parse_config(raw, str(path), env)
