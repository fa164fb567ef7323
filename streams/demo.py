"""``watchfloor demo``: broker, worker and simulated cameras, with alerts in this terminal.

Every part runs as a child process in its own session, so Ctrl-C reaches the demo first and it
stops the children in order (simulator, worker, broker) and leaves nothing behind. Children
also get a parent-death signal, so even a killed demo does not leave orphans.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from streams.alerts_tail import format_alert, tail_alerts
from streams.broker import WELL_KNOWN_PORT, EmbeddedBroker, child_preexec, find_free_port, port_is_free
from streams.config import WatchfloorConfig
from streams.runfile import remove_run_file, run_dir, write_run_file
from streams.watchlist_admin import RejectedRow, add_entries, read_csv
from streams.worker import ensure_topics_with_retry

log = logging.getLogger(__name__)

DEMO_WATCHLIST = Path(__file__).resolve().parent.parent / "config" / "demo-watchlist.csv"
def spawn(args: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as output:
        return subprocess.Popen([sys.executable, "-m", "streams.cli", *args], stdout=output,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                preexec_fn=child_preexec())


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def run_demo(config: WatchfloorConfig, config_path: Path | None, rate: float, duration: float | None) -> int:
    logs = run_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    port = WELL_KNOWN_PORT if port_is_free(WELL_KNOWN_PORT) else find_free_port()
    broker = EmbeddedBroker(port=port, log_path=logs / "broker.log").start()
    config = config.model_copy(update={"kafka": config.kafka.model_copy(update={"bootstrap": broker.bootstrap})})
    web_port = find_free_port()
    env = {**os.environ, "WATCHFLOOR_BOOTSTRAP": broker.bootstrap, "PYTHONUNBUFFERED": "1"}
    if config_path:
        env["WATCHFLOOR_CONFIG"] = str(config_path)
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        asyncio.run(ensure_topics_with_retry(config, timeout=30))
        entries = [e for e in read_csv(DEMO_WATCHLIST, actor="demo") if not isinstance(e, RejectedRow)]
        asyncio.run(add_entries(config, entries, actor="demo"))
        worker = spawn(["worker", "--web-port", str(web_port)], logs / "worker.log", env)
        children.append(worker)
        simulator = spawn(["simulate", "anpr", "--rate", str(rate), "--hit-every", "40", "--clone-every", "300"],
                          logs / "simulator.log", env)
        children.append(simulator)
        console_port = config.console.port if port_is_free(config.console.port) else find_free_port()
        console = spawn(["console", "--host", "127.0.0.1", "--port", str(console_port)], logs / "console.log", env)
        children.append(console)
        console_url = f"http://127.0.0.1:{console_port}/"
        write_run_file(bootstrap=broker.bootstrap, broker_pid=broker.pid, worker_pid=worker.pid,
                       simulator_pid=simulator.pid, console_pid=console.pid, console_url=console_url,
                       metrics_url=f"http://127.0.0.1:{web_port}/metrics")
        logins = ", ".join(f"{u.username}/{u.username}" for u in config.console.users)
        print(f"""
watchfloor demo is running
  console           {console_url}  (demo logins: {logins or "none configured"})
  Kafka (embedded)  {broker.bootstrap}
  worker metrics    http://127.0.0.1:{web_port}/metrics
  logs              {logs}
  watchlist         {len(entries)} demo plates from {DEMO_WATCHLIST.name}
In another terminal (no flags needed): watchfloor alerts tail | watchfloor watchlist list
Alerts appear below as they are raised. Ctrl-C stops everything.
""", flush=True)
        started = time.monotonic()

        async def show() -> None:
            async for alert in tail_alerts(config, timeout=duration):
                print(format_alert(alert, time.monotonic() - started), flush=True)
                for child in children:
                    if child.poll() is not None:
                        raise RuntimeError(f"a demo process exited unexpectedly; see logs in {logs}")

        asyncio.run(show())
        return 0
    except KeyboardInterrupt:
        print("\nstopping demo ...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
        for child in reversed(children):
            stop_process(child)
        broker.stop()
        remove_run_file()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("demo stopped: simulator, console, worker and broker are down.", flush=True)
