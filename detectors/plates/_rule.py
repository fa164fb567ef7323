"""What every plate rule shares: a store of recent reads, and observe/prune around ``evaluate``."""

from __future__ import annotations

from collections.abc import Iterable

from detectors.findings import Finding
from detectors.plates.recent import RecentReads
from detectors.plates.sighting import Sighting


class ReadRule:
    """Base of the cloned/circling/convoy rules; subclasses set ``self.reads`` and ``evaluate``."""

    reads: RecentReads

    def __len__(self) -> int:
        """Reads currently held."""
        return len(self.reads)

    @property
    def dropped_late(self) -> int:
        return self.reads.dropped_late

    @property
    def duplicates(self) -> int:
        return self.reads.duplicates

    def evaluate(self, s: Sighting, history: list[Sighting]) -> list[Finding]:
        raise NotImplementedError

    def observe(self, s: Sighting) -> list[Finding]:
        """Add one sighting (ignored if a duplicate or too late); return the findings it completes."""
        history = self.reads.add(s)
        return [] if history is None else self.evaluate(s, history)

    def observe_many(self, sightings: Iterable[Sighting]) -> list[Finding]:
        out: list[Finding] = []
        for s in sightings:
            out.extend(self.observe(s))
        return out

    def prune(self, now: float) -> None:
        """Drop state older than the rule's horizon at ``now`` (call from a timer on quiet feeds)."""
        self.reads.prune(now)
