"""From validated plate-read dicts to alert candidates, via the pure plate analytics.

Kept free of Faust so the agent stays a loop of decode -> ``process`` -> send, and so the
benchmark can measure the detector cost on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

import msgspec

from detectors.findings import Finding
from detectors.plates.analytics import CameraPosition, PlateAnalytics
from detectors.plates.normalise import normalise_plates
from detectors.plates.privacy import plate_hash
from detectors.plates.sighting import Sighting
from detectors.plates.watchlist import WatchlistIndex
from schemas.alerts import AlertCandidate, Evidence
from schemas.anpr import PlateReadRecord
from streams.candidates import candidate_from_finding
from streams.config import WatchfloorConfig
from streams.topics import ANPR_READS

log = logging.getLogger(__name__)


def read_evidence(read: PlateReadRecord) -> Evidence:
    # to_builtins leaves out defaults (schema_version, absent optional fields), as the sender did.
    return Evidence(event_id=read.read_id, event_time=read.event_time, camera_id=read.camera_id,
                    source_topic=ANPR_READS, snapshot_ref=read.image_ref, data=msgspec.to_builtins(read))


Stage = Literal["all", "local", "journeys"]
"""Which rules run: all of them, or one side of the plate-keyed repartition
(``local``: watchlist and convoy, by camera; ``journeys``: cloned plate and circling, by plate)."""


@dataclass
class AnprOutput:
    candidates: list[AlertCandidate] = field(default_factory=list)
    unusable: list[tuple[PlateReadRecord, str]] = field(default_factory=list)
    """Reads that validated but cannot be used (unknown camera, no plate), with the reason."""
    usable: list[PlateReadRecord] = field(default_factory=list)
    """The other reads, in order."""
    plates: list[str] = field(default_factory=list)
    """The normalised plates of ``usable`` (what a plate-keyed next stage is keyed by)."""


class AnprPipeline:
    """Normalise, match against the watchlist, run cloned/circling/convoy; returns candidates.

    One instance per worker: rule state covers the partitions this worker owns (see README,
    "ANPR rules and partitions").
    """

    def __init__(self, config: WatchfloorConfig, index: WatchlistIndex, stage: Stage = "all") -> None:
        self.config = config
        plates = config.anpr
        off = {"enabled": False}
        if stage == "local":
            plates = plates.model_copy(update={"cloned": plates.cloned.model_copy(update=off),
                                               "circling": plates.circling.model_copy(update=off)})
        elif stage == "journeys":
            plates = plates.model_copy(update={"convoy": plates.convoy.model_copy(update=off)})
        self.analytics = PlateAnalytics(plates, index, match_watchlist=stage != "journeys")
        self.cameras = {c.id: CameraPosition(c.id, c.site, c.lat, c.lon) for c in config.cameras}
        self._hash_key = config.privacy.plate_hash_key()

    def forget_state(self) -> None:
        """Drop all rule state (held reads, episodes), e.g. when it may hold reads never committed."""
        old = self.analytics
        self.analytics = PlateAnalytics(old.config, old.watchlist, match_watchlist=old.match_watchlist)

    @property
    def horizon_s(self) -> float:
        """How far back in event time the rules look (what a rebuild of their state must replay)."""
        return self.analytics.reads.horizon_s

    def process(self, reads: Sequence[PlateReadRecord]) -> AnprOutput:
        out = AnprOutput()
        sightings = self._sightings(reads, out)
        if not sightings:
            return out
        findings = self.analytics.process(sightings)
        if findings:  # a few a pass: the reads by id only for the evidence of these
            wanted = {event_id for finding in findings for event_id in finding.evidence_ids}
            by_id = {read.read_id: read for read in out.usable if read.read_id in wanted}
            out.candidates.extend(self._candidate(finding, by_id) for finding in findings)
        return out

    def rebuild(self, reads: Sequence[PlateReadRecord]) -> None:
        """Replay reads handled before (by this worker or the partition's last owner) into the rules.

        The rules' windows and episodes come back as they were; nothing is raised or matched again
        (those alerts went out the first time).
        """
        sightings = self._sightings(reads, AnprOutput())
        if sightings:
            self.analytics.process(sightings, rebuilding=True)

    def _sightings(self, reads: Sequence[PlateReadRecord], out: AnprOutput) -> list[Sighting]:
        """The usable reads as sightings; ``out`` gets them (``usable``, ``plates``) and the unusable ones."""
        if not reads:
            return []
        # Column by column: each step is one C-level pass over the batch (see normalise_plates).
        plates = normalise_plates([read.plate for read in reads])
        positions = [self.cameras.get(read.camera_id) for read in reads]
        if None in plates or None in positions:
            reads, plates, positions = self._set_aside_unusable(reads, plates, positions, out)
        known_plates, known_positions = cast("list[str]", plates), cast("list[CameraPosition]", positions)
        out.usable, out.plates = list(reads), known_plates
        return [Sighting(read.read_id, plate, position[0], position[1], position[2], position[3],
                         read.event_time, read.confidence)
                for read, plate, position in zip(reads, known_plates, known_positions, strict=True)]

    @staticmethod
    def _set_aside_unusable(reads: Sequence[PlateReadRecord], plates: list[str | None],
                            positions: list[CameraPosition | None], out: AnprOutput
                            ) -> tuple[list[PlateReadRecord], list[str | None], list[CameraPosition | None]]:
        """Move reads from unknown cameras or without a plate to ``out.unusable``; return the rest."""
        kept: tuple[list[PlateReadRecord], list[str | None], list[CameraPosition | None]] = ([], [], [])
        for read, plate, position in zip(reads, plates, positions, strict=True):
            if position is None:
                out.unusable.append((read, f"plate read from unknown camera {read.camera_id!r}"))
            elif plate is None:  # the normaliser's own message quotes the text: no plates in dead letters
                out.unusable.append((read, "not a usable plate (A-Z/0-9 and separators, at most 16 characters)"))
            else:
                kept[0].append(read)
                kept[1].append(plate)
                kept[2].append(position)
        return kept

    def prune(self, now: float) -> None:
        """Enforce retention on an idle feed (reads that hit nothing are forgotten)."""
        self.analytics.prune(now)

    def _candidate(self, finding: Finding, by_id: dict[str, PlateReadRecord]) -> AlertCandidate:
        evidence = []
        times = list(finding.details.get("times", ()))
        cameras = list(finding.details.get("cameras", ()))
        for position, event_id in enumerate(finding.evidence_ids):
            read = by_id.get(event_id)
            if read is not None:
                evidence.append(read_evidence(read))
            else:  # an earlier read, no longer at hand: what the rule kept of it
                evidence.append(Evidence(
                    event_id=event_id, source_topic=ANPR_READS,
                    event_time=times[position] if position < len(times) else finding.event_time,
                    camera_id=cameras[position] if position < len(cameras) else None))
        details = dict(finding.details)
        camera = self.config.camera(finding.camera_id) if finding.camera_id else None
        if camera is not None:
            details["camera_name"] = camera.name
        # Covert entries are for supervisors only, and so is any convoy one of them is part of.
        restricted = bool(details.get("covert")) or any(
            (entry := self.analytics.watchlist.get(plate)) is not None and entry.covert
            for plate in details.get("watchlisted") or ())
        hashed = "+".join(plate_hash(plate, self._hash_key) for plate in finding.subject.split("+"))  # convoy: pairs
        log.info("%s %s at %s", finding.rule, hashed, finding.camera_id)
        return candidate_from_finding(finding, evidence, restricted=restricted, details=details)
