"""The shared store of recent reads: the batch path must see exactly what read-by-read adds see."""

from __future__ import annotations

import random

import pytest

from detectors.plates.recent import RecentReads
from detectors.plates.sighting import ReadBatch, Sighting


def _reads(seed: int, late_by: float, n: int = 3000) -> list[Sighting]:
    """Few plates (so histories grow), cameras, times mostly rising with late reads and redeliveries."""
    rng = random.Random(seed)
    out: list[Sighting] = []
    t = 1_700_000_000.0
    for i in range(n):
        if out and rng.random() < 0.05:
            out.append(rng.choice(out[-20:]))  # redelivered soon after
            continue
        t += rng.expovariate(1 / 2.0)
        late = rng.random() < 0.1
        out.append(Sighting(f"r{i}", f"P{rng.randrange(400)}", f"c{rng.randrange(5)}", "s", 51.5, -0.1,
                            t - (rng.uniform(0, late_by) if late else 0.0), 0.9))
    return out


def _at(store: RecentReads, camera: str, t: float) -> list[str]:
    return sorted(store.partners_at(camera, t, 30.0, limit=10_000))


@pytest.mark.parametrize("late_by", [900.0, 300.0])  # beyond the 600 s horizon: some dropped; within: none
@pytest.mark.parametrize("seed", range(4))
def test_add_batch_sees_what_add_sees_for_every_read_with_history(seed: int, late_by: float) -> None:
    """In passes of any size, with late and redelivered reads: the same histories, camera index and counts.

    Partners at a camera are compared for reads within the camera horizon (330 s) of the camera's
    newest read: a read later than that may still find partners the read-by-read store has expired
    (expiry runs once a batch).
    """
    reads = _reads(seed, late_by)
    newest: dict[str, float] = {}
    indexed = []
    for s in reads:
        indexed.append(s.t - 30.0 >= newest.get(s.camera_id, -1e18) - 330.0)
        newest[s.camera_id] = max(newest.get(s.camera_id, -1e18), s.t)
    one_by_one, batched = RecentReads(600.0, camera_horizon_s=330.0), RecentReads(600.0, camera_horizon_s=330.0)
    expected = []
    for i, s in enumerate(reads):
        history = one_by_one.add(s)
        if history is not None and len(history) > 1:
            expected.append((i, [x.read_id for x in history], indexed[i] and _at(one_by_one, s.camera_id, s.t)))
    got = []
    rng, start = random.Random(seed), 0
    while start < len(reads):
        batch = reads[start:start + rng.choice([1, 7, 50, 400])]
        got += [(start + i, [x.read_id for x in history],
                 indexed[start + i] and _at(batched, batch[i].camera_id, batch[i].t))
                for i, s, history in batched.add_batch(ReadBatch.of(batch), screened=False)
                if len(history) > 1 and s is batch[i] and s in history]
        start += len(batch)
    assert got == expected and len(got) > 1000
    assert (batched.duplicates, batched.dropped_late) == (one_by_one.duplicates, one_by_one.dropped_late)
    assert batched.duplicates > 0 and (batched.dropped_late > 0) == (late_by > 600)
    one_by_one.prune(batched.watermark)
    batched.prune(batched.watermark)
    assert len(batched) == len(one_by_one) and batched.plates == one_by_one.plates
    at_the_end = [_at(batched, f"c{k}", batched.watermark - 20) for k in range(5)]
    assert at_the_end == [_at(one_by_one, f"c{k}", batched.watermark - 20) for k in range(5)]
    assert any(at_the_end)


@pytest.mark.parametrize("ask_every", [1, 50, 1000])
def test_camera_index_lists_every_plate_read_within_the_gap(ask_every: int) -> None:
    """However rarely a camera is asked about (between sweeps its lists hold more than the gap), the
    index lists exactly the plates read there within the gap, late reads included."""
    store = RecentReads(600.0, camera_horizon_s=90.0)  # a 30 s gap plus 60 s of lateness
    stored: list[Sighting] = []
    asked = 0
    for i, s in enumerate(_reads(seed=5, late_by=60.0, n=6000)):
        if store.add(s) is None:
            continue  # a redelivery
        stored.append(s)
        if i % ask_every == 0:
            asked += 1
            want = sorted({x.plate for x in stored if x.camera_id == s.camera_id and abs(x.t - s.t) <= 30.0})
            assert _at(store, s.camera_id, s.t) == want, i
    assert asked >= 6


@pytest.mark.parametrize("batched", [False, True])
def test_a_camera_lists_its_plates_within_the_gap_before_any_read_expires(batched: bool) -> None:
    """The first hours after a start, no read is old enough to expire: the camera still lists just
    the plates within the gap (its walk back stops at its 90 s horizon, not at the 4 h one)."""
    store = RecentReads(4 * 3600.0, camera_horizon_s=90.0)  # 4 h of plates, 90 s at each camera
    reads = [Sighting(f"r{i}", f"P{i}", "c1", "s", 51.5, -0.1, 1_700_000_000.0 + 2.0 * i, 0.9) for i in range(1800)]
    if batched:
        for start in range(0, len(reads), 100):
            list(store.add_batch(ReadBatch.of(reads[start:start + 100])))
    else:
        for s in reads:
            store.add(s)
    assert len(store) == 1800  # an hour of reads, all still held for the plate rules
    assert _at(store, "c1", reads[-1].t) == sorted(s.plate for s in reads[-16:])  # within 30 s


def test_a_batch_left_half_way_is_stored_and_the_store_answers_as_of_its_end() -> None:
    """A rule that fails on a read (a bug) leaves the iterator unfinished: the batch is still held,
    expiry has run, and histories are no longer cut at the read being looked at."""
    store = RecentReads(600.0, camera_horizon_s=90.0)
    reads = [Sighting(f"r{i}", "AB12CDE", f"c{i % 2}", "s", 51.5, -0.1, 1_700_000_000.0 + i, 0.9) for i in range(6)]
    batch = store.add_batch(ReadBatch.of(reads), screened=False)
    next(batch)
    batch.close()
    assert len(store) == 6 and store.watermark == reads[-1].t
    assert [s.read_id for s in store.history("AB12CDE")] == [s.read_id for s in reads]
    assert store.partners_at("c0", reads[-1].t, 30.0, limit=16) == {"AB12CDE"}
    late = Sighting("x", "ZZ99ZZZ", "c0", "s", 51.5, -0.1, reads[-1].t - 700, 0.9)
    assert list(store.add_batch(ReadBatch.of([late]))) == [] and store.dropped_late == 1


def test_a_batch_with_a_plate_not_normalised_is_refused_whole_and_the_store_goes_on() -> None:
    """The pipeline normalises every plate first; a caller that does not gets an error, not a
    store that lost track of its free plate slots."""
    store = RecentReads(10_000.0)
    t = 1_700_000_000.0
    for round_number in range(3):
        bad = [Sighting(f"b{round_number}", "AB12CDE", "c0", "s", 51.5, -0.1, t, 0.9),
               Sighting(f"c{round_number}", "ab 12", "c0", "s", 51.5, -0.1, t, 0.9)]
        with pytest.raises(ValueError, match="normalised"):
            list(store.add_batch(ReadBatch.of(bad)))
        assert len(store) == 0 and store.plates == 0
        assert store._free_top == len(store._head)  # every plate slot still free: none lost
    many = [Sighting(f"r{i}", f"P{i}", "c0", "s", 51.5, -0.1, t + i, 0.9) for i in range(3000)]
    list(store.add_batch(ReadBatch.of(many)))
    assert len(store) == 3000 and store.plates == 3000
    assert store._free_top + store.plates == len(store._head)
    assert [s.read_id for s in store.history("P2999")] == ["r2999"]


def test_a_camera_moved_between_batches_keeps_each_read_where_it_was_taken() -> None:
    """Positions are looked up by camera id first (the pipeline's one object per camera); a camera
    whose configured position changes (a new object, same id) must not lend it to older reads."""
    from detectors.plates.sighting import CameraPosition

    before, after = CameraPosition("c1", "s1", 51.5, -0.1), CameraPosition("c1", "s1", 52.5, -1.1)
    store = RecentReads(horizon_s=600.0)
    for n, position in enumerate((before, before, after, after)):
        batch = ReadBatch([f"r{n}"], ["AB12CDE"], [position], [1000.0 + n], [0.9])
        list(store.add_batch(batch, screened=False))
    assert [(s.read_id, s.lat) for s in store.history("AB12CDE")] == [
        ("r0", 51.5), ("r1", 51.5), ("r2", 52.5), ("r3", 52.5)]
