"""Convoys: two plates seen together (within ``max_gap_s`` at one camera) at several cameras.

Cost is kept low with two indexes (both in :class:`RecentReads`):

* per camera, the reads of the last ``max_gap_s`` (+ lateness), sorted by time: the partners of
  a new read are found with two bisects;
* per plate, its recent sightings: a pair can only be a convoy if the two plates share at least
  ``min_cameras`` cameras, which is one set intersection. Only pairs that pass this filter are
  checked in detail.

No per-pair state is kept for pairs that are merely seen together once (most of them).

>>> from detectors.plates.config import ConvoyConfig
>>> from detectors.plates.sighting import Sighting
>>> rule = ConvoyRule(ConvoyConfig(min_cameras=2))
>>> reads = [("a1", "AAA111", "c1", 0.0), ("b1", "BBB222", "c1", 4.0),
...          ("a2", "AAA111", "c2", 300.0), ("b2", "BBB222", "c2", 303.0)]
>>> out = [rule.observe(Sighting(r, p, c, "s", 0, 0, t, 0.9)) for r, p, c, t in reads]
>>> f = out[-1][0]
>>> f.subject, f.first_evidence_id, f.severity
('AAA111+BBB222', 'b2', 'medium')
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable

from detectors.findings import Finding, Severity
from detectors.plates._episodes import claim_episode, prune_episodes
from detectors.plates._rule import ReadRule
from detectors.plates.config import ConvoyConfig, RetentionConfig
from detectors.plates.recent import RecentReads
from detectors.plates.sighting import Sighting


def _t(s: Sighting) -> float:
    return s.t


class ConvoyRule(ReadRule):
    """Per-partition convoy rule; order- and duplicate-tolerant, pruned by event time.

    ``is_watchlisted(plate)`` raises the severity to ``high`` when either plate is listed;
    ``owns_pair(a, b)`` (default: all) limits which pairs this instance judges.
    The finding's subject is the sorted pair ``"A+B"``; ``first_evidence_id`` is the later read
    of the co-occurrence that first brings the pair to ``min_cameras`` distinct cameras within
    the window (a function of the reads, not of their arrival order).

    Standalone, the rule keeps its own :class:`RecentReads`; ``PlateAnalytics`` passes one store
    shared by all rules (with a camera index of at least ``max_gap_s`` + lateness) and calls
    :meth:`evaluate` after adding each read to it.
    """

    rule = "convoy"

    def __init__(
        self,
        config: ConvoyConfig,
        retention: RetentionConfig | None = None,
        is_watchlisted: Callable[[str], bool] | None = None,
        reads: RecentReads | None = None,
        owns_pair: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.config = config
        # With the pairs routed by plate over several workers, each pair is judged only where all
        # of its co-occurrences go (the worker of its first plate); elsewhere it is seen in part.
        self._owns_pair = owns_pair
        lateness = (retention or RetentionConfig()).max_lateness_s
        self._is_watchlisted = is_watchlisted
        if reads is None:
            reads = RecentReads(config.window_s + lateness, camera_horizon_s=config.max_gap_s + lateness)
        elif reads.camera_horizon_s is None or reads.camera_horizon_s < config.max_gap_s:
            raise ValueError("ConvoyRule needs a RecentReads with a camera index of at least max_gap_s")
        self.reads = reads
        self._episodes: dict[tuple[str, str], list[list[float]]] = {}
        self._last_sweep = -math.inf
        self._min_cameras = config.min_cameras
        self._max_gap = config.max_gap_s
        self._max_partners = config.max_partners_per_read

    def prune(self, now: float) -> None:
        super().prune(now)
        self._sweep_episodes()

    def evaluate(self, s: Sighting, history: list[Sighting]) -> list[Finding]:
        """Pair ``s`` (already stored) with the plates read near it in time at its camera."""
        min_cameras = self._min_cameras
        if len(history) < min_cameras:
            return []
        # Only reads that can share a window with s (the history may be longer: shared store);
        # one gap of slack because a co-occurrence is timed by the later of its two reads.
        reach = self.config.window_s + self._max_gap
        lo_t, hi_t = s.t - reach, s.t + reach
        if history[0].t < lo_t or history[-1].t > hi_t:
            history = history[bisect_left(history, lo_t, key=_t) : bisect_right(history, hi_t, key=_t)]
            if len(history) < min_cameras:
                return []
        # The plate's own cameras before its partners: most plates seen again were seen at fewer
        # cameras than a convoy needs, and then the camera index (bisects, a set) is not touched.
        own_cameras = {x.camera_id for x in history}
        if len(own_cameras) < min_cameras:
            return []
        partners = self.reads.partners_at(s.camera_id, s.t, self._max_gap, self._max_partners, min_held=min_cameras)
        partners.discard(s.plate)
        if not partners:
            return []
        findings: list[Finding] = []
        history_of = self.reads.history
        owns_pair = self._owns_pair
        for other in partners:
            if owns_pair is not None and not owns_pair(s.plate, other):
                continue
            other_history = history_of(other, lo_t)
            if len(other_history) < min_cameras:
                continue
            # Cheap necessary condition: enough cameras in common (set intersection in C).
            if other_history[0].t < lo_t or other_history[-1].t > hi_t:
                other_history = other_history[
                    bisect_left(other_history, lo_t, key=_t) : bisect_right(other_history, hi_t, key=_t)
                ]
            common = own_cameras & {x.camera_id for x in other_history}
            if len(common) >= min_cameras:
                findings.extend(self._evaluate_pair(s.plate, history, other, other_history, common))
        if self.reads.watermark - self._last_sweep > self.config.window_s:
            self._sweep_episodes()
        return findings

    def _sweep_episodes(self) -> None:
        self._last_sweep = self.reads.watermark
        cutoff = self.reads.watermark - self.reads.horizon_s
        for pair in list(self._episodes):
            prune_episodes(self._episodes[pair], cutoff, self.config.window_s)
            if not self._episodes[pair]:
                del self._episodes[pair]

    def _evaluate_pair(
        self, plate: str, history: list[Sighting], other: str, other_history: list[Sighting], common: set[str]
    ) -> list[Finding]:
        cfg = self.config
        gap = cfg.max_gap_s
        # Co-occurrences: (t, camera, earlier read, later read), one per matched read pair.
        events: list[tuple[float, str, str, str]] = []
        mine = [x for x in history if x.camera_id in common]
        theirs = [x for x in other_history if x.camera_id in common]
        for a in mine:
            for b in theirs:
                if a.camera_id == b.camera_id and abs(a.t - b.t) <= gap:
                    first, last = sorted(((a.t, a.read_id), (b.t, b.read_id)))
                    events.append((last[0], a.camera_id, first[1], last[1]))
        if len({e[1] for e in events}) < cfg.min_cameras:
            return []
        events.sort()
        pair = (plate, other) if plate < other else (other, plate)
        episodes = self._episodes.setdefault(pair, [])
        findings: list[Finding] = []
        lo = 0
        counts: dict[str, int] = {}
        for j, (t_j, camera, _, _) in enumerate(events):
            counts[camera] = counts.get(camera, 0) + 1
            while events[lo][0] < t_j - cfg.window_s:
                old = events[lo][1]
                counts[old] -= 1
                if not counts[old]:
                    del counts[old]
                lo += 1
            # Completing event: the one that brings a *new* camera to the threshold.
            if len(counts) < cfg.min_cameras or counts[camera] != 1:
                continue
            if not claim_episode(episodes, t_j, cfg.window_s):
                continue
            findings.append(self._finding(pair, events[lo : j + 1], events[j]))
        if not episodes:
            del self._episodes[pair]
        return findings

    def _finding(
        self, pair: tuple[str, str], run: list[tuple[float, str, str, str]], last: tuple[float, str, str, str]
    ) -> Finding:
        listed = [p for p in pair if self._is_watchlisted is not None and self._is_watchlisted(p)]
        severity: Severity = "high" if listed else "medium"
        evidence = tuple(dict.fromkeys(r for e in run for r in (e[2], e[3])))
        return Finding(
            rule=self.rule,
            subject="+".join(pair),
            severity=severity,
            event_time=last[0],
            first_evidence_id=last[3],
            evidence_ids=evidence,
            camera_id=last[1],
            details={
                "plates": list(pair),
                "watchlisted": listed,
                "cameras": list(dict.fromkeys(e[1] for e in run)),
                "times": [e[0] for e in run],
                "min_cameras": self.config.min_cameras,
                "window_s": self.config.window_s,
                "max_gap_s": self.config.max_gap_s,
            },
        )
