"""Offline evaluation of the video detectors on a file: ``watchfloor eval video PATH``.

Runs the same :class:`~detectors.video.pipeline.CameraAnalyzer` the stream agent uses over every
frame of a video file and prints exactly one JSON document on stdout::

    {"fps": 29.97, "frames": 1237,
     "alarms": [{"type": "unattended_item", "frame": 795, "time_s": 26.53, "box": [128, 324, 60, 52]}],
     "clears": [...], "scores": {...}}      # "scores" only with --truth

Boxes are in the file's own pixels, times in seconds from the first frame. Progress goes to
stderr. The truth file format is described in ``docs/video.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2

from detectors.video.config import VideoDetectorsConfig
from detectors.video.pipeline import CameraAnalyzer

Progress = Callable[[int, int, float], None]
"""``progress(frames_done, frames_total_or_0, frames_per_second)``."""


class VideoEvalError(Exception):
    """The file could not be read or the truth/config is unusable (exit code 2)."""


def load_video_config(path: str | Path | None) -> VideoDetectorsConfig:
    """Video detector settings from the ``video:`` section of a YAML config file (defaults if None).

    Kept small on purpose: the main config loader will replace it.
    """
    if path is None:
        return VideoDetectorsConfig.model_validate({})
    import yaml

    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise VideoEvalError(f"cannot read config {path}: {e}") from e
    if not isinstance(doc, dict):
        raise VideoEvalError(f"config {path}: top level must be a mapping")
    try:
        return VideoDetectorsConfig.model_validate(doc.get("video") or {})
    except ValueError as e:
        raise VideoEvalError(f"config {path}: video: {e}") from e


def _iou(a: list[int], b: list[int]) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def score(alarms: list[dict[str, Any]], truth: dict[str, Any], fps: float, unattended_after: float) -> dict[str, Any]:
    """Match unattended-item alarms to truth items (box IoU >= 0.2, not before the owner left).

    ``delay_s`` is the alarm time minus the moment the item became unattended
    (``unattended_from_frame`` / fps + the unattended time); negative means early.
    """
    items = truth.get("items", [])
    pending = [a for a in alarms if a["type"] == "unattended_item"]
    per_item: list[dict[str, Any]] = []
    for item in items:
        due = item["unattended_from_frame"] / fps + unattended_after
        hit = next(
            (a for a in pending if _iou(a["box"], item["box"]) >= 0.2 and a["frame"] >= item["unattended_from_frame"]),
            None,
        )
        if hit is not None:
            pending.remove(hit)
        per_item.append({
            "detected": hit is not None,
            "delay_s": round(hit["time_s"] - due, 2) if hit is not None else None,
            "frame": hit["frame"] if hit is not None else None,
        })
    return {
        "detected": sum(p["detected"] for p in per_item),
        "missed": sum(not p["detected"] for p in per_item),
        "false_alarms": len(pending),
        "delay_s": [p["delay_s"] for p in per_item if p["delay_s"] is not None],
        "items": per_item,
    }


def evaluate_video(
    path: str | Path,
    config: VideoDetectorsConfig | None = None,
    unattended_after: float | None = None,
    truth: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run every video detector over ``path``; returns the JSON-able result document.

    Raises :class:`VideoEvalError` when the file cannot be opened or has no frames.
    """
    cfg = config or VideoDetectorsConfig.model_validate({})
    if unattended_after is not None:
        cfg = cfg.model_copy(update={"unattended": cfg.unattended.model_copy(
            update={"unattended_after_s": float(unattended_after)})})
        VideoDetectorsConfig.model_validate(cfg.model_dump())  # re-check bounds
    cap = cv2.VideoCapture(str(path))
    if not Path(path).is_file() or not cap.isOpened():
        raise VideoEvalError(f"cannot open video file: {path}")
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    cam = CameraAnalyzer(Path(path).stem, cfg)
    alarms: list[dict[str, Any]] = []
    clears: list[dict[str, Any]] = []
    i = 0
    start = time.perf_counter()
    next_report = 0.0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            t = i / fps
            for f in cam.process(gray, t, i):
                rec = {"type": f.rule, "frame": i, "time_s": round(t, 3),
                       "box": list(f.box) if f.box is not None else None}
                (clears if f.details.get("state") == "cleared" else alarms).append(rec)
            i += 1
            if progress is not None and total and i / total >= next_report:
                progress(i, total, i / max(1e-9, time.perf_counter() - start))
                next_report += 0.05
    finally:
        cap.release()
    if progress is not None and i:
        progress(i, max(total, i), i / max(1e-9, time.perf_counter() - start))
    if i == 0:
        raise VideoEvalError(f"no decodable frames in video file: {path}")
    result: dict[str, Any] = {"fps": round(fps, 3), "frames": i, "alarms": alarms, "clears": clears}
    if truth is not None:
        result["scores"] = score(alarms, truth, fps, cfg.unattended.unattended_after_s)
    return result


def _stderr_progress(done: int, total: int, fps: float) -> None:
    print(f"eval video: {done}/{total} frames ({100 * done / total:.0f}%), {fps:.0f} frames/s",
          file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``eval video``; returns the process exit code."""
    try:
        cfg = load_video_config(args.config)
        truth = None
        if args.truth:
            try:
                truth = json.loads(Path(args.truth).read_text())
            except (OSError, ValueError) as e:
                raise VideoEvalError(f"cannot read truth file {args.truth}: {e}") from e
        result = evaluate_video(args.path, cfg, args.unattended_after, truth, _stderr_progress)
    except (VideoEvalError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add ``eval video PATH [--config FILE] [--unattended-after S] [--truth FILE] [--json]``.

    ``subparsers`` is either the ``eval`` command's own subparsers (``video`` is added to it) or
    the CLI's top-level subparsers (``eval`` is created, or reused if present, with ``video`` under it).
    """
    inner: argparse._SubParsersAction[argparse.ArgumentParser]
    if subparsers._prog_prefix.split()[-1:] == ["eval"]:
        inner = subparsers
    else:
        ev = subparsers.choices.get("eval")
        if ev is None:
            ev = subparsers.add_parser("eval", help="offline evaluation of detectors")
        found = next((a for a in ev._actions if isinstance(a, argparse._SubParsersAction)), None)
        inner = found if found is not None else ev.add_subparsers(dest="eval_command", required=True)
    p: argparse.ArgumentParser = inner.add_parser("video", help="run the video detectors over a file")
    p.add_argument("path", help="video file (anything OpenCV/FFmpeg reads)")
    p.add_argument("--config", help="YAML config file; its video: section is used")
    p.add_argument("--unattended-after", type=float, default=None, metavar="SECONDS",
                   help="override unattended.unattended_after_s")
    p.add_argument("--truth", help="JSON truth file (see docs/video.md) to score against")
    p.add_argument("--json", action="store_true", help="compact one-line JSON")
    p.set_defaults(func=run, handler=run)  # "handler" is what streams.cli dispatches on
    return p


def main(argv: list[str] | None = None) -> int:
    """Standalone entry: ``python -m streams.eval_video eval video PATH ...``."""
    parser = argparse.ArgumentParser(prog="watchfloor")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
