"""Scene rules over edge-analytics tracks: loitering, intrusion, unattended item, crowd limit.

One ``SceneAnalyzer`` holds the in-memory state of one camera (tracks, zone visits, items,
crowd episodes). It is fed frames in event-time order and returns ``Finding`` s; it never reads
the clock, so a replay of the same frames yields the same findings with the same evidence ids.

>>> from detectors.scene.config import SceneRulesConfig, ZoneConfig
>>> from detectors.scene.types import SceneFrame, SceneObject
>>> lobby = ZoneConfig(id="lobby", name="Lobby", camera_id="cam-1", kinds=["loitering"],
...                    loiter_limit_s=60, polygon=[(0, 0), (100, 0), (100, 100), (0, 100)])
>>> analyzer = SceneAnalyzer("cam-1", [lobby], SceneRulesConfig())
>>> person = SceneObject("7", "person", 0.9, (40, 20, 20, 60))
>>> [f.rule for t in range(0, 61, 1) for f in analyzer.process(SceneFrame(f"e{t}", "cam-1", t, [person]))]
['loitering']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detectors.findings import Finding, Severity
from detectors.scene.config import SceneRulesConfig, ZoneConfig
from detectors.scene.types import Box, SceneFrame, SceneObject
from detectors.scene.zones import PolygonZone, anchors_of, zone_membership

# Findings list at most this many evidence ids / track ids, so one alert stays small on the wire.
MAX_EVIDENCE_IDS = 20
MAX_LISTED_TRACKS = 50


@dataclass(slots=True)
class SceneStats:
    """Counters for metrics; the agent exports them, the analyzer only counts."""

    frames_processed: int = 0
    frames_out_of_order: int = 0
    """Frames older than the newest processed one; ignored (their state changes would be stale)."""
    objects_ignored_low_confidence: int = 0
    tracks_expired: int = 0
    tracks_evicted: int = 0
    """Tracks dropped because ``max_tracks`` was reached (tracker churning ids?)."""


@dataclass(slots=True)
class _Track:
    track_id: str
    class_name: str
    box: Box
    anchor: tuple[float, float]
    last_seen: float
    last_event_id: str


@dataclass(slots=True)
class _ZoneVisit:
    entered_t: float
    entered_event_id: str
    last_inside_t: float
    loiter_alerted: bool = False
    intrusion_alerted: bool = False


@dataclass(slots=True)
class _Item:
    origin: tuple[float, float]
    """Box centre when the item came to rest; movement is measured from here, not frame to frame."""
    stationary_since: float
    stationary_event_id: str
    unattended_since: float | None = None
    unattended_event_id: str | None = None
    seen_attended: bool = False
    alerted: bool = False


@dataclass(slots=True)
class _CrowdEpisode:
    active: bool = False
    below_since: float | None = None


@dataclass(slots=True)
class _Zone:
    config: ZoneConfig
    shape: PolygonZone
    classes: frozenset[str]
    visits: dict[str, _ZoneVisit] = field(default_factory=dict)
    crowd: _CrowdEpisode = field(default_factory=_CrowdEpisode)


def _int_box(box: Box) -> tuple[int, int, int, int]:
    x, y, w, h = box
    return (round(x), round(y), round(w), round(h))


def _union_box(boxes: Iterable[Box]) -> tuple[int, int, int, int] | None:
    arr = np.asarray(list(boxes), dtype=np.float64).reshape(-1, 4)
    if arr.shape[0] == 0:
        return None
    x0, y0 = arr[:, 0].min(), arr[:, 1].min()
    x1, y1 = (arr[:, 0] + arr[:, 2]).max(), (arr[:, 1] + arr[:, 3]).max()
    return _int_box((float(x0), float(y0), float(x1 - x0), float(y1 - y0)))


def _dedupe(ids: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for i in ids:
        if i is not None:
            seen.setdefault(i, None)
    return tuple(seen)[:MAX_EVIDENCE_IDS]


class SceneAnalyzer:
    """Per-camera state machine for the scene rules.

    ``zones`` may hold every configured zone; only those whose ``camera_id`` matches are used.
    Feed frames in event-time order; frames older than the newest one processed are ignored
    and counted in ``stats.frames_out_of_order``. Frames with the *same* time are parts of one
    frame (DeepStream sends one message per object) and are all processed.
    """

    def __init__(
        self,
        camera_id: str,
        zones: Sequence[ZoneConfig],
        config: SceneRulesConfig,
        *,
        site_id: str | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.site_id = site_id
        self.config = config
        self.stats = SceneStats()
        self._person_classes = frozenset(config.person_classes)
        self._bag_classes = frozenset(config.bag_classes)
        self._zones = [
            _Zone(z, PolygonZone(z.polygon), frozenset(z.classes or config.person_classes))
            for z in zones
            if z.camera_id == camera_id
        ]
        # Insertion order doubles as recency order (a seen track is moved to the end), and event
        # time never goes backwards, so expiry and eviction only ever look at the front.
        self._tracks: dict[str, _Track] = {}
        self._items: dict[str, _Item] = {}
        self._last_t: float | None = None

    @property
    def zones(self) -> tuple[ZoneConfig, ...]:
        """The zones this analyzer watches (those on its camera)."""
        return tuple(z.config for z in self._zones)

    @property
    def track_count(self) -> int:
        """Tracks currently remembered."""
        return len(self._tracks)

    @property
    def last_event_time(self) -> float | None:
        """Event time of the newest frame processed, or None before the first."""
        return self._last_t

    def process(self, frame: SceneFrame) -> list[Finding]:
        """Update state with one frame and return the findings it completes.

        Raises ``ValueError`` for a frame from another camera or with a non-finite time
        (a wiring bug or bad input; the agent should dead-letter it).
        """
        if frame.camera_id != self.camera_id:
            raise ValueError(f"frame {frame.event_id!r} is for camera {frame.camera_id!r}, "
                             f"analyzer is for {self.camera_id!r}")
        t = float(frame.t)
        if not math.isfinite(t):
            raise ValueError(f"frame {frame.event_id!r} has a non-finite event time")
        if self._last_t is not None and t < self._last_t:
            self.stats.frames_out_of_order += 1
            return []
        self._last_t = t
        self.stats.frames_processed += 1

        observed = self._observe(frame, t)
        self.expire(t)
        findings: list[Finding] = []
        findings += self._zone_rules(frame, observed, t)
        findings += self._crowd_rule(frame, t)
        findings += self._unattended_rule(frame, observed, t)
        return findings

    def expire(self, t: float) -> int:
        """Forget tracks not seen since ``t - track_expiry_s``; returns how many were dropped.

        ``process`` calls this; an agent may also call it from a timer with the latest event time.
        """
        cutoff = t - self.config.track_expiry_s
        stale = []
        for track_id, track in self._tracks.items():
            if track.last_seen >= cutoff:
                break  # recency order: everything after is newer
            stale.append(track_id)
        for track_id in stale:
            self._forget(track_id)
        self.stats.tracks_expired += len(stale)
        return len(stale)

    # --- state updates -------------------------------------------------------------------

    def _observe(self, frame: SceneFrame, t: float) -> list[_Track]:
        """Record the frame's objects as track sightings; returns the tracks seen in this frame."""
        latest: dict[str, SceneObject] = {}
        for obj in frame.objects:
            if obj.confidence < self.config.min_confidence:
                self.stats.objects_ignored_low_confidence += 1
                continue
            latest[obj.track_id] = obj  # a repeated track id in one frame: the last one wins
        observed: list[_Track] = []
        for obj in latest.values():
            track = self._tracks.pop(obj.track_id, None)
            if track is None:
                track = _Track(obj.track_id, obj.class_name, obj.box, obj.anchor, t, frame.event_id)
            else:
                track.class_name, track.box, track.anchor = obj.class_name, obj.box, obj.anchor
                track.last_seen, track.last_event_id = t, frame.event_id
            self._tracks[obj.track_id] = track  # (re)insert at the end = most recent
            observed.append(track)
        while len(self._tracks) > self.config.max_tracks:
            self._forget(next(iter(self._tracks)))
            self.stats.tracks_evicted += 1
        return observed

    def _forget(self, track_id: str) -> None:
        self._tracks.pop(track_id, None)
        self._items.pop(track_id, None)
        for zone in self._zones:
            zone.visits.pop(track_id, None)

    def _severity(self, zone: ZoneConfig | None, default: Severity) -> Severity:
        return zone.severity if zone is not None and zone.severity is not None else default

    # --- loitering and intrusion -----------------------------------------------------------

    def _zone_rules(self, frame: SceneFrame, observed: list[_Track], t: float) -> list[Finding]:
        if not self._zones or not observed:
            return []
        inside = zone_membership([z.shape for z in self._zones], [tr.anchor for tr in observed])
        findings: list[Finding] = []
        grace = self.config.zone_exit_grace_s
        for zi, zone in enumerate(self._zones):
            cfg = zone.config
            armed = cfg.is_active(t)
            for ti, track in enumerate(observed):
                if track.class_name not in zone.classes:
                    continue
                visit = zone.visits.get(track.track_id)
                if not inside[zi, ti]:
                    # Short excursions (box jitter on the boundary) keep the visit going.
                    if visit is not None and t - visit.last_inside_t > grace:
                        del zone.visits[track.track_id]
                    continue
                if visit is None:
                    visit = zone.visits[track.track_id] = _ZoneVisit(t, frame.event_id, t)
                visit.last_inside_t = t
                if not armed:
                    continue
                dwell = t - visit.entered_t
                if ("loitering" in cfg.kinds and not visit.loiter_alerted
                        and cfg.loiter_limit_s is not None and dwell >= cfg.loiter_limit_s):
                    visit.loiter_alerted = True
                    findings.append(self._track_finding(
                        "loitering", self._severity(cfg, self.config.loitering_severity), frame, t,
                        cfg, track, visit, first_evidence_id=visit.entered_event_id,
                        extra={"dwell_s": round(dwell, 3), "limit_s": cfg.loiter_limit_s},
                    ))
                if "restricted" in cfg.kinds and not visit.intrusion_alerted:
                    visit.intrusion_alerted = True
                    findings.append(self._track_finding(
                        "intrusion", self._severity(cfg, self.config.intrusion_severity), frame, t,
                        cfg, track, visit, first_evidence_id=frame.event_id,
                        extra={"active_hours": list(cfg.active_hours), "timezone": cfg.timezone},
                    ))
        return findings

    def _track_finding(
        self, rule: str, severity: Severity, frame: SceneFrame, t: float, zone: ZoneConfig,
        track: _Track, visit: _ZoneVisit, *, first_evidence_id: str, extra: dict[str, Any],
    ) -> Finding:
        return Finding(
            rule=rule,
            subject=f"{self.camera_id}/{zone.id}/{track.track_id}",
            severity=severity,
            event_time=t,
            first_evidence_id=first_evidence_id,
            evidence_ids=_dedupe([first_evidence_id, visit.entered_event_id, frame.event_id]),
            camera_id=self.camera_id,
            site_id=self.site_id,
            box=_int_box(track.box),
            details={
                "zone_id": zone.id,
                "zone_name": zone.name,
                "track_id": track.track_id,
                "class_name": track.class_name,
                "entered_at": visit.entered_t,
                **extra,
            },
        )

    # --- crowd limit -------------------------------------------------------------------------

    def _present(self, t: float, classes: frozenset[str] | None = None) -> list[_Track]:
        """Tracks seen within the presence window, newest last (optionally of some classes)."""
        since = t - self.config.presence_window_s
        present = []
        for track in reversed(self._tracks.values()):
            if track.last_seen < since:
                break  # recency order
            if classes is None or track.class_name in classes:
                present.append(track)
        present.reverse()
        return present

    def _crowd_rule(self, frame: SceneFrame, t: float) -> list[Finding]:
        crowd_zones = [z for z in self._zones if "crowd" in z.config.kinds]
        if not crowd_zones:
            return []
        present = self._present(t)
        anchors = [tr.anchor for tr in present]
        inside = zone_membership([z.shape for z in crowd_zones], anchors)
        findings: list[Finding] = []
        for zi, zone in enumerate(crowd_zones):
            cfg = zone.config
            assert cfg.crowd_limit is not None  # guaranteed by ZoneConfig validation
            members = [tr for ti, tr in enumerate(present)
                       if inside[zi, ti] and tr.class_name in zone.classes]
            count = len(members)
            episode = zone.crowd
            if episode.active:
                # Hysteresis: the episode ends only after the count has stayed low for a while,
                # so a crowd hovering at the limit yields one finding, not one per wobble.
                if count <= cfg.crowd_limit - self.config.crowd_hysteresis:
                    if episode.below_since is None:
                        episode.below_since = t
                    if t - episode.below_since >= self.config.crowd_clear_s:
                        episode.active, episode.below_since = False, None
                else:
                    episode.below_since = None
                continue
            if count > cfg.crowd_limit and cfg.is_active(t):
                episode.active, episode.below_since = True, None
                track_ids = sorted(tr.track_id for tr in members)
                findings.append(Finding(
                    rule="crowd_limit",
                    subject=f"{self.camera_id}/{cfg.id}",
                    severity=self._severity(cfg, self.config.crowd_severity),
                    event_time=t,
                    first_evidence_id=frame.event_id,
                    evidence_ids=_dedupe([frame.event_id, *sorted({tr.last_event_id for tr in members})]),
                    camera_id=self.camera_id,
                    site_id=self.site_id,
                    box=_union_box(tr.box for tr in members),
                    details={
                        "zone_id": cfg.id,
                        "zone_name": cfg.name,
                        "count": count,
                        "limit": cfg.crowd_limit,
                        "track_ids": track_ids[:MAX_LISTED_TRACKS],
                    },
                ))
        return findings

    # --- unattended item -------------------------------------------------------------------

    def _unattended_rule(self, frame: SceneFrame, observed: list[_Track], t: float) -> list[Finding]:
        cfg = self.config
        # An item relabelled to a non-bag class by the tracker is no longer an item.
        for track in observed:
            if track.class_name not in self._bag_classes:
                self._items.pop(track.track_id, None)
        bags = [tr for tr in observed if tr.class_name in self._bag_classes]
        if not bags:
            return []
        people = self._present(t, self._person_classes)
        bag_anchors = anchors_of([b.box for b in bags])
        if people:
            person_anchors = anchors_of([p.box for p in people])
            # (B, P) ground-plane distances; an item is attended if anyone is within the radius.
            dist = np.linalg.norm(bag_anchors[:, None, :] - person_anchors[None, :, :], axis=2)
            nearest = dist.min(axis=1)
        else:
            nearest = np.full(len(bags), np.inf)
        findings: list[Finding] = []
        for bi, bag in enumerate(bags):
            x, y, w, h = bag.box
            centre = (x + w / 2.0, y + h / 2.0)
            item = self._items.get(bag.track_id)
            if item is None or math.dist(centre, item.origin) > cfg.stationary_tolerance_px:
                # New item, or it moved (picked up, carried): start a new episode at rest here.
                item = self._items[bag.track_id] = _Item(centre, t, frame.event_id)
            if nearest[bi] <= cfg.attended_radius_px:
                item.unattended_since, item.unattended_event_id = None, None
                item.seen_attended = True
                continue
            if item.unattended_since is None:
                item.unattended_since, item.unattended_event_id = t, frame.event_id
            clock_start = max(item.stationary_since, item.unattended_since)
            unattended_s = t - clock_start
            if item.alerted or unattended_s < cfg.unattended_after_s:
                continue
            if cfg.require_seen_attended and not item.seen_attended:
                continue
            item.alerted = True
            zone_ids = [z.config.id for z in self._zones if bool(z.shape.contains(bag_anchors[bi:bi + 1])[0])]
            findings.append(Finding(
                rule="unattended_item",
                subject=f"{self.camera_id}/{bag.track_id}",
                severity=cfg.unattended_severity,
                event_time=t,
                # The moment the item came to rest: stable for the whole episode, so a replay
                # or a re-trigger within the episode maps to the same alert id.
                first_evidence_id=item.stationary_event_id,
                evidence_ids=_dedupe([item.stationary_event_id, item.unattended_event_id, frame.event_id]),
                camera_id=self.camera_id,
                site_id=self.site_id,
                box=_int_box(bag.box),
                details={
                    "track_id": bag.track_id,
                    "class_name": bag.class_name,
                    "stationary_s": round(t - item.stationary_since, 3),
                    "unattended_s": round(unattended_s, 3),
                    "unattended_after_s": cfg.unattended_after_s,
                    "nearest_person_px": None if math.isinf(nearest[bi]) else round(float(nearest[bi]), 1),
                    "zone_ids": zone_ids,
                },
            ))
        return findings
