"""Video path benchmark: frames/s per core and memory per camera.

Measures, in one run and on one core (OpenCV threads = 1):

- decode-only: plain ``cv2.imdecode`` of the same JPEGs at full colour (the raw baseline);
- whole path: :func:`decode_jpeg_for_analysis` + :meth:`CameraAnalyzer.process` (every detector);
- memory per camera: tracemalloc and RSS growth over N analysers that have seen frames.

Uses the real clip ``road_topdown_640x360.avi`` from ../shared/data when present, else a
synthetic 640x360 scene. Prints the figures and writes ``bench/results/video.json``.
Targets: >= 300 frames/s per core, >= 40 % of decode-only, <= 20 MB per camera.

    .venv/bin/python bench/video.py [--seconds 3] [--cameras 20]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors.video.config import VideoDetectorsConfig  # noqa: E402
from detectors.video.pipeline import CameraAnalyzer, decode_jpeg_for_analysis  # noqa: E402
from detectors.video.synthetic import make_scene  # noqa: E402

CLIP = ROOT.parent / "shared" / "data" / "video" / "road_topdown_640x360.avi"


def load_jpegs(limit: int = 400) -> tuple[list[bytes], float, str]:
    """JPEG bytes of 640x360 frames, their fps, and where they came from."""
    frames: list[np.ndarray] = []
    fps, source = 10.0, "synthetic 640x360 (bag_left scene)"
    if CLIP.is_file():
        cap = cv2.VideoCapture(str(CLIP))
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        while len(frames) < limit:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(cv2.resize(f, (640, 360)) if f.shape[:2] != (360, 640) else f)
        cap.release()
        source = str(CLIP)
    if not frames:
        frames = list(make_scene("bag_left", size=(360, 640)).frames())[:limit]
    return [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes() for f in frames], fps, source


def rate(fn: object, jpegs: list[bytes], seconds: float) -> float:
    """Frames per second of ``fn(buf, index)`` looping over ``jpegs`` for about ``seconds``."""
    assert callable(fn)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for buf in jpegs:
            fn(buf, n)
            n += 1
    return n / (time.perf_counter() - start)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    ap.add_argument("--cameras", type=int, default=20, help="analysers for the memory figure")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)  # per-core figures
    cfg = VideoDetectorsConfig.model_validate({})
    jpegs, fps, source = load_jpegs()

    decode_fps = rate(lambda b, i: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR), jpegs, args.seconds)
    cam = CameraAnalyzer("bench", cfg)

    def whole(buf: bytes, i: int) -> None:
        gray, scale = decode_jpeg_for_analysis(buf, cfg.work_width)
        cam.process(gray, i / fps, i, scale=scale)

    path_fps = rate(whole, jpegs, args.seconds)
    reduced_decode_fps = rate(lambda b, i: decode_jpeg_for_analysis(b, cfg.work_width), jpegs, args.seconds)

    # Memory: N cameras, each warmed with 2 s of frames (models, state, HOG not loaded unless used).
    gc.collect()
    rss0 = rss_bytes()
    tracemalloc.start()
    snap0 = tracemalloc.take_snapshot()
    cams = [CameraAnalyzer(f"c{k}", cfg) for k in range(args.cameras)]
    for k, c in enumerate(cams):
        for i, buf in enumerate(jpegs[: int(2 * fps)]):
            gray, scale = decode_jpeg_for_analysis(buf, cfg.work_width)
            c.process(gray, i / fps, i + k, scale=scale)
    gc.collect()
    traced = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(snap0, "filename"))
    tracemalloc.stop()
    rss_per_cam = max(0, rss_bytes() - rss0) / args.cameras

    result: dict[str, object] = {
        "source": source,
        "frame_size": [640, 360],
        "work_width": cfg.work_width,
        "opencv_threads": 1,
        "decode_only_fps": round(decode_fps, 1),
        "reduced_decode_fps": round(reduced_decode_fps, 1),
        "whole_path_fps": round(path_fps, 1),
        "ratio_to_decode_only": round(path_fps / decode_fps, 3),
        "mb_per_camera_traced": round(traced / args.cameras / 1e6, 3),
        "mb_per_camera_rss": round(rss_per_cam / 1e6, 3),
        "targets": {"whole_path_fps": 300, "ratio_to_decode_only": 0.4, "mb_per_camera": 20},
    }
    for name, value in result.items():
        print(f"{name:>24}: {value}")
    out = ROOT / "bench" / "results" / "video.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
