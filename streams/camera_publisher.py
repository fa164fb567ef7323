"""``watchfloor camera publish``: read a camera (file, RTSP/HTTP URL or device) with OpenCV and
publish JPEG frames to ``camera.frames`` keyed by camera id, with time and sequence headers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import cv2
import numpy as np

from schemas.frames import FrameHeaders
from streams.clients import producer, start_with_retry
from streams.config import WatchfloorConfig
from streams.topics import CAMERA_FRAMES

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0


@dataclass(frozen=True, slots=True)
class PublishOptions:
    camera_id: str
    source: str
    fps: float = 5.0
    max_width: int | None = 640
    realtime: bool = True
    """Files: pace frames at their own speed; otherwise send as fast as possible."""
    loop: bool = False
    quality: int = 80
    max_frames: int | None = None
    report_every_s: float = 10.0


def is_live(source: str) -> bool:
    """Streams and devices reconnect when they drop; files end (or loop)."""
    return source.isdigit() or "://" in source


def open_capture(source: str) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    if not capture.isOpened():
        capture.release()
        raise ConnectionError(f"cannot open video source {source!r}")
    return capture


class FrameSampler:
    """Keeps frames so that a ``source_fps`` stream becomes roughly ``target_fps``.

    >>> sampler = FrameSampler(source_fps=30, target_fps=5)
    >>> sum(sampler.keep() for _ in range(30))
    5
    """

    def __init__(self, source_fps: float, target_fps: float) -> None:
        self.step = max(1.0, source_fps / target_fps) if source_fps > 0 else 1.0
        self._next = 0.0
        self._index = -1

    def keep(self) -> bool:
        self._index += 1
        if self._index + 1e-9 >= self._next:
            self._next += self.step
            return True
        return False


def encode_frame(frame: np.ndarray, max_width: int | None, quality: int) -> bytes:
    if max_width and frame.shape[1] > max_width:
        height = round(frame.shape[0] * max_width / frame.shape[1])
        frame = cv2.resize(frame, (max_width, height), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return encoded.tobytes()


async def publish_camera(config: WatchfloorConfig, options: PublishOptions) -> int:
    """Publish until the source ends (files without ``loop``), ``max_frames``, or cancellation."""
    client = producer(config, linger_ms=2)
    await start_with_retry(client, config)
    live = is_live(options.source)
    sent = 0
    backoff = 1.0
    started = last_report = time.monotonic()
    clock_base = time.time()  # event time of a file's first frame
    loop_offset = 0.0
    try:
        while options.max_frames is None or sent < options.max_frames:
            try:
                capture = await asyncio.to_thread(open_capture, options.source)
            except ConnectionError as error:
                if not live:
                    raise FileNotFoundError(f"{error}: check the path") from None
                log.warning("%s; reconnecting in %.0fs", error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            source_fps = capture.get(cv2.CAP_PROP_FPS) or options.fps
            sampler = FrameSampler(source_fps, options.fps)
            log.info("camera %s: reading %s (%.1f fps source, publishing %.1f fps)", options.camera_id,
                     options.source, source_fps, min(options.fps, source_fps))
            position = 0
            try:
                while options.max_frames is None or sent < options.max_frames:
                    ok, frame = await asyncio.to_thread(capture.read)
                    if not ok or frame is None:
                        break
                    position += 1
                    if not sampler.keep():
                        continue
                    if live:
                        event_time = time.time()
                    else:
                        event_time = clock_base + loop_offset + (position - 1) / source_fps
                        if options.realtime:
                            delay = event_time - time.time()
                            if delay > 0:
                                await asyncio.sleep(delay)
                    jpeg = encode_frame(frame, options.max_width, options.quality)
                    headers = FrameHeaders.create(event_time, sent)
                    await client.send(CAMERA_FRAMES, key=options.camera_id.encode(), value=jpeg,
                                      headers=headers.to_kafka())
                    sent += 1
                    backoff = 1.0
                    if time.monotonic() - last_report >= options.report_every_s:
                        last_report = time.monotonic()
                        log.info("camera %s: %d frames sent (%.1f/s)", options.camera_id, sent,
                                 sent / (last_report - started))
            finally:
                capture.release()
            if live:
                log.warning("camera %s: stream dropped; reconnecting in %.0fs", options.camera_id, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            elif options.loop:
                loop_offset += position / source_fps
            else:
                break
        await client.flush()
        log.info("camera %s: done, %d frames sent", options.camera_id, sent)
        return sent
    finally:
        await client.stop()
