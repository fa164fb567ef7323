"""Console benchmark: start-up over 100,000 alerts, and a burst of 1,000 alerts to a live client.

1. Produce 100,000 alerts to ``alerts`` (aiokafka), then start a console process and time until
   ``/readyz`` says it caught up. Baseline, same run: plain aiokafka consume + json decode of the
   same records.
2. With a live feed (SSE) open, produce a burst of 1,000 alerts; count those received within a
   minute and their produce-to-client latency (p50/p99).

Prints the figures and writes ``bench/results/console.json``. Run: ``.venv/bin/python bench/console.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streams.broker import EmbeddedBroker, find_free_port  # noqa: E402
from streams.config import WatchfloorConfig, parse_config  # noqa: E402
from streams.console.auth import hash_token  # noqa: E402
from streams.topics import ALERTS, ensure_topics  # noqa: E402

STARTUP_ALERTS = 100_000
BURST_ALERTS = 1_000
TOKEN = "bench-token"
SEVERITIES = ("info", "low", "medium", "high", "critical")


def alert_json(index: int, now: float, prefix: str) -> bytes:
    """One alert as the alerting agent publishes it (about 600 bytes, one evidence item)."""
    alert_id = f"al-{prefix}-{index:08d}"
    return json.dumps({
        "schema_version": 1, "alert_id": alert_id, "rule": "watchlist_hit", "subject": f"BN{index:07d}",
        "severity": SEVERITIES[index % 5], "status": "new", "title": "Watchlisted vehicle",
        "camera_id": "cam-a", "site_id": "market", "first_seen": now, "last_seen": now, "count": 1,
        "raised_at": now, "updated_at": now, "assignee": None, "resolution": None, "restricted": False,
        "evidence": [{"event_id": f"r-{prefix}-{index}", "event_time": now, "camera_id": "cam-a",
                      "source_topic": "anpr.reads", "snapshot_ref": None, "box": None,
                      "data": {"plate": f"BN{index:07d}", "confidence": 0.93}}],
        "details": {"reason": "stolen vehicle", "priority": 1}, "history": [], "linked_alert_ids": [],
    }).encode()


async def produce_alerts(config: WatchfloorConfig, count: int, prefix: str) -> tuple[float, dict[str, float]]:
    """Produce ``count`` alerts as fast as possible; returns seconds taken and each id's send time."""
    producer = AIOKafkaProducer(bootstrap_servers=config.kafka.bootstrap, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    sent: dict[str, float] = {}
    started = time.perf_counter()
    try:
        futures = []
        for index in range(count):
            now = time.time()
            key = f"al-{prefix}-{index:08d}"
            sent[key] = now
            futures.append(await producer.send(ALERTS, key=key.encode(), value=alert_json(index, now, prefix)))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started, sent


async def raw_baseline(config: WatchfloorConfig) -> tuple[float, int]:
    """Plain aiokafka: read the whole topic from the start and json-decode every record."""
    started = time.perf_counter()
    consumer = AIOKafkaConsumer(bootstrap_servers=config.kafka.bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1_048_576,
                                fetch_max_bytes=16 * 1_048_576)
    await consumer.start()
    try:
        partitions = [TopicPartition(ALERTS, p) for p in sorted(consumer.partitions_for_topic(ALERTS) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        decoded = 0
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            for batch in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in batch:
                    json.loads(record.value)
                    decoded += 1
        return time.perf_counter() - started, decoded
    finally:
        await consumer.stop()


def start_console(config: WatchfloorConfig, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    console_yaml = workdir / "console.yaml"
    console_yaml.write_text(json.dumps({"console": {"users": [
        {"username": "bench", "role": "supervisor", "token_hashes": [hash_token(TOKEN)]}]}}))
    env = {**os.environ, "WATCHFLOOR_BOOTSTRAP": config.kafka.bootstrap, "WATCHFLOOR_CONSOLE_SECRET": "bench"}
    log = (workdir / "console.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "streams.console", "--console-config", str(console_yaml),
                             "--host", "127.0.0.1", "--port", str(port)], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


async def wait_ready(url: str, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url + "/readyz") as response:
                    if response.status == 200:
                        body: dict[str, Any] = await response.json()
                        return body
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("console not ready in time")


async def burst(config: WatchfloorConfig, url: str) -> dict[str, Any]:
    """Open a live feed, produce a burst, measure what reaches the client and how fast."""
    received: dict[str, float] = {}
    snapshot_ready = asyncio.Event()

    async def listen(session: aiohttp.ClientSession) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with session.get(url + "/api/alerts/stream?severity=" + ",".join(SEVERITIES),
                               headers=headers, timeout=aiohttp.ClientTimeout(total=None)) as feed:
            event = ""
            async for raw in feed.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "snapshot":
                        snapshot_ready.set()
                elif line.startswith("data: ") and event == "alert":
                    alert_id = json.loads(line[6:])["alert_id"]
                    if alert_id.startswith("al-burst-"):
                        received.setdefault(alert_id, time.time())

    async with aiohttp.ClientSession() as session:
        listener = asyncio.create_task(listen(session))
        await asyncio.wait_for(snapshot_ready.wait(), 30)
        produce_s, sent = await produce_alerts(config, BURST_ALERTS, "burst")
        deadline = time.monotonic() + 60
        while len(received) < BURST_ALERTS and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
    latencies = sorted(received[k] - sent[k] for k in received)
    return {
        "produced": BURST_ALERTS, "received": len(received), "produce_s": round(produce_s, 3),
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "latency_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 1) if latencies else None,
        "latency_max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
    }


async def main() -> dict[str, Any]:
    with EmbeddedBroker(log_path=None) as broker, tempfile.TemporaryDirectory() as tmp:
        config = parse_config({"kafka": {"bootstrap": broker.bootstrap, "partitions": 4}}, env={})
        await ensure_topics(config)
        produce_s, _ = await produce_alerts(config, STARTUP_ALERTS, "start")
        print(f"produced {STARTUP_ALERTS} alerts in {produce_s:.1f}s", flush=True)
        baseline_s, decoded = await raw_baseline(config)
        print(f"raw baseline: aiokafka consume + json decode of {decoded} records in {baseline_s:.2f}s", flush=True)

        port = find_free_port()
        url = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        process = start_console(config, port, Path(tmp))
        try:
            ready = await wait_ready(url)
            startup_s = time.perf_counter() - started
            print(f"console ready after {startup_s:.2f}s (process start to /readyz; materialising "
                  f"{ready['alerts']} alerts took {ready['caught_up_in_s']:.2f}s)", flush=True)
            burst_result = await burst(config, url)
            print(f"burst: {burst_result['received']}/{burst_result['produced']} alerts reached the live client; "
                  f"latency p50 {burst_result['latency_p50_ms']} ms, p99 {burst_result['latency_p99_ms']} ms",
                  flush=True)
        finally:
            process.terminate()
            process.wait(15)
    return {
        "startup": {"alerts": STARTUP_ALERTS, "console_ready_s": round(startup_s, 2),
                    "materialise_s": round(ready["caught_up_in_s"], 2), "alerts_in_view": ready["alerts"],
                    "raw_baseline_s": round(baseline_s, 2),
                    "ratio_vs_raw": round(ready["caught_up_in_s"] / baseline_s, 2),
                    "materialise_alerts_per_s": round(STARTUP_ALERTS / ready["caught_up_in_s"])},
        "burst": burst_result,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpu_count": os.cpu_count(),
    }


if __name__ == "__main__":
    results = asyncio.run(main())
    out = REPO / "bench" / "results" / "console.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"ratio console materialise / raw baseline: {results['startup']['ratio_vs_raw']}x; wrote {out}")
