"""Cloned plates: one plate read at two places too far apart for the time between the reads.

Two vehicles carrying the same number (one of them a clone) show up as an *impossible journey*:
the great-circle distance between the cameras divided by the time gap is above
``max_speed_kmh``. Clock skew between cameras is absorbed by ``min_time_gap_s``, approximate
camera positions by ``min_distance_m``.

>>> from detectors.plates.config import ClonedPlateConfig
>>> from detectors.plates.sighting import Sighting
>>> rule = ClonedPlateRule(ClonedPlateConfig())
>>> rule.observe(Sighting("r1", "AB12CDE", "cam-london", "s1", 51.5074, -0.1278, 1000.0, 0.9))
[]
>>> f = rule.observe(Sighting("r2", "AB12CDE", "cam-manc", "s2", 53.4808, -2.2426, 1600.0, 0.9))
>>> f[0].rule, f[0].evidence_ids, round(f[0].details["speed_kmh"])
('cloned_plate', ('r1', 'r2'), 1572)
"""

from __future__ import annotations

import math

from detectors.findings import Finding
from detectors.plates._rule import ReadRule
from detectors.plates.config import ClonedPlateConfig, RetentionConfig
from detectors.plates.recent import RecentReads
from detectors.plates.sighting import EARTH_RADIUS_M, Sighting, haversine_m

# Great-circle distance <= R * (|dlat| + |dlon|) in radians: path along a meridian, then a parallel.
_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180
# Reads compared on each side of the new one (in event-time order).
NEIGHBOURS = 3


def _index_of(history: list[Sighting], s: Sighting) -> int:
    for i in range(len(history) - 1, -1, -1):
        if history[i] is s:
            return i
    raise ValueError("sighting is not in its plate's history")


class ClonedPlateRule(ReadRule):
    """Per-partition rule over recent sightings by plate, pruned by event-time horizon.

    Each new sighting is compared with the held sightings of its plate nearest to it in event
    time (three on each side, within ``window_s``), before or after it, so late reads are
    evaluated too. At most one finding per new sighting: the impossible pair nearest in time.
    The finding's ``first_evidence_id`` is the later read of the pair (by event time, then read
    id), so it does not depend on arrival order.

    Standalone, the rule keeps its own :class:`RecentReads`; ``PlateAnalytics`` passes one store
    shared by all rules and calls :meth:`evaluate` after adding each read to it.
    """

    rule = "cloned_plate"

    def __init__(
        self, config: ClonedPlateConfig, retention: RetentionConfig | None = None, reads: RecentReads | None = None
    ) -> None:
        self.config = config
        lateness = (retention or RetentionConfig()).max_lateness_s
        self.reads = reads if reads is not None else RecentReads(config.window_s + lateness)
        self._max_mps = config.max_speed_kmh / 3.6


    def evaluate(self, s: Sighting, history: list[Sighting]) -> list[Finding]:
        """Check ``s`` (already stored) against the other sightings of its plate."""
        if len(history) < 2:
            return []
        cfg = self.config
        window, min_gap, min_dist, max_mps = cfg.window_s, cfg.min_time_gap_s, cfg.min_distance_m, self._max_mps
        t, lat, lon, camera = s.t, s.lat, s.lon, s.camera_id
        best: tuple[float, str, Sighting, float, float] | None = None
        # Only the nearest reads in time: by the triangle inequality an impossible journey from
        # s to a far-off read implies an impossible hop between two time-adjacent reads, which was
        # reported when the later of them arrived. Bounds the cost for plates seen all day.
        i = len(history) - 1 if history[-1] is s else _index_of(history, s)
        for other in history[max(0, i - NEIGHBOURS) : i + NEIGHBOURS + 1]:
            if other is s:
                continue
            gap = abs(t - other.t)
            if gap > window or other.camera_id == camera:
                continue
            eff_gap = gap if gap > min_gap else min_gap
            allowed = max_mps * eff_gap
            # Cheap upper bound on the great-circle distance (metres per degree along a meridian,
            # |dlat| + |dlon|): most pairs are plausible journeys and never reach the haversine.
            bound = (abs(lat - other.lat) + abs(lon - other.lon)) * _M_PER_DEG
            if bound <= allowed or bound < min_dist:
                continue
            dist = haversine_m(lat, lon, other.lat, other.lon)
            if dist < min_dist or dist <= allowed:
                continue
            speed = dist / max(eff_gap, 1e-9)
            rank = (gap, other.read_id)
            if best is None or rank < best[:2]:
                best = (gap, other.read_id, other, dist, speed)
        if best is None:
            return []
        gap, _, other, dist, speed = best
        first, last = sorted((s, other), key=lambda x: (x.t, x.read_id))
        return [
            Finding(
                rule=self.rule,
                subject=s.plate,
                severity="high",
                event_time=last.t,
                first_evidence_id=last.read_id,
                evidence_ids=(first.read_id, last.read_id),
                camera_id=last.camera_id,
                site_id=last.site_id,
                details={
                    "plate": s.plate,
                    "speed_kmh": round(speed * 3.6, 1),
                    "max_speed_kmh": cfg.max_speed_kmh,
                    "distance_km": round(dist / 1000, 3),
                    "time_gap_s": round(gap, 3),
                    "cameras": [first.camera_id, last.camera_id],
                    "sites": [first.site_id, last.site_id],
                    "times": [first.t, last.t],
                    "read_ids": [first.read_id, last.read_id],
                },
            )
        ]
