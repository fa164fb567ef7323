"""ANPR: plate reads in, alert candidates out, on the aiokafka hot path (see ``streams.anpr_consumer``)."""

from __future__ import annotations

import time

import faust

from streams.anpr_consumer import AnprReadsConsumer
from streams.anpr_pipeline import AnprPipeline
from streams.runtime import Runtime

#: How often rule state is pruned by wall time (retention on an idle feed).
PRUNE_INTERVAL_S = 60.0


def register(app: faust.App, runtime: Runtime) -> AnprReadsConsumer:
    pipeline = AnprPipeline(runtime.config, runtime.watchlist_index)
    consumer = AnprReadsConsumer(runtime, pipeline)

    @app.task(on_leader=False)
    async def consume_plate_reads() -> None:
        # Faust cancels its tasks on shutdown; the consumer then leaves its group at once.
        await consumer.run()

    @app.timer(PRUNE_INTERVAL_S)
    async def enforce_retention() -> None:
        # Reads that hit nothing must go once retention passes, even when no new reads arrive.
        pipeline.prune(time.time())

    return consumer
