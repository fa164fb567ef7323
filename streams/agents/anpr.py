"""ANPR agent: plate reads in, alert candidates out."""

from __future__ import annotations

import time
from typing import Any

import faust

from streams import metrics
from streams.anpr_pipeline import AnprPipeline
from streams.codecs import Rejected, decode_plate_reads
from streams.runtime import Runtime
from streams.topics import ANPR_READS

#: How often rule state is pruned by wall time (retention on an idle feed).
PRUNE_INTERVAL_S = 60.0


def register(app: faust.App, runtime: Runtime) -> Any:
    reads_topic = app.topic(ANPR_READS, key_serializer="raw", value_serializer="raw")
    pipeline = AnprPipeline(runtime.config, runtime.watchlist_index)
    max_bytes = runtime.config.kafka.max_message_bytes

    async def handle(message: Any) -> None:
        if not runtime.watchlist.ready.is_set():
            await runtime.watchlist.ready.wait()  # never match against a half-loaded list
        reads, rejected_parts = decode_plate_reads(message.value, max_bytes)
        for _, rejected_part in rejected_parts:
            await runtime.send_dead_letter(rejected_part, message, part=True)
        started = time.perf_counter()
        output = pipeline.process(reads)
        metrics.DETECTOR_SECONDS.labels("plates").observe(time.perf_counter() - started)
        for read, reason in output.unusable:
            await runtime.send_dead_letter(
                Rejected("schema_violation", f"read {read['read_id']}: {reason}"), message, part=True)
        metrics.EVENTS_PROCESSED.labels("plate_read").inc(len(reads) - len(output.unusable))
        await runtime.send_candidates(output.candidates)

    @app.agent(reads_topic, name="anpr")
    async def anpr(stream: faust.StreamT) -> None:
        await runtime.consume(stream, handle)

    @app.timer(PRUNE_INTERVAL_S)
    async def enforce_retention() -> None:
        # Reads that hit nothing must go once retention passes, even when no new reads arrive.
        pipeline.prune(time.time())

    return anpr
