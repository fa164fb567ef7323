"""Finding where the last hours of a partition start: the search a state rebuild runs before it reads.

Each probe is a fetch, so the tests count them as well as check the answer against a scan.
"""

from __future__ import annotations

import asyncio
import math
import random
from bisect import bisect_left

import pytest

from streams.clients import search_first_offset_at


class Partition:
    """Records at ``offsets`` (sorted, maybe with gaps) stamped ``stamps``; counts the probes."""

    def __init__(self, offsets: list[int], stamps: list[int]) -> None:
        self.offsets, self.stamps = offsets, stamps
        self.probes = 0

    async def probe(self, offset: int) -> tuple[int, int] | None:
        self.probes += 1
        i = bisect_left(self.offsets, offset)
        return (self.offsets[i], self.stamps[i]) if i < len(self.offsets) else None

    def search(self, timestamp_ms: int) -> int:
        end = self.offsets[-1] + 1
        return asyncio.run(search_first_offset_at(self.probe, timestamp_ms, self.offsets[0], end, self.stamps[-1]))

    def scan(self, timestamp_ms: int) -> int:
        return next((o for o, t in zip(self.offsets, self.stamps, strict=True) if t >= timestamp_ms),
                    self.offsets[-1] + 1)

    def read_from(self, offset: int) -> int:
        """The offset of the first record a reader seeking to ``offset`` gets (past the end if none)."""
        i = bisect_left(self.offsets, offset)
        return self.offsets[i] if i < len(self.offsets) else self.offsets[-1] + 1


def steady(n: int, rng: random.Random) -> Partition:
    """Reads at a steady rate with jitter: ~100 ms apart."""
    stamps, t = [], 1_700_000_000_000
    for _ in range(n):
        t += rng.randint(50, 150)
        stamps.append(t)
    return Partition(list(range(n)), stamps)


def bursty(n: int, rng: random.Random) -> Partition:
    """Rush hours and quiet nights: bursts of reads 10 ms apart between gaps of up to an hour."""
    stamps, t = [], 1_700_000_000_000
    for _ in range(n):
        t += 10 if rng.random() < 0.95 else rng.randint(60_000, 3_600_000)
        stamps.append(t)
    return Partition(list(range(n)), stamps)


@pytest.mark.parametrize("shape", [steady, bursty])
def test_the_answer_is_the_first_record_at_or_after_the_time(shape: object) -> None:
    rng = random.Random(7)
    for n in (1, 2, 3, 50, 5_000):
        partition = shape(n, rng)  # type: ignore[operator]
        first, last = partition.stamps[0], partition.stamps[-1]
        for target in [first - 1, first, last, last + 1, *(rng.randint(first, last) for _ in range(30))]:
            assert partition.search(target) == partition.scan(target), (n, target)


def test_gaps_in_the_offsets_are_stepped_over() -> None:
    """Compacted or transactional topics leave offsets with no record; a probe lands on the next one."""
    rng = random.Random(3)
    offsets = sorted(rng.sample(range(100_000), 2_000))
    partition = Partition(offsets, [1_000 * i for i in range(len(offsets))])
    for target in (-1, 0, 1, 999, 1_000, 1_500_000, 1_999_000, 1_999_001):
        assert partition.read_from(partition.search(target)) == partition.scan(target), target


def test_a_steady_feed_takes_half_the_probes_of_a_bisection_or_fewer() -> None:
    partition = steady(1_000_000, random.Random(5))  # a bisection: 20 probes
    for back_s in (60, 3600, 4 * 3600, 20 * 3600):  # four hours back is ~14% of the partition
        partition.probes = 0
        start = partition.stamps[-1] - back_s * 1000
        assert partition.search(start) == partition.scan(start)
        assert partition.probes <= 10, (back_s, partition.probes)


def test_a_partition_all_within_the_span_takes_two_probes() -> None:
    """A worker restarted soon after the topic was created reads all of it: found at once."""
    partition = steady(1_000_000, random.Random(2))
    assert partition.search(partition.stamps[0] - 1) == 0
    assert partition.probes == 2


def test_bursts_cost_at_most_about_twice_a_bisection() -> None:
    """95% of reads 10 ms apart, the rest after up to an hour: a straight line guesses badly here."""
    partition = bursty(1_000_000, random.Random(9))
    for target in random.Random(1).sample(partition.stamps, 20):
        partition.probes = 0
        assert partition.search(target) == partition.scan(target)
        assert partition.probes <= 2 * math.ceil(math.log2(1_000_000)) + 2, partition.probes


def test_no_answer_from_the_broker_starts_at_the_low_end() -> None:
    """Reading more than the span is safe; starting late would lose rule state."""
    async def silent(offset: int) -> tuple[int, int] | None:
        return None

    assert asyncio.run(search_first_offset_at(silent, 5_000, 10, 1_000, 9_000)) == 10
