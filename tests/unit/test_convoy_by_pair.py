"""Convoys across workers (``kafka.route_convoy_by_pair``): camera pairing, then judged by plate.

The pipeline stages are run here as two workers would run them, with the reads split between
them as Kafka would split them, so the routing logic is checked without a broker (the broker
path itself: tests/reliability/test_crash_and_scale_out.py).
"""

from __future__ import annotations

import itertools

import pytest

from detectors.plates.pairing import CameraPairing
from detectors.plates.watchlist import WatchlistIndex
from schemas.alerts import AlertCandidate
from schemas.anpr import PlateReadRecord
from streams.anpr_pipeline import AnprPipeline, plate_partition
from streams.config import ConfigError, WatchfloorConfig, parse_config

PARTITIONS = 4
T0 = 1.7e9


def config(pairs: bool) -> WatchfloorConfig:
    return parse_config({
        "kafka": {"partitions": PARTITIONS, "route_journeys_by_plate": True, "route_convoy_by_pair": pairs},
        "sites": [{"id": "s", "name": "S", "lat": 51.5, "lon": -0.1}],
        "cameras": [{"id": f"c{i}", "name": f"C{i}", "site": "s", "lat": 51.5 + i * 0.05, "lon": -0.1}
                    for i in range(3)],
    }, env={})


def read(read_id: str, plate: str, camera: str, t: float) -> PlateReadRecord:
    return PlateReadRecord(read_id=read_id, plate=plate, confidence=0.95, camera_id=camera, event_time=t)


class Worker:
    """One worker's two stages: ``local`` for the cameras it consumes, ``journeys`` for its plate partitions."""

    def __init__(self, cfg: WatchfloorConfig, cameras: set[str], plate_partitions: set[int]) -> None:
        index = WatchlistIndex(cfg.anpr.matching)
        self.cameras = cameras
        self.local = AnprPipeline(cfg, index, stage="local")
        self.local.plate_partitions = PARTITIONS
        self.journeys = AnprPipeline(cfg, index, stage="journeys")
        self.journeys.plate_partitions = PARTITIONS
        self.journeys.owned_plate_partitions = plate_partitions
        self.owned = plate_partitions


def run(workers: list[Worker], reads: list[PlateReadRecord], partners_first: bool = False) -> list[AlertCandidate]:
    """Reads through the camera-keyed stage, then on by plate (own reads and partners) to the second."""
    own: dict[int, list[PlateReadRecord]] = {}
    partners: dict[int, list[PlateReadRecord]] = {}
    candidates: list[AlertCandidate] = []
    for worker in workers:
        out = worker.local.process([r for r in reads if r.camera_id in worker.cameras])
        candidates += out.candidates
        for plate, usable in zip(out.plates, out.usable, strict=True):
            own.setdefault(plate_partition(plate, PARTITIONS), []).append(usable)
        for partition, sent in out.partners.items():
            partners.setdefault(partition, []).extend(sent)
    for worker in workers:
        mine = sorted(worker.owned)
        steps = [(partners, True), (own, False)] if partners_first else [(own, False), (partners, True)]
        for batches, are_partners in steps:
            sent = [r for p in mine for r in batches.get(p, [])]
            process = worker.journeys.process_partners if are_partners else worker.journeys.process
            candidates += process(sent).candidates
    return candidates


def plates_on_both_workers() -> tuple[str, str]:
    """Two plates whose partitions belong to different workers (partitions 0-1 and 2-3)."""
    names = (f"CV{n:02d}ABC" for n in itertools.count())
    first = next(p for p in names if plate_partition(p, PARTITIONS) < 2)
    second = next(p for p in names if plate_partition(p, PARTITIONS) >= 2)
    return first, second


def convoy_reads(lead: str, follower: str) -> list[PlateReadRecord]:
    reads = []
    for step, camera in enumerate(("c0", "c1", "c2")):
        t = T0 + step * 300
        reads += [read(f"{lead}-{step}", lead, camera, t), read(f"{follower}-{step}", follower, camera, t + 3)]
    return reads


def two_workers(pairs: bool) -> list[Worker]:
    cfg = config(pairs)
    # Camera c1's reads are on a partition of the second worker, as a camera-keyed feed puts them.
    return [Worker(cfg, {"c0", "c2"}, {0, 1}), Worker(cfg, {"c1"}, {2, 3})]


@pytest.mark.parametrize("partners_first", [False, True])
def test_a_convoy_split_over_two_workers_is_found_once(partners_first: bool) -> None:
    lead, follower = plates_on_both_workers()
    found = [c for c in run(two_workers(pairs=True), convoy_reads(lead, follower), partners_first)
             if c.rule == "convoy"]
    assert len(found) == 1, found
    assert found[0].subject == "+".join(sorted((lead, follower)))
    assert found[0].details["cameras"] == ["c0", "c1", "c2"]


def test_without_pairs_the_same_split_misses_the_convoy() -> None:
    lead, follower = plates_on_both_workers()
    found = [c for c in run(two_workers(pairs=False), convoy_reads(lead, follower)) if c.rule == "convoy"]
    assert found == []  # why route_convoy_by_pair exists: each worker saw the pair at too few cameras


def test_plates_read_far_apart_in_time_are_no_pair() -> None:
    lead, follower = plates_on_both_workers()
    reads = [r if r.plate == lead else read(r.read_id, r.plate, r.camera_id, r.event_time + 60)
             for r in convoy_reads(lead, follower)]
    assert [c for c in run(two_workers(pairs=True), reads) if c.rule == "convoy"] == []


def test_pairs_need_plate_routing() -> None:
    with pytest.raises(ConfigError, match="route_convoy_by_pair needs route_journeys_by_plate"):
        parse_config({"kafka": {"route_convoy_by_pair": True}}, env={})


def test_camera_pairing_pairs_other_plates_near_in_time_once() -> None:
    pairing: CameraPairing[str] = CameraPairing(max_gap_s=10, lateness_s=60, max_partners=16)
    assert pairing.pair("A", "c1", 100.0, "a1") == []
    assert pairing.pair("A", "c1", 101.0, "a2") == []  # the same plate is no partner
    assert pairing.pair("B", "c2", 102.0, "b0") == []  # another camera
    assert pairing.pair("B", "c1", 105.0, "b1") == [("A", "a1"), ("A", "a2")]
    assert pairing.pair("C", "c1", 96.0, "late") == [("A", "a1"), ("A", "a2"), ("B", "b1")]  # sorted in
    assert pairing.pair("D", "c1", 100.5, "d0") == [("C", "late"), ("A", "a1"), ("A", "a2"), ("B", "b1")]
    assert pairing.pair("D", "c1", 200.0, "d") == []


def test_camera_pairing_keeps_the_nearest_at_a_busy_camera_and_forgets_quiet_ones() -> None:
    pairing: CameraPairing[int] = CameraPairing(max_gap_s=10, lateness_s=0, max_partners=2)
    for k in range(8):
        pairing.pair(f"P{k}", "c1", 100.0 + k, k)
    assert sorted(pairing.pair("X", "c1", 108.0, 99)) == [("P6", 6), ("P7", 7)]
    assert len(pairing) == 9
    pairing.pair("Y", "c1", 200.0, 1)  # the camera keeps only its last max_gap_s + lateness
    assert len(pairing) == 1
    pairing.prune(now=1000.0)  # quiet since: nothing held
    assert len(pairing) == 0


def test_a_worker_judges_only_the_pairs_whose_first_plate_it_owns() -> None:
    lead, follower = plates_on_both_workers()  # lead's partition is the first worker's
    first = min(lead, follower)
    workers = two_workers(pairs=True)
    owner = next(w for w in workers if plate_partition(first, PARTITIONS) in w.owned)
    other = next(w for w in workers if w is not owner)
    reads = convoy_reads(lead, follower)
    # The other worker given every read of both plates (as partners of plates it owns would bring
    # them) still stays silent on the pair: its view of a pair is partial in general.
    assert [c for c in other.journeys.process_partners(reads).candidates if c.rule == "convoy"] == []
    found = owner.journeys.process_partners(reads).candidates
    assert [c.subject for c in found] == ["+".join(sorted((lead, follower)))]


def test_at_a_busy_camera_each_read_goes_to_each_partition_once_at_most() -> None:
    local = two_workers(pairs=True)[0].local
    sent: list[tuple[int, str]] = []
    for k in range(60):  # 60 plates within 6 s at one camera, in passes of 10
        if k % 10 == 0:
            batch = [read(f"r{j}", f"BZ{j:03d}XY", "c0", T0 + j * 0.1) for j in range(k, k + 10)]
            out = local.process(batch)
            sent += [(partition, r.read_id) for partition, reads in out.partners.items() for r in reads]
    assert sent and len(sent) == len(set(sent))  # no read twice to one partition
    assert len(sent) <= 60 * (PARTITIONS - 1)  # never to its own plate's partition
