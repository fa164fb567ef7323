"""Console fixtures: a real console (in a thread, on a free port) against the real embedded broker."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.alerts import Alert, AlertCandidate, Evidence
from streams.broker import EmbeddedBroker, find_free_port
from streams.config import WatchfloorConfig, load_config
from streams.console.api import AUTH
from streams.console.app import create_console_app
from streams.console.auth import Authenticator, hash_password, hash_token
from streams.console.config import ROLES, ConsoleConfig, ConsoleUser
from streams.topics import ensure_topics
from tests.conftest import TEST_CONFIG

SECRET_ENV = {"WATCHFLOOR_CONSOLE_SECRET": "test-session-secret"}


def token_for(role: str) -> str:
    return f"test-token-{role}"


def console_config() -> ConsoleConfig:
    """One user per role; password = username, API token = ``token_for(role)``."""
    users = [ConsoleUser(username=role, role=role, password_hash=hash_password(role),
                         token_hashes=[hash_token(token_for(role))]) for role in ROLES]
    return ConsoleConfig(port=0, users=users)


@dataclass
class ConsoleServer:
    """A console app served from a background thread with its own event loop."""

    config: WatchfloorConfig
    console: ConsoleConfig
    port: int = field(default_factory=find_free_port)
    app: web.Application | None = None

    def start(self) -> ConsoleServer:
        self._loop = asyncio.new_event_loop()
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self.app = create_console_app(self.config, self.console, env=SECRET_ENV)
            self._runner = web.AppRunner(self.app, shutdown_timeout=2.0)
            self._loop.run_until_complete(self._runner.setup())
            self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="console", daemon=True)
        self._thread.start()
        assert started.wait(20), "console did not start"
        return self

    def app_auth(self) -> Authenticator:
        assert self.app is not None
        return self.app[AUTH]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as response:
                    if json.loads(response.read())["ready"]:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise AssertionError("console never became ready")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="session")
def kafka_config(broker: EmbeddedBroker, snapshot_dir: Path) -> WatchfloorConfig:
    config = load_config(TEST_CONFIG, env={"WATCHFLOOR_BOOTSTRAP": broker.bootstrap,
                                           "WATCHFLOOR_SNAPSHOT_DIR": str(snapshot_dir)})
    asyncio.run(ensure_topics(config))
    return config


@pytest.fixture(scope="session")
def snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snapshots")
    (path / "cam-a").mkdir()
    (path / "cam-a" / "frame1.jpg").write_bytes(JPEG)
    (tmp_path_factory.getbasetemp() / "secret.jpg").write_bytes(b"outside")
    (path / "escape.jpg").symlink_to(tmp_path_factory.getbasetemp() / "secret.jpg")
    return path


@pytest.fixture(scope="session")
def console(kafka_config: WatchfloorConfig) -> Iterator[ConsoleServer]:
    server = ConsoleServer(kafka_config, console_config()).start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


#: The smallest valid JPEG-ish payload is enough: the console serves bytes, it does not decode them.
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


def make_alert(**fields: Any) -> Alert:
    """An alert as the alerting agent would publish it, with a unique id and subject."""
    now = time.time()
    unique = uuid.uuid4().hex[:10]
    base: dict[str, Any] = dict(
        alert_id=f"al-test-{unique}", rule="test_rule", subject=f"SUBJ{unique}", severity="high",
        title="Test alert", camera_id="cam-a", site_id="market", first_seen=now, last_seen=now,
        raised_at=now, updated_at=now,
        evidence=[Evidence(event_id=f"ev-{unique}", event_time=now, camera_id="cam-a",
                           snapshot_ref="cam-a/frame1.jpg")],
    )
    base.update(fields)
    return Alert(**base)


def make_candidate(**fields: Any) -> AlertCandidate:
    now = time.time()
    unique = uuid.uuid4().hex[:10]
    base: dict[str, Any] = dict(
        alert_id=f"al-cand-{unique}", rule="console_test", subject=f"CT{unique}", severity="critical",
        event_time=now, camera_id="cam-c", site_id="station", title="Console test alert",
        evidence=[Evidence(event_id=f"ev-{unique}", event_time=now, camera_id="cam-c")],
    )
    base.update(fields)
    return AlertCandidate(**base)


async def produce(config: WatchfloorConfig, topic: str, records: list[tuple[bytes | None, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=config.kafka.bootstrap)
    await producer.start()
    try:
        for key, value in records:
            await (await producer.send(topic, key=key, value=value))
    finally:
        await producer.stop()


async def publish_alert(config: WatchfloorConfig, alert: Alert) -> None:
    await produce(config, "alerts", [(alert.alert_id.encode(), alert.model_dump_json().encode())])


async def publish_candidate(config: WatchfloorConfig, candidate: AlertCandidate) -> None:
    # Keyed by the dedupe key, like the detectors do: the agent's state is partitioned by it.
    await produce(config, "alerts.candidates",
                  [(candidate.dedupe_key.encode(), candidate.model_dump_json().encode())])


async def read_topic(config: WatchfloorConfig, topic: str, match: Any, timeout: float = 15.0) -> list[Any]:
    """Records of ``topic`` (from the beginning) for which ``match(record)`` holds; waits for one."""
    consumer = AIOKafkaConsumer(bootstrap_servers=config.kafka.bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        found: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                found.extend(r for r in batch if match(r))
            if found:
                # drain what is already there, then answer
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    found.extend(r for r in batch if match(r))
                return found
        return found
    finally:
        await consumer.stop()
