"""Shared fixtures: the real embedded broker and real worker processes (no mocked Kafka)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.broker import EmbeddedBroker, child_preexec, find_free_port

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
TEST_CONFIG = REPO / "tests" / "config" / "test.yaml"


def shared_data(relative: str) -> Path:
    """A file from ../shared/data; skips when absent, except in CI where it must be there."""
    path = SHARED_DATA / relative
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing: CI must have ../shared/data next to the repo")
        pytest.skip(f"needs {SHARED_DATA} (real footage and formats); not found")
    return path


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(log_path=None) as running:
        yield running


class WorkerProcess:
    """A real ``watchfloor worker`` subprocess against a given broker."""

    def __init__(self, bootstrap: str, log_path: Path, config: Path = TEST_CONFIG,
                 extra_env: dict[str, str] | None = None) -> None:
        self.bootstrap = bootstrap
        self.web_port = find_free_port()
        self.log_path = log_path
        self.config = config
        self.snapshot_dir = log_path.parent / "snapshots"
        self.env = {**os.environ, "WATCHFLOOR_BOOTSTRAP": bootstrap, "WATCHFLOOR_CONFIG": str(config),
                    "WATCHFLOOR_SNAPSHOT_DIR": str(self.snapshot_dir), "WATCHFLOOR_RUN_DIR": str(log_path.parent),
                    "PYTHONUNBUFFERED": "1", **(extra_env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker", "--web-port", str(self.web_port)],
                stdout=output, stderr=subprocess.STDOUT, env=self.env, cwd=REPO, preexec_fn=child_preexec())
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def ready(self) -> dict[str, object] | None:
        try:
            with urllib.request.urlopen(self.url("/readyz"), timeout=2) as response:
                body: dict[str, object] = json.loads(response.read())
                return body
        except Exception:
            return None

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")
            status = self.ready()
            if status and status.get("ready") and status.get("assigned_partitions"):
                return
            time.sleep(0.3)
        raise AssertionError(f"worker not ready within {timeout}s:\n{self.log_tail()}")

    def metrics(self, *names: str) -> str:
        """The worker's /metrics page; only the series ``names`` when given (``?name[]=``)."""
        query = "&".join(f"name[]={name}" for name in names)
        with urllib.request.urlopen(self.url(f"/metrics?{query}" if query else "/metrics"), timeout=5) as response:
            return str(response.read().decode())

    def metric_value(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples matching ``labels`` (0 when absent)."""
        from prometheus_client.parser import text_string_to_metric_families

        total = 0.0
        for family in text_string_to_metric_families(self.metrics(name)):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, kill: bool = False) -> None:
        if self.process and self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture(scope="session")
def worker(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    running = WorkerProcess(broker.bootstrap, tmp_path_factory.mktemp("worker") / "worker.log").start()
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
