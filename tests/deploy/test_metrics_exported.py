"""Every metric the dashboards and alert rules query is exported by a real worker (or console).

A real embedded broker and a real worker process; a little traffic goes through first (a plate
read and an undecodable message) so labelled metrics have samples.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.broker import EmbeddedBroker, find_free_port
from tests.conftest import REPO, TEST_CONFIG, WorkerProcess
from tests.deploy.compose_files import dashboard_expressions, metric_names, rule_expressions
from tests.integration.kafka_helpers import produce, produce_json, read

pytestmark = pytest.mark.integration

#: Names a family of each type exposes (the text parser strips ``_total`` from counter families).
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("", "_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("", "_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum", "_created"),
}


def exported_names(exposition: str) -> set[str]:
    """Every series name a /metrics page can answer, including families with no samples yet.

    >>> sorted(exported_names("# TYPE a_seconds histogram\\n# TYPE b counter\\n"))[:3]
    ['a_seconds', 'a_seconds_bucket', 'a_seconds_count']
    """
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def used_names(console: bool) -> dict[str, list[str]]:
    """Metric name -> where it is used, for worker names or (``console=True``) console names."""
    used: dict[str, list[str]] = {}
    for where, expression in dashboard_expressions() + rule_expressions():
        for name in metric_names(expression):
            if name.startswith("watchfloor_console_") == console:
                used.setdefault(name, []).append(where)
    return used


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _missing_message(missing: dict[str, list[str]], who: str) -> str:
    lines = [f"{len(missing)} metric(s) used in deploy/ are not exported by the {who}:"]
    lines += [f"  {name}  (used in {', '.join(sorted(set(where))[:3])})" for name, where in sorted(missing.items())]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def worker_metrics(worker: WorkerProcess) -> str:
    before = worker.metric_value("watchfloor_messages_consumed_total")
    produce_json(worker.bootstrap, "anpr.reads", [read("DP01MET", camera="cam-a")])
    produce(worker.bootstrap, "anpr.reads", [(b"cam-a", b"\xff not json")])
    deadline = time.monotonic() + 20
    while worker.metric_value("watchfloor_messages_consumed_total") < before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert worker.metric_value("watchfloor_messages_consumed_total") >= before + 2, worker.log_tail()
    return worker.metrics()


def _console_command(port: int) -> list[str] | None:
    from streams.cli import build_parser

    try:
        build_parser().parse_args(["console", "--port", str(port)])
        return [sys.executable, "-m", "streams.cli", "console", "--host", "127.0.0.1", "--port", str(port)]
    except SystemExit:
        pass
    if importlib.util.find_spec("streams.console.__main__") is not None:
        return [sys.executable, "-m", "streams.console", "--host", "127.0.0.1", "--port", str(port)]
    return None


@pytest.fixture(scope="module")
def console_metrics(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = find_free_port()
    command = _console_command(port)
    if command is None:
        pytest.skip("no console to start yet (neither `watchfloor console` nor `python -m streams.console`)")
    run_dir: Path = tmp_path_factory.mktemp("console")
    env = {**os.environ, "WATCHFLOOR_BOOTSTRAP": broker.bootstrap, "WATCHFLOOR_CONFIG": str(TEST_CONFIG),
           "WATCHFLOOR_RUN_DIR": str(run_dir), "WATCHFLOOR_CONSOLE_SECRET": "test-deploy-secret",
           "PYTHONUNBUFFERED": "1"}
    log_path = run_dir / "console.log"
    with log_path.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                yield scrape(f"http://127.0.0.1:{port}/metrics")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"console did not serve /metrics:\n{log_path.read_text(errors='replace')[-3000:]}")
                time.sleep(0.3)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def test_deploy_files_query_watchfloor_metrics() -> None:
    assert used_names(console=False), "no watchfloor metric found in the dashboards and rules"
    assert used_names(console=True), "the dashboards should show the console too"


def test_worker_exports_every_metric_the_dashboards_and_rules_use(worker_metrics: str) -> None:
    exported = exported_names(worker_metrics)
    missing = {name: where for name, where in used_names(console=False).items() if name not in exported}
    assert not missing, _missing_message(missing, "worker")


def test_traffic_gives_labelled_worker_metrics_samples(worker_metrics: str) -> None:
    samples = {s.name for f in text_string_to_metric_families(worker_metrics) for s in f.samples}
    for name in ("watchfloor_messages_consumed_total", "watchfloor_deadletters_total",
                 "watchfloor_events_processed_total"):
        assert name in samples, f"{name} has no samples after traffic"


def test_console_exports_every_console_metric_the_dashboards_and_rules_use(console_metrics: str) -> None:
    exported = exported_names(console_metrics)
    missing = {name: where for name, where in used_names(console=True).items() if name not in exported}
    assert not missing, _missing_message(missing, "console")
