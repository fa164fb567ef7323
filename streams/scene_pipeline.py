"""From ``camera.detections`` messages (generic or DeepStream) to alert candidates."""

from __future__ import annotations

from typing import Any

from detectors.scene import SceneAnalyzer, SceneFrame, SceneObject
from schemas.adapters.deepstream import AdapterError, deepstream_to_frame, merge_frames
from schemas.alerts import AlertCandidateRecord, EvidenceRecord
from schemas.detections import DetectionFrame
from streams.candidates import candidate_from_finding
from streams.codecs import Rejected, validate
from streams.config import WatchfloorConfig
from streams.topics import CAMERA_DETECTIONS


def is_deepstream(data: Any) -> bool:
    """DeepStream's nvmsgconv messages carry ``mdsversion`` and a ``sensor`` object."""
    return isinstance(data, dict) and ("mdsversion" in data or ("sensor" in data and "object" in data))


def decode_detections(data: Any) -> list[DetectionFrame]:
    """Generic frame, DeepStream message, or a list of DeepStream messages (merged per frame)."""
    try:
        if isinstance(data, list) and data and all(is_deepstream(m) for m in data):
            return merge_frames(deepstream_to_frame(m) for m in data)
        if is_deepstream(data):
            return [deepstream_to_frame(data)]
    except AdapterError as error:
        raise Rejected("schema_violation", f"DeepStream message: {error}") from None
    return [validate(DetectionFrame, data)]


def scene_frame(frame: DetectionFrame) -> SceneFrame:
    return SceneFrame(
        event_id=frame.event_id, camera_id=frame.camera_id, t=frame.event_time,
        objects=tuple(SceneObject(o.track_id, o.class_name, o.confidence, tuple(o.box))  # type: ignore[arg-type]
                      for o in frame.objects),
    )


class ScenePipeline:
    """One ``SceneAnalyzer`` per camera (state lives with the camera's partition).

    DeepStream sends one message per object, so parts of one frame are held until a message
    with a later time arrives for that camera (or ``flush`` is called), then analysed together.
    """

    def __init__(self, config: WatchfloorConfig) -> None:
        self.config = config
        self.analyzers: dict[str, SceneAnalyzer] = {}
        self.pending: dict[str, DetectionFrame] = {}

    def analyzer(self, camera_id: str) -> SceneAnalyzer:
        analyzer = self.analyzers.get(camera_id)
        if analyzer is None:
            camera = self.config.camera(camera_id)
            analyzer = SceneAnalyzer(camera_id, self.config.zones, self.config.scene,
                                     site_id=camera.site if camera else None)
            self.analyzers[camera_id] = analyzer
        return analyzer

    def process(self, frames: list[DetectionFrame], partial: bool = False) -> list[AlertCandidateRecord]:
        """Analyse frames; ``partial`` frames (DeepStream parts) wait for the rest of their frame."""
        ready: list[DetectionFrame] = []
        for frame in frames:
            held = self.pending.get(frame.camera_id)
            if not partial:
                ready.append(frame)
            elif held is None:
                self.pending[frame.camera_id] = frame
            elif held.event_time == frame.event_time:
                self.pending[frame.camera_id] = merge_frames([held, frame])[0]
            else:
                ready.append(held)
                self.pending[frame.camera_id] = frame
        return self._analyse(ready)

    def flush(self) -> list[AlertCandidateRecord]:
        ready, self.pending = list(self.pending.values()), {}
        return self._analyse(ready)

    def _analyse(self, frames: list[DetectionFrame]) -> list[AlertCandidateRecord]:
        candidates = []
        for frame in frames:
            for finding in self.analyzer(frame.camera_id).process(scene_frame(frame)):
                evidence = [EvidenceRecord(event_id=event_id, event_time=finding.event_time, camera_id=frame.camera_id,
                                           source_topic=CAMERA_DETECTIONS,
                                           box=None if finding.box is None else list(finding.box))
                            for event_id in finding.evidence_ids]
                candidates.append(candidate_from_finding(finding, evidence))
        return candidates
