"""Video agent: JPEG frames in, alert candidates (with snapshots) and clearances out."""

from __future__ import annotations

import time
from typing import Any

import faust
from pydantic import ValidationError

from schemas.frames import FrameHeaders
from streams import metrics
from streams.codecs import Rejected, describe_validation_error, encode
from streams.runtime import Runtime
from streams.topics import ALERT_ACTIONS, CAMERA_FRAMES
from streams.video_pipeline import VideoOutput, VideoPipeline

FEED_CHECK_INTERVAL_S = 2.0


def register(app: faust.App, runtime: Runtime) -> Any:
    frames_topic = app.topic(CAMERA_FRAMES, key_serializer="raw", value_serializer="raw")
    actions_topic = app.topic(ALERT_ACTIONS, key_serializer="raw", value_serializer="raw")
    pipeline = VideoPipeline(runtime.config)
    max_bytes = runtime.config.kafka.max_message_bytes

    async def emit(output: VideoOutput) -> None:
        await runtime.send_candidates(output.candidates)
        for key, action in output.clearances:
            await actions_topic.send(key=key, value=encode(action))

    async def handle(message: Any) -> None:
        if not message.key:
            raise Rejected("schema_violation", "frame has no key: the key must be the camera id")
        if message.value is None or len(message.value) > max_bytes:
            raise Rejected("oversize" if message.value else "undecodable",
                           f"frame of {len(message.value or b'')} bytes (limit {max_bytes})")
        try:
            headers = FrameHeaders.from_kafka(message.headers)
        except ValidationError as error:
            raise Rejected("schema_violation", f"frame headers: {describe_validation_error(error)}") from None
        camera_id = message.key.decode("utf-8", "replace")
        started = time.perf_counter()
        try:
            output = pipeline.process(camera_id, headers, message.value)
        except ValueError as error:
            raise Rejected("unprocessable", f"camera {camera_id} frame {headers.sequence}: {error}") from None
        metrics.DETECTOR_SECONDS.labels("video").observe(time.perf_counter() - started)
        metrics.CAMERA_FRAMES.labels(camera_id).inc()
        metrics.CAMERA_LAST_FRAME.labels(camera_id).set(headers.event_time)
        await emit(output)

    @app.agent(frames_topic, name="video")
    async def video(stream: faust.StreamT) -> None:
        await runtime.consume(stream, handle)

    @app.timer(FEED_CHECK_INTERVAL_S)
    async def check_feeds() -> None:
        # Feed loss is the one wall-clock rule: no frames arriving *now*.
        await emit(pipeline.check_feeds(time.time()))

    return video
