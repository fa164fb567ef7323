"""Config validation, JPEG fast path, snapshots, and the offline eval runner."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from detectors.video.config import VideoDetectorsConfig
from detectors.video.pipeline import CameraAnalyzer, decode_jpeg_for_analysis, jpeg_size, render_snapshot
from detectors.video.synthetic import make_scene
from streams import eval_video


@pytest.mark.parametrize(
    "doc",
    [
        {"unknown": 1},
        {"work_width": 10},
        {"unattended": {"unattended_after_s": 0}},
        {"unattended": {"min_item_frac": 0.1, "max_item_frac": 0.05}},
        {"tamper": {"defocus_ratio": 1.5}},
        {"tamper": {"typo": True}},
    ],
)
def test_config_rejects(doc: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        VideoDetectorsConfig.model_validate(doc)


def test_config_is_frozen() -> None:
    cfg = VideoDetectorsConfig.model_validate({})
    with pytest.raises(ValidationError):
        cfg.work_width = 10


@pytest.mark.parametrize(("size", "work", "decoded_w", "scale"), [
    ((360, 640), 160, 160, 4.0), ((480, 640), 160, 160, 4.0), ((240, 320), 160, 160, 2.0),
    ((1080, 1920), 160, 240, 8.0), ((240, 320), 200, 320, 1.0),
])
def test_decode_jpeg_reduced(size: tuple[int, int], work: int, decoded_w: int, scale: float) -> None:
    ok, enc = cv2.imencode(".jpg", np.full((*size, 3), 128, np.uint8))
    assert ok and jpeg_size(enc.tobytes()) == (size[1], size[0])
    gray, s = decode_jpeg_for_analysis(enc.tobytes(), work)
    assert gray.ndim == 2 and gray.shape[1] == decoded_w and s == scale


def test_decode_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        decode_jpeg_for_analysis(b"not a jpeg")


def test_snapshot_is_a_jpeg_with_the_box() -> None:
    frame = np.full((120, 160, 3), 200, np.uint8)
    img = cv2.imdecode(np.frombuffer(render_snapshot(frame, (40, 30, 50, 40), "bag"), np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    assert img.shape == frame.shape
    assert img[30, 60, 2] > 150 and img[30, 60, 0] < 100  # red edge drawn


def test_jpeg_path_boxes_in_source_pixels() -> None:
    scene = make_scene("bag_left", size=(480, 640))
    cfg = VideoDetectorsConfig.model_validate({"unattended": {"unattended_after_s": 10}})
    cam = CameraAnalyzer("cam", cfg)
    alarms = []
    for i, frame in enumerate(scene.frames()):
        gray, scale = decode_jpeg_for_analysis(cv2.imencode(".jpg", frame)[1].tobytes(), cfg.work_width)
        alarms += [f for f in cam.process(gray, i / scene.truth.fps, i, scale=scale) if f.rule == "unattended_item"]
    assert len(alarms) == 1
    x, y, w, h = alarms[0].box or (0, 0, 0, 0)
    tx, ty, tw, th = scene.truth.item_box or (0, 0, 0, 0)
    assert abs(x - tx) <= 12 and abs(y - ty) <= 12 and abs(w - tw) <= 16 and abs(h - th) <= 16


@pytest.fixture(scope="module")
def bag_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scene = make_scene("bag_left")
    path = tmp_path_factory.mktemp("clip") / "bag.avi"
    h, w = scene.size
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), scene.truth.fps, (w, h))
    for frame in scene.frames():
        out.write(frame)
    out.release()
    return path


def test_evaluate_video_scores_truth(bag_clip: Path) -> None:
    scene = make_scene("bag_left")
    item = {"unattended_from_frame": round(12.0 * scene.truth.fps), "box": list(scene.truth.item_box or ())}
    truth = {"items": [item]}
    seen: list[int] = []
    res = eval_video.evaluate_video(bag_clip, None, 10.0, truth, progress=lambda d, n, fps: seen.append(d))
    assert res["frames"] == scene.truth.n_frames and res["fps"] == pytest.approx(10.0)
    assert [a["type"] for a in res["alarms"]] == ["unattended_item"]
    assert res["scores"]["detected"] == 1 and res["scores"]["false_alarms"] == 0
    assert abs(res["scores"]["delay_s"][0]) <= 2.0
    assert seen and seen[-1] == res["frames"]


def test_cli_prints_one_json_document(bag_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("video:\n  unattended:\n    unattended_after_s: 10\n")
    assert eval_video.main(["eval", "video", str(bag_clip), "--config", str(cfg), "--json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["alarms"][0]["type"] == "unattended_item" and "frames/s" in err


def test_cli_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.mp4"
    assert eval_video.main(["eval", "video", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and str(missing) in err


def test_cli_bad_config_exits_2(bag_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("video:\n  work_widht: 100\n")
    assert eval_video.main(["eval", "video", str(bag_clip), "--config", str(cfg)]) == 2
    assert "work_widht" in capsys.readouterr().err
