"""A camera publisher, the real broker and a real worker: a left bag becomes an alert with a snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from detectors.video.synthetic import make_scene
from schemas.alerts import Alert
from schemas.frames import FrameHeaders
from tests.conftest import REPO, WorkerProcess
from tests.integration.kafka_helpers import consume_until

pytestmark = pytest.mark.integration


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), "OpenCV cannot write MJPG video here"
    for frame in frames:
        writer.write(frame if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()


def test_published_video_with_left_bag_raises_alert_with_snapshot(worker: WorkerProcess, tmp_path: Path) -> None:
    scene = make_scene("bag_left", fps=10.0, unattended_after_s=5.0, size=(360, 640))
    frames = list(scene.frames())
    video = tmp_path / "bag.avi"
    write_video(video, frames, 10.0)
    camera = f"cctv-test-{uuid.uuid4().hex[:6]}"

    published = subprocess.run(
        [sys.executable, "-m", "streams.cli", "camera", "publish", "--camera-id", camera, "--source", str(video),
         "--fps", "10", "--fast"],
        cwd=REPO, env={**os.environ, "WATCHFLOOR_BOOTSTRAP": worker.bootstrap}, capture_output=True, timeout=120)
    assert published.returncode == 0, published.stderr.decode()[-2000:]
    assert f"sent {len(frames)} frames" in published.stdout.decode()

    alerts = camera_alerts(worker.bootstrap, camera, lambda found: any(a.rule == "unattended_item" for a in found))
    bags = [a for a in alerts if a.rule == "unattended_item"]
    assert len({a.alert_id for a in bags}) == 1, [a.rule for a in alerts]
    alert = bags[0]
    assert scene.truth.alarm_at_s is not None and scene.truth.item_box is not None
    alarm_s = alert.first_seen - first_frame_time(worker.bootstrap, camera)
    assert abs(alarm_s - scene.truth.alarm_at_s) <= 2.0, f"alarm at {alarm_s:.1f}s, expected ~{scene.truth.alarm_at_s}"
    x, y, w, h = alert.evidence[0].box or (0, 0, 0, 0)
    tx, ty, tw, th = scene.truth.item_box
    assert abs((x + w / 2) - (tx + tw / 2)) < 40 and abs((y + h / 2) - (ty + th / 2)) < 40, "box is not at the bag"
    ref = alert.evidence[0].snapshot_ref
    assert ref, "the alert carries no snapshot"
    image = cv2.imread(str(worker.snapshot_dir / ref))
    assert image is not None and image.shape[:2] == (360, 640)


def camera_alerts(bootstrap: str, camera: str, done: Callable[[list[Alert]], bool]) -> list[Alert]:
    def mine(records: list[Any]) -> list[Alert]:
        alerts = (Alert.model_validate_json(r.value) for r in records if r.value)
        return [a for a in alerts if a.camera_id == camera]

    return mine(consume_until(bootstrap, "alerts", lambda records: done(mine(records)), timeout=60))


def first_frame_time(bootstrap: str, camera: str) -> float:
    records = consume_until(bootstrap, "camera.frames", lambda rs: any(r.key == camera.encode() for r in rs))
    return min(FrameHeaders.from_kafka(r.headers).event_time for r in records if r.key == camera.encode())
