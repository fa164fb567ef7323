"""Which slot the held reads' store gave each plate: an open-addressing table probed in compiled loops (C).

The store (``detectors.plates.recent``) looks up the plate of every read it takes in. A Python
dict of plate strings did that in ~0.9 us a read at a full window: each fresh string is hashed
and compared against a key hours old, three cache misses a read (measured 2026-12-04). Here a
normalised plate (``A-Z0-9``, at most 16 characters) is two 64-bit words, eight characters each
in base 37 with digits 1..36, so distinct plates get distinct words; a batch of plates is
packed, looked up and inserted in one compiled pass (``_platetable.c``). Plates leave by backward-shift
deletion: no tombstones, so the table never needs a rebuild to stay fast, only to grow.

>>> table = PlateTable()
>>> keys = plate_keys(["AB12CDE", "XY99ZZZ", "AB12CDE"])
>>> table.hold(keys, np.array([7, 8, 9])).tolist()  # the second AB12CDE finds slot 7
[7, 8, 7]
>>> table.get("AB12CDE"), table.get("NOTHELD"), len(table)
(7, -1, 2)
>>> table.remove(keys[:1]); table.get("AB12CDE"), len(table)
(-1, 1)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from detectors.plates.normalise import MAX_PLATE_LEN

try:
    from detectors.plates import _platetable as _compiled  # type: ignore[attr-defined]
except ImportError as error:  # a source tree that was never installed
    raise ImportError("watchfloor's compiled plate table (detectors/plates/_platetable.c) is not built: "
                      "run `make venv` or `pip install -e .` (needs a C compiler)") from error

_EMPTY = -1
#: The table grows (doubles) before more than this share of its places is taken.
_MAX_LOAD = 0.5


class NotAPlate(ValueError):
    """A plate that is not normalised (``A-Z0-9``, 1..16 characters): it has no key."""


def plate_keys(plates: list[str]) -> npt.NDArray[np.int64]:
    """The two key words of each normalised plate, shape ``(len(plates), 2)``; raises :class:`NotAPlate`."""
    keys = np.empty((len(plates), 2), np.int64)
    if not plates:
        return keys
    try:
        joined = " ".join(plates).encode("ascii")
    except UnicodeEncodeError:
        raise NotAPlate("plates must be normalised (A-Z, 0-9)") from None
    if not _compiled.pack(joined, keys):
        raise NotAPlate(f"plates must be normalised (A-Z, 0-9, 1 to {MAX_PLATE_LEN} characters)")
    return keys


class PlateTable:
    """Plate key -> slot (an int the caller chooses): see the module docstring."""

    def __init__(self, capacity: int = 1024) -> None:
        size = 1 << max(4, (capacity - 1).bit_length())
        self._places = self._empty(size)
        self._len = 0

    @staticmethod
    def _empty(size: int) -> npt.NDArray[np.int64]:
        """``size`` empty places: a row each of the key's two words and its slot (one cache line a probe)."""
        places = np.zeros((size, 3), np.int64)
        places[:, 2] = _EMPTY
        return places

    def __len__(self) -> int:
        return self._len

    def hold(self, keys: npt.NDArray[np.int64], offered: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The slot of each key (from :func:`plate_keys`); a key not held yet takes its ``offered`` slot."""
        if (self._len + len(keys)) > _MAX_LOAD * len(self._places):
            self._grow(self._len + len(keys))
        slots = np.empty(len(keys), np.int64)
        self._len += _compiled.hold(self._places, np.ascontiguousarray(keys, np.int64),
                                    np.ascontiguousarray(offered, np.int64), slots)
        return slots

    def get(self, plate: str) -> int:
        """``plate``'s slot, or -1 if it is not held (or not a normalised plate, which never is)."""
        try:
            (key,) = plate_keys([plate])
        except NotAPlate:
            return _EMPTY
        return int(_compiled.find(self._places, int(key[0]), int(key[1])))

    def remove(self, keys: npt.NDArray[np.int64]) -> None:
        """Forget ``keys`` (those not held are skipped)."""
        self._len -= _compiled.remove(self._places, np.ascontiguousarray(keys, np.int64))

    def _grow(self, needed: int) -> None:
        size = len(self._places)
        while needed > _MAX_LOAD * size:
            size *= 2
        old, self._places = self._places, self._empty(size)
        _compiled.rehash(old, self._places)
