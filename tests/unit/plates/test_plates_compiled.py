"""The store's compiled loops refuse what they were not built for, with an error, not a crash."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.plates import _recent
from detectors.plates.recent import _PLATE, _ROW, RecentReads
from detectors.plates.sighting import CameraPosition, ReadBatch, Sighting

POSITIONS = [CameraPosition("c1", "s1", 51.5, -0.1)]


def _arrays(**changed: object) -> tuple[object, ...]:
    """A one-read batch into an empty store, as RecentReads._append passes it; ``changed`` swaps arrays."""
    arrays = {
        "times": np.array([1.0]), "slots": np.array([0]), "cameras": np.array([0], np.int32),
        "confidences": np.array([0.9]), "rows": np.empty(4, _ROW), "plates": np.full(2, -1, _PLATE),
        "numbers": np.array([0]), "heads": np.array([-1]), "out_rows": np.empty(1, np.int64),
        "look": np.empty(1, np.bool_),
    }
    arrays["plates"]["count"] = 0
    arrays.update(changed)
    return tuple(arrays.values())


def _append(arrays: tuple[object, ...], ids: list[str] | None = None) -> tuple[int, int]:
    return _recent.append(arrays, [], ids or ["r1"], 0, 0, 0, True, -1, 0, 0.0)


def test_a_well_formed_batch_is_taken_in() -> None:
    arrays = _arrays()
    assert _append(arrays) == (1, 0)
    assert arrays[4][0]["t"] == 1.0 and arrays[5][0]["count"] == 1


@pytest.mark.parametrize(("name", "array", "error"), [
    ("times", np.array([1.0], np.float32), TypeError),  # a float32 column: wrong dtype
    ("cameras", np.array([0], np.int64), TypeError),
    ("rows", np.empty(4, np.float64), TypeError),  # not row records
    ("slots", np.array([5]), IndexError),  # a slot the plates do not have
    ("cameras", np.array([3], np.int32), IndexError),  # a camera position not held
    ("rows", np.empty(0, _ROW), ValueError),  # no room for the read
    ("look", np.empty(2, np.bool_), ValueError),  # outputs not one a read
])
def test_append_rejects_a_malformed_call_before_changing_anything(name: str, array: object, error: type) -> None:
    arrays = _arrays(**{name: array})
    with pytest.raises(error):
        _append(arrays)
    plates = arrays[5]
    assert (plates["count"] == 0).all()


def test_history_and_partners_refuse_a_chain_that_leads_outside_the_rows() -> None:
    rows = np.zeros(2, _ROW)
    with pytest.raises(IndexError):
        _recent.history(rows, 7, 7, 0, 0, 0.0, 0.0, 0, -1, None, ["a", "b"], POSITIONS, "AB12CDE", Sighting)
    with pytest.raises(IndexError):
        _recent.partners(rows, np.zeros(1, _PLATE), 7, 7, 0, 0, 0.0, 10.0, -1.0, 0)


def test_the_store_still_works_after_a_refused_call() -> None:
    store = RecentReads(600.0, camera_horizon_s=60.0)
    s = Sighting("r1", "AB12CDE", "c1", "s1", 51.5, -0.1, 1000.0, 0.9)
    with pytest.raises(ValueError):  # a batch whose confidences are not numbers
        list(store.add_batch(ReadBatch(["r1"], ["AB12CDE"], POSITIONS, [1000.0], ["high"])))
    assert [x.read_id for x in store.add(s) or []] == ["r1"]
