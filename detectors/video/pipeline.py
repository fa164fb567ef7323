"""Per-camera video pipeline: reduce the frame once, run every video detector, emit Findings.

The stream agent keeps one :class:`CameraAnalyzer` per camera id (frames are keyed by camera, so
one worker owns it). Detectors work at ``work_width`` pixels; boxes in findings are in the
source's pixels.

>>> import numpy as np
>>> from detectors.video.config import VideoDetectorsConfig
>>> cam = CameraAnalyzer("cam-1", VideoDetectorsConfig())
>>> cam.process(np.zeros((360, 640), np.uint8), t=0.0, frame_index=0)
[]
"""

from __future__ import annotations

import struct
from typing import Any

import cv2
import numpy as np

from detectors.findings import Finding, Severity
from detectors.video.config import VideoDetectorsConfig
from detectors.video.tamper import TamperDetector, TamperEvent
from detectors.video.unattended import Box, ItemEvent, UnattendedItemDetector

_REDUCED = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
            4: cv2.IMREAD_REDUCED_GRAYSCALE_4, 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}
_TAMPER_SEVERITY: dict[str, Severity] = {
    "camera_covered": "high", "camera_defocused": "medium", "camera_moved": "high",
    "camera_frozen": "medium", "camera_feed_lost": "high",
}


def jpeg_size(buf: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a JPEG's SOF header without decoding it, or None.

    >>> ok, enc = cv2.imencode(".jpg", np.zeros((48, 64), np.uint8))
    >>> jpeg_size(enc.tobytes())
    (64, 48)
    """
    i, n = 2, len(buf)
    if n < 4 or buf[0] != 0xFF or buf[1] != 0xD8:
        return None
    while i + 9 < n:
        if buf[i] != 0xFF:
            return None
        marker = buf[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        seg_len = struct.unpack(">H", buf[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", buf[i + 5 : i + 9])
            return int(w), int(h)
        i += 2 + seg_len
    return None


def decode_jpeg_for_analysis(buf: bytes, work_width: int = 160) -> tuple[np.ndarray, float]:
    """Decode a JPEG straight to a reduced grey image for the detectors.

    Uses libjpeg's DCT scaling (``IMREAD_REDUCED_GRAYSCALE_2/4/8``), which skips most of the
    decoding work, picking the largest reduction that keeps at least ``work_width`` pixels.
    Returns ``(gray, scale)`` where ``scale`` is source pixels per decoded pixel, to pass on to
    :meth:`CameraAnalyzer.process`. Raises ``ValueError`` for bytes that are not a JPEG.

    >>> ok, enc = cv2.imencode(".jpg", np.zeros((360, 640, 3), np.uint8))
    >>> g, s = decode_jpeg_for_analysis(enc.tobytes(), 160)
    >>> g.shape, s
    ((90, 160), 4.0)
    """
    # libjpeg decodes a truncated file into a partly grey picture without complaint: refuse it,
    # or a cut-off frame would look like a covered camera. (Some encoders pad after the marker.)
    if buf.rfind(b"\xff\xd9", max(0, len(buf) - 64)) < 0:
        raise ValueError("truncated or corrupt JPEG (no end-of-image marker)")
    size = jpeg_size(buf)
    factor = 1
    if size is not None:
        for f in (8, 4, 2):
            if size[0] / f >= work_width:
                factor = f
                break
    img = cv2.imdecode(np.frombuffer(buf, np.uint8), _REDUCED[factor])
    if img is None:
        raise ValueError("not a decodable JPEG")
    scale = size[0] / img.shape[1] if size is not None else 1.0
    return img, scale


def render_snapshot(frame: np.ndarray, box: Box | None, label: str | None = None, quality: int = 80) -> bytes:
    """JPEG bytes of ``frame`` (BGR or grey) with ``box`` ([x, y, w, h], frame pixels) drawn in red.

    >>> render_snapshot(np.zeros((48, 64, 3), np.uint8), (8, 8, 16, 16))[:2]
    b'\\xff\\xd8'
    """
    img = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame.copy()
    if box is not None:
        x, y, w, h = box
        th = max(2, img.shape[1] // 320)
        cv2.rectangle(img, (x, y), (x + w, y + h), (0, 0, 255), th)
        if label:
            cv2.putText(img, label, (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
    ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - imencode only fails on invalid images
        raise ValueError("could not encode snapshot")
    return enc.tobytes()


class CameraAnalyzer:
    """All video detectors for one camera, with their state.

    ``process`` takes a frame (grey or BGR, any size; ``scale`` = source pixels per frame pixel
    when the frame was already reduced, e.g. by :func:`decode_jpeg_for_analysis`) and the frame's
    event time in seconds. Rules emitted: ``unattended_item`` / ``unattended_item_cleared`` and
    ``camera_covered|defocused|moved|frozen|feed_lost`` with a ``_cleared`` twin; the twin
    carries ``details["state"] == "cleared"`` and the same ``first_evidence_id`` as its alarm.
    """

    def __init__(self, camera_id: str, config: VideoDetectorsConfig, site_id: str | None = None) -> None:
        self.camera_id = camera_id
        self.site_id = site_id
        self.cfg = config
        self._shape: tuple[int, int] | None = None  # work size (h, w)
        self._source_size: tuple[int, int] | None = None  # (w, h)
        self._to_source = 1.0
        self.unattended: UnattendedItemDetector | None = None
        self.tamper = TamperDetector(config.tamper)
        self._tamper_evidence: dict[str, str] = {}
        self.frames = 0

    # ------------------------------------------------------------------ public
    def process(
        self, frame: np.ndarray, t: float, frame_index: int, scale: float = 1.0, evidence_id: str | None = None
    ) -> list[Finding]:
        """Analyse one frame at event time ``t`` (seconds); returns new findings (usually none)."""
        ev = evidence_id if evidence_id is not None else f"{self.camera_id}:{frame_index}"
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        h, w = gray.shape
        src = (round(w * scale), round(h * scale))
        if self._source_size != src:
            self._setup(src, (h, w))
        assert self._shape is not None
        wh, ww = self._shape
        work = gray if (h, w) == (wh, ww) else cv2.resize(gray, (ww, wh), interpolation=cv2.INTER_AREA)
        self.frames += 1

        out: list[Finding] = []
        for te in self.tamper.update(work, t):
            out.append(self._tamper_finding(te, ev))
            if te.rule == "camera_moved" and te.details.get("accepted_new_view") and self.unattended is not None:
                self.unattended.reset()  # the camera stays moved: learn the scene in its new view
        blind = self.tamper.active & {"camera_covered", "camera_defocused", "camera_moved", "camera_frozen"}
        if self.unattended is not None and not blind:
            self.unattended.hog_frame = gray
            self.unattended.hog_scale = w / ww
            for ie in self.unattended.update(work, t, ev):
                out.append(self._item_finding(ie))
            self.unattended.hog_frame = None  # never keep a reference to the caller's frame
        return out

    def check_feed(self, now_event_time: float) -> list[Finding]:
        """Call periodically (e.g. from a timer): emits ``camera_feed_lost`` once when frames stop."""
        ev = f"{self.camera_id}:feed-lost@{now_event_time:.3f}"
        return [self._tamper_finding(te, ev) for te in self.tamper.check_feed(now_event_time)]

    def to_source_box(self, box: Box) -> tuple[int, int, int, int]:
        """Map a work-resolution box to source pixels (clipped to the frame)."""
        k = self._to_source
        sw, sh = self._source_size or (0, 0)
        x, y = round(box[0] * k), round(box[1] * k)
        bw, bh = round(box[2] * k), round(box[3] * k)
        return x, y, min(bw, sw - x), min(bh, sh - y)

    # ----------------------------------------------------------------- private
    def _setup(self, source: tuple[int, int], frame_hw: tuple[int, int]) -> None:
        sw = source[0]
        ww = min(self.cfg.work_width, frame_hw[1])
        wh = max(1, round(frame_hw[0] * ww / frame_hw[1]))
        self._source_size = source
        self._shape = (wh, ww)
        self._to_source = sw / ww
        self.unattended = (
            UnattendedItemDetector((wh, ww), self.cfg.unattended) if self.cfg.unattended.enabled else None
        )
        self.tamper = TamperDetector(self.cfg.tamper)

    def _item_finding(self, ie: ItemEvent) -> Finding:
        raised = ie.kind == "raised"
        details: dict[str, Any] = {
            "state": ie.kind, "item_id": ie.item_id, "static_since": round(ie.static_since, 3),
            "unattended_since": round(ie.unattended_since, 3),
        }
        return Finding(
            rule="unattended_item" if raised else "unattended_item_cleared",
            subject=f"{self.camera_id}/item-{ie.item_id}",
            severity="high" if raised else "info",
            event_time=ie.t,
            first_evidence_id=ie.first_evidence_id,
            camera_id=self.camera_id,
            site_id=self.site_id,
            box=self.to_source_box(ie.box),
            details=details,
        )

    def _tamper_finding(self, te: TamperEvent, ev: str) -> Finding:
        raised = te.kind == "raised"
        if raised:
            self._tamper_evidence[te.rule] = ev
        first = self._tamper_evidence.get(te.rule, ev)
        return Finding(
            rule=te.rule if raised else f"{te.rule}_cleared",
            subject=self.camera_id,
            severity=_TAMPER_SEVERITY[te.rule] if raised else "info",
            event_time=te.t,
            first_evidence_id=first,
            evidence_ids=(first,) if raised else (first, ev),
            camera_id=self.camera_id,
            site_id=self.site_id,
            details={"state": te.kind, **te.details},
        )
