"""From plate reads (wire models) to alert candidates, via the pure plate detectors.

Kept free of Faust so the agent stays a loop of decode -> ``process`` -> send, and so the
benchmark can measure the detector cost on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from detectors.plates.privacy import plate_hash

from detectors.findings import Finding
from detectors.plates.normalise import normalise_plate
from detectors.plates.watchlist import WatchlistIndex
from schemas.alerts import AlertCandidate, Evidence
from schemas.anpr import PlateRead
from streams.candidates import candidate_from_finding
from streams.config import WatchfloorConfig
from streams.topics import ANPR_READS

log = logging.getLogger(__name__)

#: Watchlist priority (1 = most urgent) to alert severity.
PRIORITY_SEVERITY = {1: "critical", 2: "high", 3: "high", 4: "medium", 5: "low"}


def read_evidence(read: PlateRead) -> Evidence:
    return Evidence(event_id=read.read_id, event_time=read.event_time, camera_id=read.camera_id,
                    source_topic=ANPR_READS, snapshot_ref=read.image_ref,
                    data=read.model_dump(mode="json", exclude={"schema_version"}))


class AnprPipeline:
    """Normalise, match against the watchlist, run the plate rules; returns candidates."""

    def __init__(self, config: WatchfloorConfig, index: WatchlistIndex) -> None:
        self.config = config
        self.index = index
        self._hash_key = config.privacy.plate_hash_key()

    def process(self, reads: Sequence[PlateRead]) -> tuple[list[AlertCandidate], list[tuple[PlateRead, str]]]:
        """Returns the candidates, and the reads that could not be processed with the reason."""
        candidates: list[AlertCandidate] = []
        unusable: list[tuple[PlateRead, str]] = []
        for read in reads:
            try:
                plate = normalise_plate(read.plate)
            except ValueError:
                # The normaliser's message quotes the text: keep plates out of logs and dead letters.
                unusable.append((read, "not a usable plate (A-Z/0-9 and separators, at most 16 characters)"))
                continue
            match = self.index.match(plate, read.confidence, read.event_time)
            if match is None:
                continue
            entry = match.entry
            camera = self.config.camera(read.camera_id)
            finding = Finding(
                rule="watchlist_hit", subject=entry.plate,
                severity=PRIORITY_SEVERITY[entry.priority],  # type: ignore[arg-type]
                event_time=read.event_time, first_evidence_id=read.read_id,
                camera_id=read.camera_id, site_id=camera.site if camera else None,
                details={"plate_read": read.plate, "plate_listed": entry.plate, "match": match.kind,
                         "differences": [list(d) for d in match.differences],
                         "confidence": read.confidence, "reason": entry.reason, "category": entry.category,
                         "priority": entry.priority, "camera_name": camera.name if camera else None},
            )
            log.info("watchlist hit %s (%s) at %s", plate_hash(plate, self._hash_key), match.kind,
                     read.camera_id)
            candidates.append(candidate_from_finding(finding, [read_evidence(read)], restricted=entry.covert))
        return candidates, unusable
