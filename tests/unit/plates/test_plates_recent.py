"""The shared store of recent reads: the batch path must see exactly what read-by-read adds see."""

from __future__ import annotations

import random

from detectors.plates.recent import RecentReads
from detectors.plates.sighting import Sighting


def _reads(seed: int, n: int = 3000) -> list[Sighting]:
    """Few plates (so histories grow), cameras, times mostly rising with late reads and redeliveries."""
    rng = random.Random(seed)
    out: list[Sighting] = []
    t = 1_700_000_000.0
    for i in range(n):
        if out and rng.random() < 0.05:
            out.append(rng.choice(out))  # redelivered
            continue
        t += rng.expovariate(1 / 2.0)
        late = rng.random() < 0.1
        out.append(Sighting(f"r{i}", f"P{rng.randrange(400)}", f"c{rng.randrange(5)}", "s", 51.5, -0.1,
                            t - (rng.uniform(0, 900) if late else 0.0), 0.9))
    return out


def test_add_each_yields_what_add_returns_for_every_read_with_history() -> None:
    for seed in range(5):
        reads = _reads(seed)
        one_by_one, batched = RecentReads(600.0, camera_horizon_s=30.0), RecentReads(600.0, camera_horizon_s=30.0)
        expected = []
        for i, s in enumerate(reads):
            history = one_by_one.add(s)
            if history is not None and len(history) > 1:
                expected.append((i, [x.read_id for x in history]))
        got = [(i, [x.read_id for x in history]) for i, history in batched.add_each(reads)]
        assert got == expected
        assert (batched.duplicates, batched.dropped_late) == (one_by_one.duplicates, one_by_one.dropped_late) != (0, 0)
        one_by_one.prune(batched.watermark)
        assert len(batched) == len(one_by_one) and batched.plates == one_by_one.plates
        for camera in ("c0", "c3"):
            now = batched.watermark
            assert batched.plates_at(camera, now, 30.0)[1:] == one_by_one.plates_at(camera, now, 30.0)[1:]
