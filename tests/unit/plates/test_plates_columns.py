"""A batch's columns from read records (compiled): what the Python steps they replace gave."""

from __future__ import annotations

import random

import pytest

from detectors.plates.normalise import normalise_plates
from detectors.plates.sighting import CameraPosition, read_columns
from schemas.anpr import PlateReadRecord

CAMERAS = {f"c{k}": CameraPosition(f"c{k}", "s", 51.5, -0.1) for k in range(3)}
ODD_PLATES = ["ab12cde", "AB 12 CDE", "ab-12", "ＡＢ12ＣＤＥ", "É12", "A" * 16, "A" * 17, "--", "Ab1\n2",
              "ab12cdeFGHIJKLMNO"]


@pytest.mark.parametrize("seed", range(3))
def test_columns_are_the_records_fields_with_plain_plates_normalised_and_cameras_looked_up(seed: int) -> None:
    rng = random.Random(seed)
    reads = [PlateReadRecord(read_id=f"r{i}", plate=rng.choice([*ODD_PLATES, "AB12CDE", "XY99ZZZ"]),
                             confidence=rng.random(), camera_id=rng.choice([*CAMERAS, "unknown"]),
                             event_time=1.7e9 + i) for i in range(300)]
    read_ids, plates, positions, times, confidences, odd = read_columns(reads, CAMERAS)
    assert read_ids == [r.read_id for r in reads]
    assert times == [r.event_time for r in reads] and confidences == [r.confidence for r in reads]
    assert positions == [CAMERAS.get(r.camera_id) for r in reads]
    # Plain plates come back as the normaliser makes them; every other plate is left to it (None).
    normalised = normalise_plates([r.plate for r in reads])
    assert [p for p in plates if p is not None] == [n for p, n in zip(plates, normalised, strict=True) if p is not None]
    assert [r.plate for r, p in zip(reads, plates, strict=True) if p is None] == [
        r.plate for r in reads if not (r.plate.isascii() and r.plate.isalnum() and len(r.plate) <= 16)]
    assert odd == plates.count(None) + positions.count(None) > 0
    plain = [r for r in reads if r.plate == "AB12CDE"]
    assert plain and all(p is r.plate for r, p in zip(reads, plates, strict=True) if r in plain)  # no copy


def test_columns_of_no_reads_and_a_record_without_the_fields() -> None:
    assert read_columns([], CAMERAS) == ([], [], [], [], [], 0)
    with pytest.raises(AttributeError):
        read_columns([object()], CAMERAS)  # type: ignore[list-item]
