"""Who was read together with whom: the reads at each camera in the last few seconds.

The convoy rule needs, for a pair of plates, every camera where both were read within
``max_gap_s`` of each other. With several workers the two plates' reads are on partitions of
different workers, so the camera-keyed stage pairs each read with the reads just before or after
it at its camera, and sends the pairs on by plate (see ``streams.anpr_pipeline``). This is that
pairing, kept free of Kafka: one short sorted list per camera.

>>> pairing = CameraPairing(max_gap_s=10, lateness_s=60, max_partners=4)
>>> pairing.pair("AAA111", "c1", 100.0, "read-1")
[]
>>> pairing.pair("BBB222", "c1", 104.0, "read-2")
[('AAA111', 'read-1')]
>>> pairing.pair("CCC333", "c1", 130.0, "read-3")  # 26 s later: nobody near
[]
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Generic, TypeVar

Item = TypeVar("Item")


class _Camera(Generic[Item]):
    __slots__ = ("entries", "times")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.entries: list[tuple[str, Item]] = []  # parallel to times: (plate, item)


class CameraPairing(Generic[Item]):
    """Pairs each read with the reads of other plates within ``max_gap_s`` of it at its camera.

    A camera keeps ``max_gap_s + lateness_s`` behind its newest read, so a read up to
    ``lateness_s`` late still meets the reads around its own time. At most ``max_partners``
    partners are returned, the nearest in time (bounded cost per read at a busy camera, as in
    ``ConvoyRule``). Each pair is returned once, to whichever of its two reads arrives second.
    """

    def __init__(self, max_gap_s: float, lateness_s: float, max_partners: int) -> None:
        self.max_gap_s = max_gap_s
        self.horizon_s = max_gap_s + lateness_s
        self.max_partners = max_partners
        self._cameras: dict[str, _Camera[Item]] = {}

    def __len__(self) -> int:
        """Reads held."""
        return sum(len(camera.times) for camera in self._cameras.values())

    def pair(self, plate: str, camera_id: str, t: float, item: Item) -> list[tuple[str, Item]]:
        """Hold ``item`` (a read of ``plate``); return ``(plate, item)`` of the other plates read near it."""
        camera = self._cameras.get(camera_id)
        if camera is None:
            camera = self._cameras[camera_id] = _Camera()
        times, entries = camera.times, camera.entries
        at = bisect_right(times, t)
        partners = self._nearest(times, entries, at, t, plate)
        if at == len(times):
            times.append(t)
            entries.append((plate, item))
        else:  # a late read: sorted in
            times.insert(at, t)
            entries.insert(at, (plate, item))
        cutoff = times[-1] - self.horizon_s
        if times[0] < cutoff:
            k = bisect_left(times, cutoff)
            del times[:k]
            del entries[:k]
        return partners

    def _nearest(self, times: list[float], entries: list[tuple[str, Item]], at: int, t: float, plate: str
                 ) -> list[tuple[str, Item]]:
        """Other plates' entries within the gap of ``t``: all of them in time order or, if there are
        more than ``max_partners``, that many nearest first, walking out from ``at``.

        Why walk: a busy camera holds hundreds of reads within the gap, and only the nearest
        ``max_partners`` are wanted; this costs per partner, not per read held.
        """
        gap, wanted = self.max_gap_s, self.max_partners
        lo, hi = bisect_left(times, t - gap, hi=at), bisect_right(times, t + gap, lo=at)
        if hi - lo <= wanted:  # the common case: a few reads near, all of them partners
            return [entry for entry in entries[lo:hi] if entry[0] != plate]
        left, right, count = at - 1, at, len(times)
        partners: list[tuple[str, Item]] = []
        while len(partners) < wanted:
            before = t - times[left] if left >= 0 else gap + 1
            after = times[right] - t if right < count else gap + 1
            if before <= after:
                if before > gap:
                    break
                k, left = left, left - 1
            else:
                if after > gap:
                    break
                k, right = right, right + 1
            if entries[k][0] != plate:
                partners.append(entries[k])
        return partners

    def prune(self, now: float) -> None:
        """Forget cameras with no read within the horizon of ``now`` (retention on a quiet camera)."""
        cutoff = now - self.horizon_s
        for camera_id in [c for c, camera in self._cameras.items() if camera.times[-1] < cutoff]:
            del self._cameras[camera_id]
