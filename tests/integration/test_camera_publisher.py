"""The camera publisher against a real MJPEG-over-HTTP stream that keeps dropping: it reconnects."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from aiohttp import web

from schemas.frames import FrameHeaders
from streams.broker import find_free_port
from tests.conftest import REPO, WorkerProcess
from tests.integration.kafka_helpers import consume_until

pytestmark = pytest.mark.integration

FRAMES_PER_CONNECTION = 15


@pytest.fixture
def dropping_stream() -> Iterator[str]:
    """An HTTP camera (multipart JPEG) that sends a few frames per connection, then hangs up."""
    port = find_free_port()

    async def camera(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "multipart/x-mixed-replace; boundary=frame"})
        await response.prepare(request)
        for index in range(FRAMES_PER_CONNECTION):
            _, jpeg = cv2.imencode(".jpg", np.full((120, 160, 3), (index * 15) % 255, np.uint8))
            data = jpeg.tobytes()
            await response.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%b\r\n"
                                 % (len(data), data))
            await asyncio.sleep(0.02)
        return response  # the stream drops here

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/video.mjpg", camera)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/video.mjpg"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def test_publisher_reconnects_when_the_stream_drops(worker: WorkerProcess, dropping_stream: str) -> None:
    camera = f"cctv-http-{uuid.uuid4().hex[:6]}"
    wanted = FRAMES_PER_CONNECTION * 2 + 5  # needs at least two reconnections
    published = subprocess.run(
        [sys.executable, "-m", "streams.cli", "camera", "publish", "--camera-id", camera, "--source", dropping_stream,
         "--fps", "100", "--max-frames", str(wanted)],
        cwd=REPO, env={**os.environ, "WATCHFLOOR_BOOTSTRAP": worker.bootstrap}, capture_output=True, timeout=120)
    output = published.stdout.decode() + published.stderr.decode()
    assert published.returncode == 0, output[-2000:]
    assert output.count("reconnecting in") >= 2, output[-2000:]  # it said what it was doing

    records = consume_until(worker.bootstrap, "camera.frames",
                            lambda rs: sum(r.key == camera.encode() for r in rs) >= wanted)
    mine = [r for r in records if r.key == camera.encode()]
    assert len(mine) == wanted
    sequences = [FrameHeaders.from_kafka(r.headers).sequence for r in mine]
    assert sorted(sequences) == list(range(wanted))  # numbered across reconnections, no gaps
