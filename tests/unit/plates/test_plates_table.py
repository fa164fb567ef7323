"""The held reads' plate table (compiled): the same answers as a dict, under heavy churn."""

from __future__ import annotations

import random

import numpy as np
import pytest

from detectors.plates.platetable import NotAPlate, PlateTable, plate_keys

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def random_plates(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 16))) for _ in range(count)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_table_answers_as_a_dict_would_through_inserts_removals_and_growth(seed: int) -> None:
    rng = random.Random(seed)
    # A small pool in a small table: long probe runs that wrap around the end, so removal's
    # backward shift is exercised at the edge; growth starts from the smallest table.
    pool = [*random_plates(rng, 3000), "A", "AA", "AAA", "0", "Z" * 16, "A" * 8, "A" * 9]
    table, expected, next_slot = PlateTable(16), {}, 0
    for step in range(2000):
        batch = [rng.choice(pool) for _ in range(rng.randint(1, 60))]
        offered = np.arange(next_slot, next_slot + len(batch))
        next_slot += len(batch)
        slots = table.hold(plate_keys(batch), offered).tolist()
        assert slots == [expected.setdefault(plate, slot) for plate, slot in zip(batch, offered.tolist(), strict=True)]
        leaving = rng.sample(sorted(expected), min(len(expected), rng.randint(0, 60)))
        not_held = [plate for plate in rng.sample(pool, 3) if plate not in expected]
        table.remove(plate_keys([*leaving, *not_held]))  # plates not held are skipped
        for plate in leaving:
            del expected[plate]
        assert len(table) == len(expected), step
        for plate in rng.sample(pool, 30):
            assert table.get(plate) == expected.get(plate, -1)


def test_distinct_plates_get_distinct_keys() -> None:
    plates = sorted({*random_plates(random.Random(5), 50_000), "A", "AA", "A" * 8, "A" * 9, "A" * 16, "9" * 16})
    keys = plate_keys(plates)
    assert len({(int(a), int(b)) for a, b in keys}) == len(plates)
    assert plate_keys(["AB12CDE", "AB12CDE"]).tolist()[0] == plate_keys(["AB12CDE"]).tolist()[0]


@pytest.mark.parametrize("plate", ["", "ab12cde", "AB12 CDE", "AB-12", "A" * 17, "ÄB12"])
def test_a_plate_not_normalised_has_no_key_and_is_never_held(plate: str) -> None:
    with pytest.raises(NotAPlate):
        plate_keys(["AB12CDE", plate])
    table = PlateTable()
    table.hold(plate_keys(["AB12CDE"]), np.array([3]))
    assert table.get(plate) == -1
    assert table.get("AB12CDE") == 3
