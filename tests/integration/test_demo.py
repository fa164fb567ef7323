"""`watchfloor demo` as a user runs it: alerts within a minute, Ctrl-C leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is gone for our purposes once reaped by its parent.
    try:
        return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0
    except OSError:
        return False


def test_demo_shows_alerts_within_a_minute_and_stops_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "WATCHFLOOR_RUN_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    env.pop("WATCHFLOOR_BOOTSTRAP", None)
    watchfloor = [sys.executable, "-m", "streams.cli"]
    started = time.monotonic()
    # Ctrl-C as from a terminal: SIGINT at its default. A non-interactive shell starts background
    # jobs (`make test &`) with SIGINT ignored, and an ignored signal stays ignored across exec.
    demo = subprocess.Popen([*watchfloor, "demo"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[bytes] = []  # what the demo's own terminal shows, read as it comes
    reader = threading.Thread(target=lambda: lines.extend(iter(demo.stdout.readline, b"")) if demo.stdout else None,
                              daemon=True)
    reader.start()
    try:
        run_file = tmp_path / "run.json"
        deadline = time.monotonic() + 30
        while not run_file.exists():
            assert demo.poll() is None, b"".join(lines).decode()
            assert time.monotonic() < deadline, "demo never wrote its run file"
            time.sleep(0.2)
        info = json.loads(run_file.read_text())

        # A second terminal, no flags: finds the demo through the run file.
        remaining = 60 - (time.monotonic() - started)
        tail = subprocess.run([*watchfloor, "alerts", "tail", "--json", "--limit", "1", "--timeout",
                               str(remaining)], cwd=REPO, env=env, capture_output=True, timeout=90)
        assert tail.returncode == 0, f"no alert within 60 s:\n{tail.stderr.decode()[-2000:]}"
        alert = json.loads(tail.stdout.decode().splitlines()[0])
        assert alert["rule"] in ("watchlist_hit", "cloned_plate") and alert["evidence"]
        assert time.monotonic() - started < 60
        with urllib.request.urlopen(info["console_url"] + "healthz", timeout=10) as response:
            assert response.status == 200  # the console the demo printed is up

        deadline = time.monotonic() + 10  # the demo's terminal shows it too (its own consumer)
        while not any(b"Watchlisted vehicle" in line for line in lines):
            assert time.monotonic() < deadline, "no alert in the demo's own terminal"
            time.sleep(0.2)

        demo.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:  # say which part hung: the demo's terminal and its children's logs
            logs = "".join(f"\n--- {log.name}:\n{log.read_text(errors='replace')[-1500:]}"
                           for log in sorted((tmp_path / "logs").glob("*.log")))
            raise AssertionError(f"the demo did not stop within 60 s of Ctrl-C:\n"
                                 f"{b''.join(lines).decode(errors='replace')[-1500:]}{logs}") from None
        reader.join(10)
        assert demo.returncode == 0, b"".join(lines).decode()[-2000:]
        assert any(b"demo stopped" in line for line in lines)
        pids = {info[k] for k in ("pid", "broker_pid", "worker_pid", "simulator_pid", "console_pid")}
        time.sleep(0.5)
        assert [p for p in pids if alive(p)] == [], "processes left behind after Ctrl-C"
        assert not run_file.exists()
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()


def test_a_killed_demo_takes_its_children_with_it(tmp_path: Path) -> None:
    env = {**os.environ, "WATCHFLOOR_RUN_DIR": str(tmp_path)}
    env.pop("WATCHFLOOR_BOOTSTRAP", None)
    demo = subprocess.Popen([sys.executable, "-m", "streams.cli", "demo"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_file = tmp_path / "run.json"
        deadline = time.monotonic() + 30
        while not run_file.exists():
            assert demo.poll() is None and time.monotonic() < deadline, "demo never wrote its run file"
            time.sleep(0.2)
        info = json.loads(run_file.read_text())
        demo.kill()  # kill -9: no chance to clean up
        demo.wait()
        children = [info[k] for k in ("broker_pid", "worker_pid", "simulator_pid", "console_pid")]
        deadline = time.monotonic() + 20
        while [p for p in children if alive(p)]:
            assert time.monotonic() < deadline, "children outlived a killed demo"
            time.sleep(0.2)
    finally:
        if demo.poll() is None:
            demo.kill()
