"""Tamper/health detector: covered, defocused, moved, frozen, feed lost; one alarm per episode."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from detectors.video.config import VideoDetectorsConfig
from detectors.video.pipeline import CameraAnalyzer
from detectors.video.synthetic import make_scene

Effect = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (frame, first tampered frame) -> frame


def cover(f: np.ndarray, _: np.ndarray) -> np.ndarray:
    out = f.copy()
    out[:, : int(f.shape[1] * 0.85)] = 30
    return out


def black(f: np.ndarray, _: np.ndarray) -> np.ndarray:
    return np.zeros_like(f)


def blur(f: np.ndarray, _: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(f, (0, 0), 5)


def shift(f: np.ndarray, _: np.ndarray) -> np.ndarray:
    h, w = f.shape[:2]
    m = np.array([[1, 0, w * 0.08], [0, 1, h * 0.05]], np.float32)
    return cv2.warpAffine(f, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def freeze(_: np.ndarray, first: np.ndarray) -> np.ndarray:
    return first


CASES: list[tuple[str, Effect | None, str | None]] = [
    ("none", None, None),
    ("covered", cover, "camera_covered"),
    ("blacked_out", black, "camera_covered"),
    ("defocused", blur, "camera_defocused"),
    ("moved", shift, "camera_moved"),
    ("frozen", freeze, "camera_frozen"),
]


@pytest.mark.parametrize(("name", "effect", "rule"), CASES, ids=[c[0] for c in CASES])
def test_tamper_episode(name: str, effect: Effect | None, rule: str | None) -> None:
    scene = make_scene("passers_by")
    fps = scene.truth.fps
    start, stop = int(8 * fps), int(22 * fps)  # tampered in [8 s, 22 s), healthy after
    cfg = VideoDetectorsConfig.model_validate({"tamper": {"frozen_after_s": 5.0}})
    cam = CameraAnalyzer("cam", cfg)
    rules: list[tuple[float, str]] = []
    first: np.ndarray | None = None
    for i, frame in enumerate(scene.frames()):
        if effect is not None and start <= i < stop:
            first = frame if first is None else first
            frame = effect(frame, first)
        rules += [(i / fps, f.rule) for f in cam.process(frame, i / fps, i)]
    tamper = [(t, r) for t, r in rules if r.startswith("camera_")]
    if rule is None:
        assert tamper == []
        return
    assert [r for _, r in tamper] == [rule, f"{rule}_cleared"], tamper
    assert 8.0 <= tamper[0][0] <= 8.0 + 12.0
    assert tamper[1][0] >= 22.0


def test_feed_lost_once_then_cleared() -> None:
    cam = CameraAnalyzer("cam", VideoDetectorsConfig.model_validate({"tamper": {"feed_lost_after_s": 5.0}}))
    frames = make_scene("passers_by").frames()
    for i in range(30):
        cam.process(next(frames), i / 10, i)
    assert cam.check_feed(5.0) == []
    lost = cam.check_feed(8.0)
    assert [f.rule for f in lost] == ["camera_feed_lost"] and lost[0].subject == "cam"
    assert cam.check_feed(9.0) == []  # once per episode
    back = cam.process(next(frames), 10.0, 100)
    assert [f.rule for f in back] == ["camera_feed_lost_cleared"]
    assert back[0].first_evidence_id == lost[0].first_evidence_id


def test_feed_lost_needs_a_first_frame() -> None:
    assert CameraAnalyzer("cam", VideoDetectorsConfig.model_validate({})).check_feed(1e9) == []


def test_camera_that_stays_moved_is_accepted_and_items_work_again() -> None:
    scene = make_scene("bag_left", unattended_after_s=10.0)
    fps = scene.truth.fps
    cfg = VideoDetectorsConfig.model_validate({
        "unattended": {"unattended_after_s": 10.0},
        "tamper": {"warmup_s": 0.5, "shift_after_s": 1.0, "moved_accept_after_s": 1.0},
    })
    cam = CameraAnalyzer("cam", cfg)
    found: list[tuple[float, str]] = []
    for i, frame in enumerate(scene.frames()):
        if i >= int(1.0 * fps):  # knocked at 1 s, before anybody comes; it stays there
            h, w = frame.shape[:2]
            m = np.array([[1, 0, w * 0.08], [0, 1, h * 0.05]], np.float32)
            frame = cv2.warpAffine(frame, m, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=(90, 90, 90))
        found += [(i / fps, f.rule) for f in cam.process(frame, i / fps, i)]
    rules = [r for _, r in found]
    assert rules == ["camera_moved", "camera_moved_cleared", "unattended_item"], found
    assert abs(found[-1][0] - (scene.truth.alarm_at_s or 0)) <= 2.0  # re-learned in the new view
