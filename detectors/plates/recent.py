"""Recent reads, shared by the plate rules: one store, one dedupe, one pruning queue per read.

The three rules all need "the recent reads of this plate"; the convoy rule also needs "the
reads at this camera in the last few seconds". Keeping that once (instead of once per rule)
is what makes all rules together cost a few microseconds per read.

Retention: a read stays until it falls ``horizon_s`` behind the newest event time seen (the
watermark), where ``horizon_s`` is the longest rule window plus the allowed lateness, which
``PlatesConfig`` keeps within ``retention.non_hit_read_retention_s``.

>>> from detectors.plates.sighting import Sighting
>>> store = RecentReads(horizon_s=600.0)
>>> [s.read_id for s in store.add(Sighting("r1", "AB12CDE", "c1", "s1", 0, 0, 1000.0, 0.9))]
['r1']
>>> store.add(Sighting("r1", "AB12CDE", "c1", "s1", 0, 0, 1000.0, 0.9)) is None  # duplicate
True
>>> [s.read_id for s in store.add(Sighting("r0", "AB12CDE", "c2", "s1", 0, 0, 900.0, 0.9))]  # late: sorted in
['r0', 'r1']
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Iterator, Sequence

from msgspec.structs import force_setattr

from detectors.plates.sighting import Sighting


def _t(s: Sighting) -> float:
    return s.t


class _CameraRecent:
    __slots__ = ("plates", "times")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.plates: list[str] = []  # parallel to times

    def add(self, t: float, plate: str) -> None:
        times = self.times
        if not times or times[-1] <= t:
            times.append(t)
            self.plates.append(plate)
        else:
            self.insert(t, plate)

    def insert(self, t: float, plate: str) -> None:
        """Sort in a read that came after a newer one at this camera (a late read)."""
        i = bisect_right(self.times, t)
        self.times.insert(i, t)
        self.plates.insert(i, plate)


class RecentReads:
    """Recent sightings by plate (sorted by event time) and, optionally, by camera.

    ``camera_horizon_s`` (None = not kept) is how much history the per-camera index keeps behind
    each camera's newest read; the convoy rule needs ``max_gap_s`` plus lateness.
    """

    def __init__(self, horizon_s: float, camera_horizon_s: float | None = None) -> None:
        self.horizon_s = horizon_s
        self.camera_horizon_s = camera_horizon_s
        self.watermark = -math.inf
        # A plate's one read is held as itself, and only a second read makes it a list: most plates
        # are read once in a window, and a list per plate (a GC-tracked object) cost ~1 us a read
        # in collections with a few hundred thousand reads held.
        self._by_plate: dict[str, Sighting | list[Sighting]] = {}
        # Per camera, its reads' times and plates, sorted as they arrive: one comparison and two
        # appends a read, as reads come in time order at a camera. Why not sort lazily, when the
        # convoy rule asks: folding a camera's waiting reads in then touched each of them again,
        # by then out of cache, and cost ~0.3 us a read (measured 2026-11-25).
        self._cameras: dict[str, _CameraRecent] = {}
        # The sightings themselves, not (t, plate) tuples: they are not tracked by the cyclic GC,
        # and a tracked object per held read made collections cost ~1 us a read at 200k reads held.
        self._queue: deque[Sighting] = deque()
        # When the camera lists are next trimmed (event time): on the watermark, not only when reads
        # expire, so they stay short in the hours before the first read falls behind the horizon.
        self._next_sweep = -math.inf if camera_horizon_s is not None else math.inf
        self.dropped_late = 0
        self.duplicates = 0

    def __len__(self) -> int:
        """Reads currently held."""
        return len(self._queue)

    @property
    def plates(self) -> int:
        """Distinct plates currently held."""
        return len(self._by_plate)

    def add(self, s: Sighting) -> list[Sighting] | None:
        """Store ``s``; return its plate's history (sorted, including ``s``).

        Returns None, and stores nothing, for a read id already held (``duplicates``) or a read
        older than the watermark minus the horizon (``dropped_late``). Do not mutate the list.
        """
        t = s.t
        if t < self.watermark - self.horizon_s:
            self.dropped_late += 1
            return None
        held = self._by_plate.setdefault(s.plate, s)
        if held is s:
            hist = [s]  # not kept: see _by_plate
        else:
            found = self._add_to_held(s, held)
            if found is None:
                return None
            hist = found
        self._index(s)
        if t > self.watermark:
            self.watermark = t
            if self._queue[0].t < t - self.horizon_s or t >= self._next_sweep:
                self._prune()
        return hist

    def add_each(self, sightings: Sequence[Sighting]) -> Iterator[tuple[int, list[Sighting]]]:
        """``add`` each of ``sightings`` in order; yield ``(index, history)`` for those whose plate had reads held.

        Only those reads can complete a rule (every rule needs two reads of a plate or more). Each is
        yielded before the next read is added, so its history is what ``add`` would have returned.
        Why: most reads are their plate's first in the window, and here that costs one dict call,
        not a call to ``add``.
        """
        hold = self._by_plate.setdefault
        queue, horizon = self._queue, self.horizon_s
        # The camera index inline (see _index): this loop runs once per read.
        cameras = self._cameras if self.camera_horizon_s is not None else None
        for i, s in enumerate(sightings):
            t = s.t
            if t < self.watermark - horizon:
                self.dropped_late += 1
                continue
            held = hold(s.plate, s)
            hist = None  # the plate's first read: nothing for the rules yet
            if held is not s:
                hist = self._add_to_held(s, held)
                if hist is None:
                    continue  # a duplicate
            queue.append(s)
            if cameras is not None:
                camera = cameras.get(s.camera_id)
                if camera is None:
                    camera = cameras[s.camera_id] = _CameraRecent()
                times = camera.times  # camera.add(t, s.plate), inline
                if not times or times[-1] <= t:
                    times.append(t)
                    camera.plates.append(s.plate)
                else:
                    camera.insert(t, s.plate)
            if t > self.watermark:  # as in add: prune as the watermark moves, so histories match
                self.watermark = t
                if queue[0].t < t - horizon or t >= self._next_sweep:
                    self._prune()
            if hist is not None and len(hist) > 1:  # not if pruning just took the plate's older reads
                yield i, hist

    def _add_to_held(self, s: Sighting, held: Sighting | list[Sighting]) -> list[Sighting] | None:
        """Add ``s`` to its plate's held reads; the new history, or None for a duplicate.

        The plate's reads share one plate string (``s`` gets its held reads' one): each read is
        decoded with its own copy, 64 bytes a held read, and half the reads in a full window are
        of a plate already held. The struct is frozen for the rules; swapping in an equal string
        is the one change made to it, and nothing can tell.
        """
        t = s.t
        if isinstance(held, Sighting):
            if held.t == t and held.read_id == s.read_id:
                self.duplicates += 1
                return None
            force_setattr(s, "plate", held.plate)
            hist = self._by_plate[s.plate] = [held, s] if held.t <= t else [s, held]
            return hist
        last = held[-1]
        force_setattr(s, "plate", last.plate)
        if last.t < t:
            # The common case: newer than anything held for the plate, so it cannot be a duplicate
            # (a redelivered read carries the same event time as its twin).
            held.append(s)
            return held
        i = bisect_left(held, t, key=_t)
        read_id = s.read_id
        for other in held[i:]:
            if other.t != t:
                break
            if other.read_id == read_id:
                self.duplicates += 1
                return None
        insort(held, s, key=_t)
        return held

    def _index(self, s: Sighting) -> None:
        """Queue ``s`` for pruning and, if kept, index it by camera."""
        self._queue.append(s)
        if self.camera_horizon_s is not None:
            camera = self._cameras.get(s.camera_id)
            if camera is None:
                camera = self._cameras[s.camera_id] = _CameraRecent()
            camera.add(s.t, s.plate)

    @property
    def camera_index_size(self) -> int:
        """Reads held in the camera index."""
        return sum(len(cam.times) for cam in self._cameras.values())

    def history(self, plate: str) -> list[Sighting]:
        """The held sightings of ``plate``, sorted by event time (empty if none)."""
        held = self._by_plate.get(plate)
        if held is None:
            return []
        return [held] if isinstance(held, Sighting) else held

    def plates_at(self, camera_id: str, t: float, gap_s: float) -> tuple[list[float], list[str], int, int]:
        """Reads at ``camera_id`` within ``gap_s`` of ``t``: ``(times, plates, lo, hi)`` slice bounds."""
        cam = self._cameras.get(camera_id)
        if cam is None:
            return [], [], 0, 0
        times = cam.times
        return times, cam.plates, bisect_left(times, t - gap_s), bisect_right(times, t + gap_s)

    def prune(self, now: float) -> None:
        """Advance the watermark to ``now`` (if later) and drop what fell behind the horizon."""
        if now > self.watermark:
            self.watermark = now
        self._prune()

    def _prune(self) -> None:
        cutoff = self.watermark - self.horizon_s
        queue, by_plate = self._queue, self._by_plate
        while queue and queue[0].t < cutoff:
            plate = queue.popleft().plate
            hist = by_plate.get(plate)
            if hist is None:
                continue
            if isinstance(hist, Sighting):
                if hist.t < cutoff:
                    del by_plate[plate]
            elif hist[-1].t < cutoff:
                del by_plate[plate]
            elif hist[0].t < cutoff:
                k = 0
                while hist[k].t < cutoff:
                    k += 1
                del hist[:k]
        cam_horizon = self.camera_horizon_s
        if cam_horizon is None or self.watermark < self._next_sweep:
            return
        # Camera lists only need cam_horizon of history: trimmed in a sweep once per that much
        # event time, so the per-read cost stays flat (bisect does not mind the extra entries).
        # Behind each camera's own newest read, not the watermark: a partition drained behind the
        # others (catching up) brings its cameras' reads minutes behind the watermark, in order.
        self._next_sweep = self.watermark + cam_horizon
        for cam_id in list(self._cameras):
            cam = self._cameras[cam_id]
            if cam.times[-1] < cutoff:  # nothing from this camera the rules still hold
                del self._cameras[cam_id]
                continue
            k = bisect_left(cam.times, cam.times[-1] - cam_horizon)
            if k:
                del cam.times[:k]
                del cam.plates[:k]
