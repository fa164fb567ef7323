"""ANPR: plate reads in, alert candidates out, on the aiokafka hot path (see ``streams.anpr_consumer``)."""

from __future__ import annotations

import time

import faust

from streams.anpr_consumer import AnprJourneysConsumer, AnprReadsConsumer
from streams.anpr_pipeline import AnprPipeline
from streams.group_consumer import GroupConsumer
from streams.runtime import Runtime

#: How often rule state is pruned by wall time (retention on an idle feed).
PRUNE_INTERVAL_S = 60.0


def register(app: faust.App, runtime: Runtime) -> list[GroupConsumer]:
    """One consumer for ``anpr.reads``; with ``kafka.route_journeys_by_plate``, a plate-keyed second one."""
    by_plate = runtime.config.kafka.route_journeys_by_plate
    pipelines = [AnprPipeline(runtime.config, runtime.watchlist_index, stage="local" if by_plate else "all")]
    consumers: list[GroupConsumer] = [AnprReadsConsumer(runtime, pipelines[0], forward=by_plate)]
    if by_plate:
        pipelines.append(AnprPipeline(runtime.config, runtime.watchlist_index, stage="journeys"))
        consumers.append(AnprJourneysConsumer(runtime, pipelines[1]))

    for consumer in consumers:
        # Faust cancels its tasks on shutdown; each consumer then leaves its group at once.
        app.task(consumer.run, on_leader=False)

    @app.timer(PRUNE_INTERVAL_S)
    async def enforce_retention() -> None:
        # Reads that hit nothing must go once retention passes, even when no new reads arrive.
        for pipeline in pipelines:
            pipeline.prune(time.time())

    return consumers
