"""Scene agent: edge-analytics metadata (``camera.detections``) in, alert candidates out."""

from __future__ import annotations

import time
from typing import Any

import faust

from streams import metrics
from streams.codecs import Rejected, load_json
from streams.runtime import Runtime
from streams.scene_pipeline import ScenePipeline, decode_detections, is_deepstream
from streams.topics import CAMERA_DETECTIONS

#: How often frames held back waiting for more DeepStream parts are analysed anyway.
FLUSH_INTERVAL_S = 1.0


def register(app: faust.App, runtime: Runtime) -> Any:
    detections_topic = app.topic(CAMERA_DETECTIONS, key_serializer="raw", value_serializer="raw")
    pipeline = ScenePipeline(runtime.config)
    max_bytes = runtime.config.kafka.max_message_bytes

    async def handle(message: Any) -> None:
        data = load_json(message.value, max_bytes)
        frames = decode_detections(data)
        started = time.perf_counter()
        try:
            candidates = pipeline.process(frames, partial=is_deepstream(data))
        except ValueError as error:  # the analyzer refuses e.g. a non-finite time
            raise Rejected("unprocessable", str(error)) from None
        metrics.DETECTOR_SECONDS.labels("scene").observe(time.perf_counter() - started)
        metrics.EVENTS_PROCESSED.labels("detection_frame").inc(len(frames))
        await runtime.send_candidates(candidates)

    @app.agent(detections_topic, name="scene")
    async def scene(stream: faust.StreamT) -> None:
        await runtime.consume(stream, handle)

    @app.timer(FLUSH_INTERVAL_S)
    async def flush_held_frames() -> None:
        await runtime.send_candidates(pipeline.flush())

    return scene
