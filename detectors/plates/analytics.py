"""One object per partition that runs everything on plate reads: watchlist plus rules.

>>> from detectors.plates.config import PlatesConfig
>>> from detectors.plates.watchlist import WatchlistEntry, WatchlistIndex
>>> wl = WatchlistIndex()
>>> wl.add(WatchlistEntry(plate="AB12CDE", reason="stolen", category="stolen", priority=2))
>>> pa = PlateAnalytics(PlatesConfig(), wl)
>>> [f.rule for f in pa.process([Sighting("r1", "AB12CDE", "c1", "s1", 51.5, -0.1, 1000.0, 0.97)], now=1000.0)]
['watchlist_hit']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from detectors.findings import SEVERITY_ORDER, Finding, Severity
from detectors.plates.circling import CirclingRule
from detectors.plates.cloned import NEIGHBOURS, ClonedPlateRule
from detectors.plates.config import PlatesConfig
from detectors.plates.convoy import ConvoyRule
from detectors.plates.recent import RecentReads, Screen
from detectors.plates.sighting import ReadBatch, Sighting
from detectors.plates.watchlist import Match, WatchlistIndex

PRIORITY_SEVERITY: dict[int, Severity] = {1: "critical", 2: "high", 3: "high", 4: "medium", 5: "low"}
"""Watchlist priority (1 = most urgent) to finding severity; a fuzzy match is one level lower."""


@dataclass(slots=True)
class AnalyticsCounters:
    """Plain counters for the stream layer to export as metrics (no plate labels)."""

    reads: int = 0
    watchlist_hits: int = 0
    hits_by_kind: dict[str, int] = field(default_factory=lambda: {"exact": 0, "equivalent": 0, "fuzzy": 0})
    findings_by_rule: dict[str, int] = field(default_factory=dict)


class PlateAnalytics:
    """Watchlist matching plus the cloned/circling/convoy rules, for one partition's reads.

    Event time throughout: a watchlist entry's expiry is compared with the read's own time, and
    ``now`` (the partition's current event time, e.g. the newest read time in the batch) only drives
    pruning. Pass wall-clock time to :meth:`prune` from a timer to enforce retention on an idle feed,
    never to :meth:`process` during a replay.

    Retention: reads that hit nothing live only in ``self.reads`` (the rules' shared store) and are
    dropped once they fall behind the longest enabled window plus ``max_lateness_s`` (event time);
    ``PlatesConfig`` rejects any window that would keep them longer than
    ``retention.non_hit_read_retention_s``.
    """

    def __init__(self, config: PlatesConfig, watchlist: WatchlistIndex | None = None,
                 match_watchlist: bool = True, owns_pair: Callable[[str, str], bool] | None = None) -> None:
        self.config = config
        self.owns_pair = owns_pair
        self.watchlist = watchlist if watchlist is not None else WatchlistIndex(config.matching)
        # Off for a second stage that only runs journey rules on reads already matched upstream.
        self.match_watchlist = match_watchlist
        self._clock = 0.0
        # One store of recent reads for all rules: one dedupe, one history lookup, one pruning
        # queue per read (three separate stores cost ~3x as much).
        windows = [
            w
            for enabled, w in (
                (config.cloned.enabled, config.cloned.window_s),
                (config.circling.enabled, config.circling.max_window_s),
                (config.convoy.enabled, config.convoy.window_s),
            )
            if enabled
        ]
        lateness = config.retention.max_lateness_s
        circling = config.circling
        self.reads = RecentReads(
            max(windows, default=0.0) + lateness,
            camera_horizon_s=config.convoy.max_gap_s + lateness if config.convoy.enabled else None,
            screen=Screen(multi_camera=config.cloned.enabled or config.convoy.enabled,
                          repeats=circling.min_passes if circling.enabled else None,
                          # a pass's reads reach pass_merge_s past the window's first pass
                          repeats_within_s=circling.max_window_s + circling.pass_merge_s,
                          history_within_s=max(
                              circling.max_window_s + circling.pass_merge_s if circling.enabled else 0.0,
                              config.convoy.window_s + config.convoy.max_gap_s if config.convoy.enabled else 0.0),
                          history_neighbours=NEIGHBOURS if config.cloned.enabled else 0),
        )
        retention = config.retention
        self.cloned = ClonedPlateRule(config.cloned, retention, self.reads) if config.cloned.enabled else None
        self.circling = CirclingRule(config.circling, retention, self.reads) if config.circling.enabled else None
        self.convoy = (
            ConvoyRule(config.convoy, retention, is_watchlisted=self._is_listed, reads=self.reads, owns_pair=owns_pair)
            if config.convoy.enabled
            else None
        )
        self.counters = AnalyticsCounters()
        # The shortest history (a plate's own reads, this one included) on which each rule can fire:
        # most plates seen again are seen twice, and a call that returns at once still costs.
        self._circling_history = config.circling.min_passes
        self._convoy_history = config.convoy.min_cameras
        needs = [2] if config.cloned.enabled else []
        if config.circling.enabled:
            needs.append(self._circling_history)
        if config.convoy.enabled:
            needs.append(self._convoy_history)
        self._min_history = min(needs, default=1)

    def _is_listed(self, plate: str) -> bool:
        return self.watchlist.is_listed(plate, self._clock)

    def process(self, reads: Sequence[Sighting] | ReadBatch, now: float | None = None, rebuilding: bool = False
                ) -> list[Finding]:
        """Run every rule on a batch of reads; return the findings in input order.

        ``now`` (event time) is how far retention may prune afterwards; by default the batch's newest read.
        ``rebuilding``: the reads were handled before (state is being rebuilt after a restart or a
        rebalance): the rules run, so their windows and episodes come back, but the watchlist is not
        matched and nothing is counted.

        A redelivered read (same read id still held) yields its watchlist hit again, the same finding,
        and nothing from the rules; a read too late for the rules is still matched against the watchlist.
        """
        batch = reads if isinstance(reads, ReadBatch) else ReadBatch.of(list(reads))
        findings: list[Finding] = []
        matches: dict[int, Match] = {}
        times = batch.times
        if self.match_watchlist and not rebuilding:
            # A redelivered read still gets matched: if its first hit was never sent, this is the
            # only chance; a repeat is absorbed downstream.
            matches = self.watchlist.match_many(batch.plates, batch.confidences, times)
        cloned, circling, convoy = self.cloned, self.circling, self.convoy
        hits = sorted(matches)
        next_hit = 0
        min_history, circling_history, convoy_history = self._min_history, self._circling_history, self._convoy_history
        rules_on = cloned is not None or circling is not None or convoy is not None
        # Only reads a rule could fire on come back to be evaluated (see Screen): 1-4% of the bench's traffic.
        for i, s, history in self.reads.add_batch(batch) if rules_on else ():
            while next_hit < len(hits) and hits[next_hit] <= i:  # findings in input order
                findings.append(self._hit(batch.sighting(hits[next_hit]), matches[hits[next_hit]]))
                next_hit += 1
            held = len(history)
            if held < min_history:
                continue
            if cloned is not None:
                findings.extend(cloned.evaluate(s, history))
            if circling is not None and held >= circling_history:
                findings.extend(circling.evaluate(s, history))
            if convoy is not None and held >= convoy_history:
                self._clock = s.t  # for is_listed, asked only when a convoy is found
                findings.extend(convoy.evaluate(s, history))
        findings.extend(self._hit(batch.sighting(i), matches[i]) for i in hits[next_hit:])
        self.reads.prune(max(times, default=-math.inf) if now is None else now)
        if rebuilding:
            return findings
        c = self.counters
        c.reads += len(batch)
        for f in findings:
            c.findings_by_rule[f.rule] = c.findings_by_rule.get(f.rule, 0) + 1
            if f.rule == "watchlist_hit":
                c.watchlist_hits += 1
                kind = f.details["match_kind"]
                c.hits_by_kind[kind] = c.hits_by_kind.get(kind, 0) + 1
        return findings

    def prune(self, now: float) -> None:
        """Drop rule state older than each rule's horizon at event time ``now``."""
        for rule in (self.cloned, self.circling, self.convoy):
            if rule is not None:
                rule.prune(now)

    @staticmethod
    def _hit(s: Sighting, m: Match) -> Finding:
        entry = m.entry
        severity = PRIORITY_SEVERITY[entry.priority]
        if m.kind == "fuzzy":
            severity = SEVERITY_ORDER[max(0, SEVERITY_ORDER.index(severity) - 1)]
        return Finding(
            rule="watchlist_hit",
            subject=entry.plate,
            severity=severity,
            event_time=s.t,
            first_evidence_id=s.read_id,
            camera_id=s.camera_id,
            site_id=s.site_id,
            details={
                "plate": s.plate,
                "listed_plate": entry.plate,
                "match_kind": m.kind,
                "differences": [list(d) for d in m.differences],
                "confidence": s.confidence,
                "reason": entry.reason,
                "category": entry.category,
                "priority": entry.priority,
                "covert": entry.covert,
                "source": entry.source,
                "expires_at": entry.expires_at,
            },
        )
