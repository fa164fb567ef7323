"""A Bloom filter over the watchlist's canonical keys, asked for a whole batch of reads at once.

Why: almost no read is listed, yet each lookup in the million-key dict touches two or three
cache lines spread over ~100 MB, and on the worker that evicts what the rest of the hot path
(decoding, the rules, Kafka) needs next. The filter answers "certainly not listed" from one
array of a few MB, two bits per key, in one compiled pass over the batch; only the
reads it lets through (the listed ones and 0.1-0.4% false positives) are looked up in the dict.

Keys are at most ``MAX_PLATE_LEN`` (16) bytes, so each fits two 64-bit words, hashed by the same
arithmetic in numpy (a rebuild), in Python (one key, as entries are added) and in C (asking about
a batch, ``_keyfilter.c``).

>>> f = KeyFilter(expected=1000)
>>> f.add(b"A812C0E")
>>> f.maybe([b"A812C0E", b"X999XXX"])
[0]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import cast

import numpy as np
import numpy.typing as npt

from detectors.plates import _keyfilter as _compiled  # type: ignore[attr-defined]
from detectors.plates.normalise import MAX_PLATE_LEN

_M64 = (1 << 64) - 1
Words = npt.NDArray[np.uint64]
_K1, _K2, _K3 = 0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0xD6E8FEB86659FD93
#: Bits per expected key: with two hash functions, ~0.4% false positives at the expected size.
BITS_PER_KEY = 32
MIN_BITS_LOG2 = 16


def _bits_log2(expected: int) -> int:
    return max(MIN_BITS_LOG2, (max(expected, 1) * BITS_PER_KEY - 1).bit_length())


def _hash_one(key: bytes) -> int:
    words = int.from_bytes(key, "little")  # zero padding to 16 bytes changes nothing, little-endian
    h = ((words & _M64) * _K1 + (words >> 64) * _K2) & _M64
    h ^= h >> 32
    h = (h * _K3) & _M64
    return h ^ (h >> 29)


def _hash_many(keys: Sequence[bytes]) -> Words:
    words = cast(Words, np.array(keys, dtype=f"S{MAX_PLATE_LEN}").view("<u8").reshape(-1, 2))
    with np.errstate(over="ignore"):  # wrapping arithmetic is the point
        h = cast(Words, words[:, 0] * np.uint64(_K1) + words[:, 1] * np.uint64(_K2))
        h ^= h >> np.uint64(32)
        h *= np.uint64(_K3)
        h ^= h >> np.uint64(29)
    return h


class KeyFilter:
    """Bits set for every key added; a key whose two bits are not both set was never added.

    Keys cannot be taken out of a Bloom filter: the owner counts removals and calls
    :meth:`rebuild` when they make up too much of it (see :meth:`stale`), or when it grows past
    the size it was built for (false positives would rise).
    """

    def __init__(self, expected: int = 0) -> None:
        self._size_for(expected)

    def _size_for(self, expected: int) -> None:
        """Empty, with room for ``expected`` keys (~0.4% false positives when that full)."""
        self._log2 = _bits_log2(expected)
        # A bytearray for one-key adds (numpy scalar indexing costs ~10x more); numpy views it for batches.
        self._bits = bytearray(1 << (self._log2 - 3))
        self._array = np.frombuffer(self._bits, dtype=np.uint8)
        self._capacity = (1 << self._log2) // BITS_PER_KEY
        self.added = 0
        self.removed = 0

    def _positions(self, h: int) -> tuple[int, int]:
        shift = 64 - self._log2
        return h >> shift, (h >> (shift - self._log2)) & ((1 << self._log2) - 1)

    def add(self, key: bytes) -> None:
        bits = self._bits
        for position in self._positions(_hash_one(key)):
            bits[position >> 3] |= 1 << (position & 7)
        self.added += 1

    def note_removed(self) -> None:
        """Count a key that left (its bits stay: they may be another key's too)."""
        self.removed += 1

    @property
    def stale(self) -> bool:
        """Whether removals or growth have made the filter worth rebuilding."""
        live = self.added - self.removed
        return live > self._capacity or self.removed > max(live, 1_000) // 2

    def _positions_many(self, keys: Sequence[bytes]) -> tuple[Words, Words]:
        """``_positions`` of each key, as two arrays."""
        h = _hash_many(keys)
        shift, log2 = np.uint64(64 - self._log2), np.uint64(self._log2)
        return h >> shift, (h >> (shift - log2)) & np.uint64((1 << self._log2) - 1)

    def rebuild(self, keys: Iterable[bytes]) -> None:
        """Start again from exactly these keys, sized for twice as many (room to grow)."""
        keys = list(keys)
        self._size_for(2 * len(keys))
        if keys:
            for positions in self._positions_many(keys):
                np.bitwise_or.at(self._array, positions >> np.uint64(3),
                                 np.left_shift(1, positions & np.uint64(7)).astype(np.uint8))
        self.added = len(keys)

    def maybe(self, keys: Sequence[bytes]) -> list[int]:
        """Indexes in ``keys`` of those that may have been added (all that were, a few that were not)."""
        return [i for i, _ in self.maybe_joined(b"\n".join(keys))] if keys else []

    def maybe_joined(self, joined: bytes) -> list[tuple[int, bytes]]:
        """:meth:`maybe` for keys joined by ``b"\\n"``, in one compiled pass (``_keyfilter.c``): (index, key) pairs.

        >>> f = KeyFilter(expected=1000)
        >>> f.add(b"A812C0E")
        >>> f.maybe_joined(b"X999XXX\\nA812C0E")
        [(1, b'A812C0E')]
        """
        if not joined:
            return []
        return _compiled.maybe(joined, self._bits, self._log2)
