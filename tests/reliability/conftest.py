"""Reliability fixtures: a private broker per test module, so killing workers disturbs no one else."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.watchlist import WatchlistEntry
from streams.broker import EmbeddedBroker, child_preexec, find_free_port
from streams.config import load_config
from streams.console.auth import hash_token
from streams.topics import ensure_topics
from tests.conftest import REPO, TEST_CONFIG
from tests.integration.kafka_helpers import produce, read

CONSOLE_TOKEN = "wft_reliability-test-token"


@pytest.fixture
def private_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as broker:
        asyncio.run(ensure_topics(load_config(TEST_CONFIG, env={"WATCHFLOOR_BOOTSTRAP": broker.bootstrap})))
        yield broker


def listed_plates(count: int) -> list[str]:
    tag = uuid.uuid4().hex[:3].upper()
    return [f"R{tag}{i:04d}" for i in range(count)]


def config_with(path: Path, **sections: dict[str, Any]) -> Path:
    """The test config with ``sections`` merged in (key by key), written to ``path``."""
    config = yaml.safe_load(TEST_CONFIG.read_text())
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    path.write_text(yaml.safe_dump(config))
    return path


def add_to_watchlist(bootstrap: str, plates: list[str]) -> None:
    now = time.time()
    produce(bootstrap, "watchlist", [
        (p.encode(), WatchlistEntry(plate=p, reason="reliability", added_by="test", added_at=now)
         .model_dump_json().encode()) for p in plates])


def replay_messages(hits: list[str], total_reads: int, batch: int, cameras: tuple[str, ...] = ("cam-a", "cam-b")
                    ) -> list[tuple[bytes | None, bytes | None]]:
    """``total_reads`` reads in batches; each plate in ``hits`` is read exactly once, spread evenly."""
    every = max(1, total_reads // max(1, len(hits)))
    reads: list[dict[str, Any]] = []
    for i in range(total_reads):
        index, remainder = divmod(i, every)
        plate = hits[index] if remainder == every // 2 and index < len(hits) else f"N{uuid.uuid4().hex[:6].upper()}"
        reads.append(read(plate, camera=cameras[i % len(cameras)]))
    return [(cameras[(i // batch) % len(cameras)].encode(), json.dumps({"reads": reads[i:i + batch]}).encode())
            for i in range(0, len(reads), batch)]


class ConsoleProcess:
    """A real ``watchfloor console`` with an API token user, reading the same broker."""

    def __init__(self, bootstrap: str, workdir: Path) -> None:
        self.config_path = config_with(workdir / "console.yaml", console={"users": [
            {"username": "ops", "role": "supervisor", "token_hashes": [hash_token(CONSOLE_TOKEN)]}]})
        self.port = find_free_port()
        env = {**os.environ, "WATCHFLOOR_BOOTSTRAP": bootstrap, "WATCHFLOOR_CONFIG": str(self.config_path),
               "WATCHFLOOR_CONSOLE_SECRET": "reliability"}
        self.log = (workdir / "console.log").open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "streams.cli", "console", "--port", str(self.port)],
                                        cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        preexec_fn=child_preexec())

    def get(self, path: str) -> Any:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                         headers={"Authorization": f"Bearer {CONSOLE_TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def alerts(self, rule: str) -> list[dict[str, Any]]:
        try:
            return list(self.get(f"/api/alerts?rule={rule}&status=new&limit=100000")["alerts"])
        except OSError:
            return []

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def wait_for(condition: Any, timeout: float, message: str, interval: float = 0.3) -> float:
    """Poll ``condition()`` until true; returns the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{message} (after {timeout:.0f}s)")
        time.sleep(interval)
    return time.monotonic() - started
