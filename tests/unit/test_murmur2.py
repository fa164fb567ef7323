"""The group consumers' murmur2 is aiokafka's, bit for bit: a key's partition depends on it."""

from __future__ import annotations

import random

from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from streams.group_consumer import murmur2


def test_murmur2_hashes_every_key_as_aiokafka_does() -> None:
    rng = random.Random(11)
    keys = [b"", b"a", b"ab", b"abc", b"\xff" * 7, b"watchlist_hit:AB12CDE", b"al-0123456789abcdef"]
    keys += [rng.randbytes(rng.randrange(0, 80)) for _ in range(20_000)]
    keys += [rng.randbytes(length) for length in (1023, 1024, 1025, 5000)]  # past the unpackers kept
    assert [murmur2(key) for key in keys] == [aiokafka_murmur2(key) for key in keys]
    assert murmur2(bytearray(b"watchlist_hit:x")) == aiokafka_murmur2(b"watchlist_hit:x")
