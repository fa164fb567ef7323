"""The Faust app of a watchfloor worker, built from the one config object."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST

from streams import metrics
from streams.agents import alerting, anpr, scene, video
from streams.config import WatchfloorConfig
from streams.faust_transport import WorkerApp
from streams.group_consumer import GroupConsumer
from streams.kafka import faust_broker_settings
from streams.runfile import run_dir
from streams.runtime import Runtime
from streams.topics import APP_ID

log = logging.getLogger(__name__)

#: How often consumer lag and readiness are refreshed for /metrics.
LAG_INTERVAL_S = 5.0


def data_dir(config: WatchfloorConfig) -> Path:
    """Each worker on a host needs its own table directory (RocksDB locks it)."""
    path = config.worker.data_dir or run_dir() / "worker-data" / str(config.worker.web_port)
    path.mkdir(parents=True, exist_ok=True)
    return path


def create_app(config: WatchfloorConfig) -> tuple[faust.App, Runtime]:
    """Build the app with every agent registered; returns it with the shared runtime."""
    app = WorkerApp(
        APP_ID,
        fetch_max_wait_ms=config.kafka.agents_fetch_max_wait_ms,
        **faust_broker_settings(config),
        datadir=str(data_dir(config)),
        topic_partitions=config.kafka.partitions,
        topic_replication_factor=config.kafka.replication_factor,
        topic_disable_leader=True,
        # The embedded broker makes a first join wait for the whole timeout: keep it short.
        broker_rebalance_timeout=config.kafka.rebalance_timeout_s,
        broker_session_timeout=max(10.0, config.kafka.rebalance_timeout_s * 2),
        broker_heartbeat_interval=1.0,
        # Transactions fail on the embedded broker; alert ids are idempotent instead.
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_max_request_size=2 * config.kafka.max_message_bytes + 65_536,
        consumer_max_fetch_size=4 * config.kafka.max_message_bytes,
        web_enabled=True,
        web_host=config.worker.web_host,
        web_bind=config.worker.web_host,
        web_port=config.worker.web_port,
        web_in_thread=False,
        table_cleanup_interval=30.0,
        autodiscover=False,
    )
    runtime = Runtime(app, config)
    scene.register(app, runtime)
    video.register(app, runtime)
    # ANPR reads and alerting run on their own consumer groups (see streams.group_consumer).
    hot_paths: list[GroupConsumer] = [*anpr.register(app, runtime), alerting.register(app, runtime)]

    @app.task(on_leader=False)
    async def start_replicas() -> None:
        for replica in runtime.replicas:
            replica.start()

    reported_lag: set[tuple[str, int]] = set()

    def is_ready() -> tuple[bool, int]:
        assigned = len(app.consumer.assignment()) if app.consumer else 0
        ready = runtime.watchlist.ready.is_set() and assigned > 0 and all(c.joined.is_set() for c in hot_paths)
        return ready, assigned + sum(len(c.assignment()) for c in hot_paths)

    @app.timer(LAG_INTERVAL_S)
    async def report_consumer_state() -> None:
        ready, assigned = is_ready()
        metrics.WORKER_READY.set(1 if ready else 0)
        metrics.ASSIGNED_PARTITIONS.set(assigned)
        partitions = [tp for tp in app.consumer.assignment() if not tp.topic.endswith("-changelog")]
        current: set[tuple[str, int]] = set()
        if partitions:
            highwaters = await app.consumer.highwaters(*partitions)
            for tp in partitions:
                position = await app.consumer.position(tp)
                if position is not None and tp in highwaters:
                    metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwaters[tp] - position))
                    current.add((tp.topic, tp.partition))
        for hot_path in hot_paths:  # each has its own consumer group
            for tp, lag in (await hot_path.lag()).items():
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(lag)
                current.add((tp.topic, tp.partition))
        for topic, partition in reported_lag - current:  # revoked: stale lag would keep alerts firing
            metrics.CONSUMER_LAG.remove(topic, str(partition))
        reported_lag.clear()
        reported_lag.update(current)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type=, so pass the exposition type as a header.
        names = request.rel_url.query.getall("name[]", [])
        return web.bytes(metrics.exposition(names), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        # Ready = watchlist loaded and partitions assigned: reads would now be matched.
        ready, assigned = is_ready()
        return web.json({"ready": ready, "watchlist_entries": len(runtime.watchlist_index),
                         "assigned_partitions": assigned}, status=200 if ready else 503)

    return app, runtime
