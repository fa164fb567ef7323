"""Edge metadata (generic and DeepStream) through the real broker and worker to scene alerts."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest

from tests.conftest import WorkerProcess
from tests.integration.kafka_helpers import alerts_for, produce, produce_json

pytestmark = pytest.mark.integration


def person(track: str, x: int, y: int) -> dict[str, object]:
    return {"track_id": track, "class_name": "person", "confidence": 0.9, "box": [x, y, 40, 100]}


def test_person_dwelling_in_zone_raises_loitering(worker: WorkerProcess) -> None:
    track = f"p-{uuid.uuid4().hex[:6]}"
    start = time.time() - 20
    frames = [{"event_id": f"{track}-{i}", "camera_id": "cctv-1", "event_time": start + i,
               "objects": [person(track, 100 + i, 100)]} for i in range(8)]
    produce_json(worker.bootstrap, "camera.detections", frames, key=b"cctv-1")
    alerts = alerts_for(worker.bootstrap, f"cctv-1/stall-row/{track}")
    assert alerts[0].rule == "loitering" and alerts[0].site_id == "market"
    assert alerts[0].details.get("zone_id") == "stall-row"


def test_deepstream_person_in_restricted_zone_raises_intrusion(worker: WorkerProcess) -> None:
    track = str(uuid.uuid4().int % 10**6)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10)

    def message(i: int) -> dict[str, object]:
        stamp = (start + dt.timedelta(seconds=i)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {"messageid": str(uuid.uuid4()), "mdsversion": "1.0", "@timestamp": stamp,
                "sensor": {"id": "cctv-1", "type": "Camera"},
                "object": {"id": track, "person": {"confidence": 0.9},
                           "bbox": {"topleftx": 600, "toplefty": 100, "bottomrightx": 640, "bottomrighty": 200}},
                "event": {"id": str(uuid.uuid4()), "type": "entry"}}

    produce(worker.bootstrap, "camera.detections",
            [(b"cctv-1", json.dumps(message(i)).encode()) for i in range(3)])
    alerts = alerts_for(worker.bootstrap, f"cctv-1/service-yard/{track}")
    assert alerts[0].rule == "intrusion"
    assert alerts[0].evidence and alerts[0].evidence[0].camera_id == "cctv-1"
