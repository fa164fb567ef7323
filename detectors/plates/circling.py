"""Circling: one plate passing the cameras of one site again and again within a window.

Reads of the plate at the site are grouped into *passes* (reads within ``pass_merge_s`` of
the pass's first read are one drive-by, e.g. the entry and exit camera). When ``passes`` passes fall
within ``window_s`` (per-site overrides apply) the rule fires once for the episode; further
passes extend the episode instead of firing again.

>>> from detectors.plates.config import CirclingConfig
>>> from detectors.plates.sighting import Sighting
>>> rule = CirclingRule(CirclingConfig(passes=3, window_s=600))
>>> out = [rule.observe(Sighting(f"r{i}", "AB12CDE", "cam-1", "mall", 0, 0, 100.0 * i, 0.9)) for i in range(5)]
>>> [len(x) for x in out], out[2][0].first_evidence_id
([0, 0, 1, 0, 0], 'r2')
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

from detectors.findings import Finding
from detectors.plates._episodes import claim_episode, prune_episodes
from detectors.plates._rule import ReadRule
from detectors.plates.config import CirclingConfig, RetentionConfig
from detectors.plates.recent import RecentReads
from detectors.plates.sighting import Sighting


def _t(s: Sighting) -> float:
    return s.t


class CirclingRule(ReadRule):
    """Per-partition rule over recent sightings by plate; order- and duplicate-tolerant.

    Passes are recomputed from the plate's sorted reads at the site on each new read, so a
    late read lands in the right place. The completing pass of an episode is the first pass at
    which ``passes`` passes fit in the window; its first read is ``first_evidence_id``.

    Standalone, the rule keeps its own :class:`RecentReads`; ``PlateAnalytics`` passes one store
    shared by all rules and calls :meth:`evaluate` after adding each read to it.
    """

    rule = "circling"

    def __init__(
        self, config: CirclingConfig, retention: RetentionConfig | None = None, reads: RecentReads | None = None
    ) -> None:
        self.config = config
        lateness = (retention or RetentionConfig()).max_lateness_s
        self._max_window = config.max_window_s
        self.reads = reads if reads is not None else RecentReads(self._max_window + lateness)
        # Only (plate, site) keys that fired have episodes: most keys never do.
        self._episodes: dict[tuple[str, str], list[list[float]]] = {}
        self._last_sweep = -math.inf

    def prune(self, now: float) -> None:
        super().prune(now)
        self._sweep_episodes()

    def evaluate(self, s: Sighting, history: list[Sighting]) -> list[Finding]:
        """Check the passes of ``s``'s plate at ``s``'s site (``s`` already stored)."""
        cfg = self.config
        site_id = s.site_id
        site = cfg.for_site(site_id) if cfg.sites else None
        needed = site.passes if site else cfg.passes
        if len(history) < needed:
            return []
        window = site.window_s if site else cfg.window_s
        merge = cfg.pass_merge_s
        # Only reads that can share a window with s (the history may be longer: shared store),
        # with pass_merge_s of slack so the passes around s are grouped as on the full history.
        lo = bisect_left(history, s.t - window - merge, key=_t)
        hi = bisect_right(history, s.t + window + merge, key=_t)
        at_site = [x for x in history[lo:hi] if x.site_id == site_id]
        if len(at_site) < needed:
            return []
        passes: list[Sighting] = []  # first read of each pass
        pass_start = -math.inf
        for x in at_site:
            # Measured from the pass's first read, not chained: a car looping faster than
            # pass_merge_s must not merge into one endless pass.
            if x.t - pass_start > merge:
                passes.append(x)
                pass_start = x.t
        findings: list[Finding] = []
        key = (s.plate, site_id)
        for j in range(needed - 1, len(passes)):
            t_j = passes[j].t
            # A window completed before s's own pass cannot be new (and near the slice's lower
            # edge the grouping may differ from the full history's).
            if t_j < s.t - merge or t_j - passes[j - needed + 1].t > window:
                continue
            if not claim_episode(self._episodes.setdefault(key, []), t_j, window):
                continue
            run = passes[j - needed + 1 : j + 1]
            findings.append(
                Finding(
                    rule=self.rule,
                    subject=s.plate,
                    severity="medium",
                    event_time=t_j,
                    first_evidence_id=passes[j].read_id,
                    evidence_ids=tuple(p.read_id for p in run),
                    camera_id=passes[j].camera_id,
                    site_id=site_id,
                    details={
                        "plate": s.plate,
                        "site_id": site_id,
                        "passes": needed,
                        "window_s": window,
                        "pass_times": [p.t for p in run],
                        "cameras": [p.camera_id for p in run],
                    },
                )
            )
        if self.reads.watermark - self._last_sweep > self._max_window:
            self._sweep_episodes()
        return findings

    def _sweep_episodes(self) -> None:
        self._last_sweep = self.reads.watermark
        cutoff = self.reads.watermark - self.reads.horizon_s
        for key in list(self._episodes):
            eps = self._episodes[key]
            prune_episodes(eps, cutoff, self._max_window)
            if not eps:
                del self._episodes[key]
