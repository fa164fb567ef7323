"""From JPEG frames on ``camera.frames`` to alert candidates and clearances, via the video detectors."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from detectors.findings import Finding
from detectors.video.pipeline import CameraAnalyzer, decode_jpeg_for_analysis, render_snapshot
from schemas.alerts import AlertAction, AlertCandidateRecord, EvidenceRecord, alert_id_for
from schemas.frames import FrameHeaders
from streams.candidates import CLEARED_SUFFIX, candidate_from_finding, clearance_from_finding
from streams.config import WatchfloorConfig
from streams.snapshots import save_snapshot
from streams.topics import CAMERA_FRAMES

log = logging.getLogger(__name__)


@dataclass
class VideoOutput:
    candidates: list[AlertCandidateRecord] = field(default_factory=list)
    clearances: list[tuple[bytes, AlertAction]] = field(default_factory=list)


class VideoPipeline:
    """One ``CameraAnalyzer`` per camera; frames for a camera arrive in order on its partition."""

    def __init__(self, config: WatchfloorConfig) -> None:
        self.config = config
        self.analyzers: dict[str, CameraAnalyzer] = {}

    def analyzer(self, camera_id: str) -> CameraAnalyzer:
        analyzer = self.analyzers.get(camera_id)
        if analyzer is None:
            camera = self.config.camera(camera_id)
            analyzer = CameraAnalyzer(camera_id, self.config.video, site_id=camera.site if camera else None)
            self.analyzers[camera_id] = analyzer
            log.info("camera %s: new analyzer, learning the scene (warm-up)", camera_id)
        return analyzer

    def process(self, camera_id: str, headers: FrameHeaders, jpeg: bytes) -> VideoOutput:
        """Raises ``ValueError`` for bytes that are not a decodable JPEG."""
        gray, scale = decode_jpeg_for_analysis(jpeg, self.config.video.work_width)
        evidence_id = f"{camera_id}:{headers.sequence}@{headers.event_time:.3f}"
        findings = self.analyzer(camera_id).process(gray, headers.event_time, headers.sequence, scale=scale,
                                                     evidence_id=evidence_id)
        return self._outputs(findings, camera_id, jpeg)

    def check_feeds(self, now: float) -> VideoOutput:
        findings = [f for a in self.analyzers.values() for f in a.check_feed(now)]
        return self._outputs(findings, None, None)

    def _outputs(self, findings: list[Finding], camera_id: str | None, jpeg: bytes | None) -> VideoOutput:
        out = VideoOutput()
        for finding in findings:
            if finding.rule.endswith(CLEARED_SUFFIX):
                out.clearances.append(clearance_from_finding(finding))
                continue
            snapshot = self._snapshot(finding, jpeg) if jpeg is not None else None
            evidence = EvidenceRecord(event_id=finding.evidence_ids[-1], event_time=finding.event_time,
                                      camera_id=finding.camera_id, source_topic=CAMERA_FRAMES, snapshot_ref=snapshot,
                                      box=None if finding.box is None else list(finding.box))
            out.candidates.append(candidate_from_finding(finding, [evidence]))
        return out

    def _snapshot(self, finding: Finding, jpeg: bytes) -> str | None:
        """Full-resolution snapshot with the box drawn; only on findings, so the cost is rare."""
        frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if frame is None:
            return None
        image = render_snapshot(frame, finding.box, finding.rule.replace("_", " "),
                                quality=self.config.video.snapshot_quality)
        # Named after the idempotent alert id, so a redelivered frame overwrites, not duplicates.
        name = f"{alert_id_for(finding.rule, finding.subject, finding.first_evidence_id)}.jpg"
        try:
            return save_snapshot(self.config, name, image)
        except (OSError, ValueError) as error:
            log.warning("could not store snapshot for %s: %s", finding.camera_id, error)
            return None
