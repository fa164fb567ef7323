"""From validated plate-read dicts to alert candidates, via the pure plate analytics.

Kept free of Faust so the agent stays a loop of decode -> ``process`` -> send, and so the
benchmark can measure the detector cost on its own.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

import msgspec

from detectors.findings import Finding
from detectors.plates.analytics import PlateAnalytics
from detectors.plates.config import PlatesConfig
from detectors.plates.normalise import normalise_plates
from detectors.plates.pairing import CameraPairing
from detectors.plates.privacy import plate_hash
from detectors.plates.sighting import CameraPosition, ReadBatch, read_columns
from detectors.plates.watchlist import WatchlistIndex
from schemas.alerts import AlertCandidateRecord, EvidenceRecord
from schemas.anpr import PlateReadRecord
from streams.candidates import candidate_from_finding
from streams.config import WatchfloorConfig
from streams.plate_reads import PlateReads
from streams.topics import ANPR_READS

log = logging.getLogger(__name__)


def plate_partition(plate: str, partitions: int) -> int:
    """The ``anpr.sightings`` partition of a normalised plate (the plate-keyed stage's key)."""
    return zlib.crc32(plate.encode()) % partitions


def read_evidence(read: PlateReadRecord) -> EvidenceRecord:
    # to_builtins leaves out defaults (schema_version, absent optional fields), as the sender did.
    return EvidenceRecord(event_id=read.read_id, event_time=read.event_time, camera_id=read.camera_id,
                          source_topic=ANPR_READS, snapshot_ref=read.image_ref, data=msgspec.to_builtins(read))


Stage = Literal["all", "local", "journeys"]
"""Which rules run: all of them, or one side of the plate-keyed repartition (``local``: watchlist
and convoy, by camera; ``journeys``: cloned plate and circling, by plate). With
``kafka.route_convoy_by_pair`` convoy moves to ``journeys`` too, and ``local`` pairs the reads."""


def _disabled(plates: PlatesConfig, rules: tuple[str, ...]) -> dict[str, object]:
    """A ``model_copy`` update that turns ``rules`` off."""
    return {rule: getattr(plates, rule).model_copy(update={"enabled": False}) for rule in rules}


@dataclass
class AnprOutput:
    candidates: list[AlertCandidateRecord] = field(default_factory=list)
    unusable: list[tuple[PlateReadRecord, str]] = field(default_factory=list)
    """Reads that validated but cannot be used (unknown camera, no plate), with the reason."""
    usable: Sequence[PlateReadRecord] = field(default_factory=list)
    """The other reads, in order (a :class:`PlateReads` makes each record only when it is asked for)."""
    plates: list[str] = field(default_factory=list)
    """The normalised plates of ``usable`` (what a plate-keyed next stage is keyed by)."""
    partners: dict[int, list[PlateReadRecord]] = field(default_factory=dict)
    """With ``kafka.route_convoy_by_pair``, at the camera-keyed stage: reads to send on to other
    ``anpr.sightings`` partitions as partners. Of each pair of reads of two plates near in time at
    one camera, the second plate's read goes to the first plate's partition (alphabetical order),
    where all of the pair's meetings land; each read at most once to each partition."""


class AnprPipeline:
    """Normalise, match against the watchlist, run cloned/circling/convoy; returns candidates.

    One instance per worker: rule state covers the partitions this worker owns (see README,
    "ANPR rules and partitions").
    """

    def __init__(self, config: WatchfloorConfig, index: WatchlistIndex, stage: Stage = "all") -> None:
        self.config = config
        self.stage = stage
        plates = config.anpr
        self.pairs_by_plate = stage != "all" and config.kafka.route_convoy_by_pair and plates.convoy.enabled
        self._rules = plates.model_copy(update=_disabled(plates, {
            "local": ("cloned", "circling", "convoy") if self.pairs_by_plate else ("cloned", "circling"),
            "journeys": ("convoy",), "all": ()}[stage]))
        # Convoy at the plate-keyed stage: own reads and the partners sent on by the camera-keyed
        # stage, in a store of their own (a partner must not pass for a read of its plate in the
        # cloned or circling windows, nor silence that read as a duplicate when it comes).
        self._convoy_rules = plates.model_copy(update=_disabled(plates, ("cloned", "circling")))
        self.index = index
        self.owned_plate_partitions: set[int] | None = None
        """At the plate-keyed stage with pairs routed: the ``anpr.sightings`` partitions this worker owns."""
        self.plate_partitions = 1
        self.cameras = {c.id: CameraPosition(c.id, c.site, c.lat, c.lon) for c in config.cameras}
        self._hash_key = config.privacy.plate_hash_key()
        self.forget_state()

    def forget_state(self) -> None:
        """Drop all rule state (held reads, episodes), e.g. when it may hold reads never committed."""
        self.analytics = PlateAnalytics(self._rules, self.index, match_watchlist=self.stage != "journeys")
        self.convoy = (PlateAnalytics(self._convoy_rules, self.index, match_watchlist=False, owns_pair=self._owns_pair)
                       if self.pairs_by_plate and self.stage == "journeys" else None)
        convoy = self.config.anpr.convoy
        # Each held read with its plate's partition and the partitions it was sent to (as a partner).
        self.pairing: CameraPairing[tuple[PlateReadRecord, int, set[int]]] | None = (
            CameraPairing(convoy.max_gap_s, self.config.anpr.retention.max_lateness_s, convoy.max_partners_per_read)
            if self.pairs_by_plate and self.stage == "local" else None)

    def _owns_pair(self, plate: str, other: str) -> bool:
        """Whether this worker gets every meeting of the pair: it owns the first plate's partition."""
        owned = self.owned_plate_partitions
        return owned is None or plate_partition(min(plate, other), self.plate_partitions) in owned

    @property
    def held_reads(self) -> int:
        """Reads held in rule state, partners included: one store serves all the rules of a stage, but
        at the plate-keyed stage with pairs routed a read is in the convoy store too, and costs twice."""
        return (len(self.analytics.reads) + (len(self.convoy.reads) if self.convoy else 0)
                + (len(self.pairing) if self.pairing else 0))

    @property
    def horizon_s(self) -> float:
        """How far back in event time the rules look (what a rebuild of their state must replay)."""
        return max(self.analytics.reads.horizon_s, self.convoy.reads.horizon_s if self.convoy else 0.0,
                   self.pairing.horizon_s if self.pairing else 0.0)

    def process(self, reads: Sequence[PlateReadRecord]) -> AnprOutput:
        out = AnprOutput()
        batch = self._batch(reads, out)
        if not batch:
            return out
        findings = self.analytics.process(batch)
        if self.convoy is not None:
            findings += self.convoy.process(batch)
        if self.pairing is not None:
            self._pair(out)
        self._add_candidates(findings, out, batch)
        return out

    def process_partners(self, reads: Sequence[PlateReadRecord]) -> AnprOutput:
        """Reads sent on by the camera-keyed stage as partners of this worker's plates: convoy only."""
        out = AnprOutput()
        batch = self._batch(reads, out)
        if batch and self.convoy is not None:
            self._add_candidates(self.convoy.process(batch), out, batch)
        return out

    def _add_candidates(self, findings: list[Finding], out: AnprOutput, batch: ReadBatch) -> None:
        if findings:  # the pass's reads by id, for the evidence (built in C from the batch's ids column)
            by_id = dict(zip(batch.read_ids, range(len(batch)), strict=True))
            out.candidates.extend(self._candidate(finding, out.usable, by_id) for finding in findings)

    def _pair(self, out: AnprOutput) -> None:
        """Pair each usable read with the other plates' reads near it at its camera (``out.partners``)."""
        assert self.pairing is not None
        pair, partitions, partners = self.pairing.pair, self.plate_partitions, out.partners
        for read, plate in zip(out.usable, out.plates, strict=True):
            own = plate_partition(plate, partitions)
            held = (read, own, {own})  # its own partition gets it anyway
            for other, (other_read, other_own, other_sent) in pair(plate, read.camera_id, read.event_time, held):
                if other < plate:  # this read goes to the other plate's partition
                    partition, second_read, sent = other_own, read, held[2]
                else:  # the other read comes to this plate's
                    partition, second_read, sent = own, other_read, other_sent
                if partition not in sent:
                    sent.add(partition)
                    partners.setdefault(partition, []).append(second_read)

    def rebuild(self, reads: Sequence[PlateReadRecord]) -> None:
        """Replay reads handled before (by this worker or the partition's last owner) into the rules.

        The rules' windows and episodes come back as they were; nothing is raised or matched again
        (those alerts went out the first time).
        """
        out = AnprOutput()
        batch = self._batch(reads, out)
        if batch:
            self.analytics.process(batch, rebuilding=True)
            if self.convoy is not None:
                self.convoy.process(batch, rebuilding=True)
            if self.pairing is not None:
                self._pair(out)  # the camera windows only: these pairs went on the first time

    def rebuild_partners(self, reads: Sequence[PlateReadRecord]) -> None:
        """``rebuild`` for partner reads (see :meth:`process_partners`)."""
        batch = self._batch(reads, AnprOutput())
        if batch and self.convoy is not None:
            self.convoy.process(batch, rebuilding=True)

    def _batch(self, reads: Sequence[PlateReadRecord], out: AnprOutput) -> ReadBatch:
        """The usable reads as columns; ``out`` gets them (``usable``, ``plates``) and the unusable ones."""
        if not reads:
            return ReadBatch([], [], [], [], [])
        # One compiled pass (see read_columns; a PlateReads has them from its messages' bytes); only
        # unusual plates and unknown cameras take Python steps.
        read_ids, plates, positions, times, confidences, odd = (
            reads.columns() if isinstance(reads, PlateReads) else read_columns(reads, self.cameras))
        if odd:
            unplain = [i for i, plate in enumerate(plates) if plate is None]
            for i, plate in zip(unplain, normalise_plates([reads[i].plate for i in unplain]), strict=True):
                plates[i] = plate
            if None in plates or None in positions:
                reads, plates, positions = self._set_aside_unusable(reads, plates, positions, out)
                read_ids, _, _, times, confidences, _ = read_columns(reads, self.cameras)
        known_plates, known_positions = cast("list[str]", plates), cast("list[CameraPosition]", positions)
        out.usable, out.plates = (reads if isinstance(reads, PlateReads) else list(reads)), known_plates
        return ReadBatch(read_ids, known_plates, known_positions, times, confidences)

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
        if self.convoy is not None:
            self.convoy.prune(now)
        if self.pairing is not None:
            self.pairing.prune(now)

    def _candidate(self, finding: Finding, usable: Sequence[PlateReadRecord], by_id: dict[str, int]
                   ) -> AlertCandidateRecord:
        evidence = []
        times = list(finding.details.get("times", ()))
        cameras = list(finding.details.get("cameras", ()))
        for position, event_id in enumerate(finding.evidence_ids):
            index = by_id.get(event_id)
            if index is not None:
                evidence.append(read_evidence(usable[index]))
            else:  # an earlier read, no longer at hand: what the rule kept of it
                evidence.append(EvidenceRecord(
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
        # A line a candidate is debug detail (at a full feed, hundreds a second; the alerts topic is the
        # record): formatted, and the plates hashed, only when asked for.
        if log.isEnabledFor(logging.DEBUG):
            plates = finding.subject.split("+")  # convoy: a pair
            hashed = "+".join(plate_hash(plate, self._hash_key) for plate in plates)
            log.debug("candidate %s %s at %s", finding.rule, hashed, finding.camera_id)
        return candidate_from_finding(finding, evidence, restricted=restricted, details=details)
