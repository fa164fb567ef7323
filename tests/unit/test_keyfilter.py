"""The watchlist's Bloom filter: never a false "not listed", few false "maybe", right after any change."""

from __future__ import annotations

import random

from detectors.plates.keyfilter import KeyFilter
from detectors.plates.watchlist import WatchlistEntry, WatchlistIndex
from streams.simulate import uk_plate


def _keys(n: int, seed: int) -> list[bytes]:
    index, rng = WatchlistIndex(), random.Random(seed)
    return list({index.canonical_key(uk_plate(rng)) for _ in range(n)})


def test_every_added_key_passes_and_few_others_do() -> None:
    listed = _keys(50_000, seed=1)
    others = list(set(_keys(50_000, seed=2)) - set(listed))
    for built in (KeyFilter(len(listed)), KeyFilter()):
        for key in listed:  # one by one, as entries arrive (the second one outgrows its size)
            built.add(key)
        if built.stale:
            built.rebuild(listed)
        assert built.maybe(listed) == list(range(len(listed)))
        assert len(built.maybe(others)) / len(others) < 0.005


def test_one_key_adds_and_a_rebuild_set_the_same_bits() -> None:
    keys = _keys(5_000, seed=3)
    rebuilt, added = KeyFilter(), KeyFilter(2 * len(keys))
    rebuilt.rebuild(keys)
    for key in keys:
        added.add(key)
    assert rebuilt.maybe(keys) == added.maybe(keys) == list(range(len(keys)))
    assert bytes(rebuilt._bits) == bytes(added._bits)


def test_stale_after_many_removals_or_growth() -> None:
    keys = _keys(3_000, seed=4)
    f = KeyFilter()
    f.rebuild(keys)
    assert not f.stale
    for _ in range(2_000):
        f.note_removed()
    assert f.stale
    grown = KeyFilter(100)  # the smallest size: room for 2,048 keys
    for key in keys:
        grown.add(key)
    assert grown.stale


def test_the_index_matches_exactly_its_entries_through_growth_and_removals() -> None:
    rng = random.Random(5)
    plates = sorted({uk_plate(rng) for _ in range(20_000)})
    index = WatchlistIndex()
    for plate in plates:  # the filter is resized several times on the way
        index.add(WatchlistEntry(plate=plate, reason="test"))
    removed, kept = plates[::3], [p for i, p in enumerate(plates) if i % 3]
    for plate in removed:
        assert index.remove(plate)
    found = index.match_many(plates, [0.95] * len(plates), [0.0] * len(plates))
    assert {plates[i] for i, m in found.items() if m.kind == "exact"} == set(kept)
    assert {m.entry.plate for m in found.values()} <= set(kept)  # a removed entry never matches
