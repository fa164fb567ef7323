"""Scene rules over edge-analytics metadata (tracks and boxes from ``camera.detections``).

Pure logic: plain dataclasses in (``SceneFrame``), ``Finding`` s out; event time only.

>>> from detectors.scene import SceneAnalyzer, SceneRulesConfig
>>> SceneAnalyzer("cam-1", [], SceneRulesConfig()).track_count
0
"""

from detectors.scene.config import SceneRulesConfig, ZoneConfig, ZoneKind
from detectors.scene.rules import SceneAnalyzer, SceneStats
from detectors.scene.types import SceneFrame, SceneObject
from detectors.scene.zones import PolygonZone, anchors_of, centres_of, zone_membership

__all__ = [
    "PolygonZone",
    "SceneAnalyzer",
    "SceneFrame",
    "SceneObject",
    "SceneRulesConfig",
    "SceneStats",
    "ZoneConfig",
    "ZoneKind",
    "anchors_of",
    "centres_of",
    "zone_membership",
]
