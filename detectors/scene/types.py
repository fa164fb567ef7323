"""Plain input types for the scene detectors.

The stream layer converts the wire model (``schemas.detections.DetectionFrame``) into these
dataclasses, so ``detectors.scene`` never depends on ``schemas`` or pydantic.

>>> frame = SceneFrame(event_id="e1", camera_id="cam-1", t=100.0,
...                    objects=(SceneObject("7", "person", 0.9, (10, 20, 30, 60)),))
>>> frame.objects[0].anchor
(25.0, 80.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Box = tuple[float, float, float, float]
"""``(x, y, w, h)`` in the source's pixels, top-left origin."""


@dataclass(frozen=True, slots=True)
class SceneObject:
    """One tracked object in one frame, as reported by edge analytics."""

    track_id: str
    """Tracker id, stable while the tracker follows the object (unique per camera)."""
    class_name: str
    """Lower-case class label, e.g. ``person`` or ``backpack``."""
    confidence: float
    """Detector confidence 0..1."""
    box: Box
    """``(x, y, w, h)`` in pixels."""

    @property
    def anchor(self) -> tuple[float, float]:
        """Bottom-centre of the box: where the object touches the ground."""
        x, y, w, h = self.box
        return (x + w / 2.0, float(y + h))

    @property
    def centre(self) -> tuple[float, float]:
        """Centre of the box."""
        x, y, w, h = self.box
        return (x + w / 2.0, y + h / 2.0)


@dataclass(frozen=True, slots=True)
class SceneFrame:
    """All objects one camera reported at one event time.

    Several ``SceneFrame`` s with the same ``t`` are allowed (DeepStream sends one message per
    object); the analyzer treats them as parts of the same frame.
    """

    event_id: str
    """Id of the source event; becomes the evidence id of findings."""
    camera_id: str
    t: float
    """Event time, epoch seconds."""
    objects: Sequence[SceneObject] = ()
