"""Recent reads, shared by the plate rules: one store, one dedupe, one expiry for every read.

The three rules all need "the recent reads of this plate"; the convoy rule also needs "the
reads at this camera in the last few seconds". Keeping that once (instead of once per rule)
is what makes all rules together cost a few microseconds per read.

Held in columns, not objects: a row per read (event time, plate slot, camera, confidence, the
plate's previous read in event time, the camera's previous read in arrival order) in numpy arrays
in arrival order, the read ids in a list beside them. A worker holds ~1.5M reads at a full
window, nearly all of plates seen once or twice at their one camera: storing, screening and
expiring them are a few vectorised passes a batch, and a :class:`Sighting` is built only for the
reads a rule has to look at (see :class:`Screen`).
Why: with a struct per read, the work a read grew with the reads held (cache misses on hours-old
objects): 2.5 us a read at 100k held, 7-10 us at a full window (measured 2026-12-04).

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
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from detectors.plates.platetable import PlateTable, plate_keys
from detectors.plates.sighting import CameraPosition, ReadBatch, Sighting

_NO_READ = -1
_EXPIRY_SCAN = 4096
"""Rows looked at a step when finding where expiry stops: about what a few batches expire."""


class Screen(NamedTuple):
    """Which reads can complete a rule, told from their plate's summary before any history is built.

    Every rule needs two reads of a plate or more; cloned plate and convoy need them at two cameras
    or more (``multi_camera``); circling needs ``repeats`` reads at one site within
    ``repeats_within_s`` (None: circling is off). A read that passes none of these is stored and
    not evaluated: the rules could find nothing in its history.

    What of the history they look at: the reads within ``history_within_s`` of the read, and the
    ``history_neighbours`` nearest before it wherever they are (cloned plate compares a few nearest
    reads, across its whole window). A plate seen all day would otherwise be built in full each time.
    """

    multi_camera: bool
    repeats: int | None
    repeats_within_s: float
    history_within_s: float = math.inf
    history_neighbours: int = 0


class RecentReads:
    """Recent reads by plate (histories sorted by event time) and, optionally, by camera.

    ``camera_horizon_s`` (None = no camera chains) is how far before a read :meth:`partners_at`
    walks back through its camera's reads; the convoy rule needs ``max_gap_s`` plus lateness.
    ``screen`` (None = every read) limits which reads :meth:`add_batch` hands to the rules.
    """

    def __init__(self, horizon_s: float, camera_horizon_s: float | None = None, screen: Screen | None = None) -> None:
        self.horizon_s = horizon_s
        self.camera_horizon_s = camera_horizon_s
        self.screen = screen
        self.watermark = -math.inf
        # Rows, in arrival order: row r is the read with arrival number (seq) self._base + r.
        capacity = 1024
        self._t = np.empty(capacity, np.float64)
        self._slot = np.empty(capacity, np.int64)
        self._cam = np.empty(capacity, np.int32)
        self._conf = np.empty(capacity, np.float64)
        self._prev = np.empty(capacity, np.int64)  # seq of the plate's read before this one in event time
        self._ids: list[str] = []
        self._base = 0
        self._start = 0  # first row not expired
        self._n = 0  # rows in use
        # Plates: a slot each while any of its reads is held, with what the screen needs to know.
        self._table = PlateTable()
        self._plate_of = np.empty(0, object)  # the plate string, shared by its reads
        self._key = np.empty((0, 2), np.int64)  # its key in the table
        # Free slots, a stack in an array (a list of a million ints costs ~36 bytes a slot).
        self._free = np.empty(0, np.int64)
        self._free_top = 0
        self._head = np.empty(0, np.int64)  # seq of the plate's latest read
        self._count = np.empty(0, np.int64)  # its reads not expired
        self._max_t = np.empty(0, np.float64)
        self._first_cam = np.empty(0, np.int32)
        self._multi = np.empty(0, np.bool_)  # read at two cameras or more
        self._grow_slots(1024)
        # Camera positions as read (a camera's reads share its one configured position), and the
        # cameras by id, each with its latest read: the reads at a camera are chained like a plate's.
        self._positions: list[CameraPosition] = []
        self._position_row: dict[CameraPosition, int] = {}
        self._last_position: dict[str, tuple[CameraPosition, int]] = {}  # by camera id: (position, its row)
        self._camera_of_row = np.empty(0, np.int64)
        self._camera_number: dict[str, int] = {}
        self._camera_head = np.empty(0, np.int64)
        self._cam_prev = np.empty(capacity, np.int64) if camera_horizon_s is not None else None
        # While the rules look at one read of a batch: what was held when it came (seq, cutoff).
        self._as_of: tuple[int, float] | None = None
        self.dropped_late = 0
        self.duplicates = 0

    def __len__(self) -> int:
        """Reads currently held."""
        return self._n - self._start

    @property
    def plates(self) -> int:
        """Distinct plates currently held."""
        return len(self._table)

    def add(self, s: Sighting) -> list[Sighting] | None:
        """Store ``s``; return its plate's history (sorted, including ``s``).

        Returns None, and stores nothing, for a read id already held (``duplicates``) or a read
        older than the watermark minus the horizon (``dropped_late``).
        """
        for _, _, history in list(self.add_batch(ReadBatch.of([s]), screened=False)):
            return history
        return None

    def add_batch(self, batch: ReadBatch, screened: bool = True) -> Iterator[tuple[int, Sighting, list[Sighting]]]:
        """Store ``batch``; yield ``(index, sighting, history)`` for the reads the rules should look at.

        With ``screened`` (the default), those are the reads the store's :class:`Screen` lets
        through whose plate has another read held; otherwise every stored read. Each history is
        what was held when that read came (later reads of the batch left out), and while a read
        is yielded :meth:`history` and :meth:`partners_at` answer as of then too. Duplicates (a
        read id held at the same event time) and reads behind the watermark by more than the
        horizon are not stored; reads expire once the batch is done (or the iterator is closed).
        """
        if not len(batch):
            return
        times = np.asarray(batch.times, dtype=np.float64)
        watermarks = np.maximum.accumulate(times)
        np.maximum(watermarks, self.watermark, out=watermarks)  # after each read
        before = np.empty_like(watermarks)
        before[0], before[1:] = self.watermark, watermarks[:-1]
        idx = np.flatnonzero(times >= before - self.horizon_s)
        self.dropped_late += len(times) - len(idx)
        slots = self._slots(batch, idx)
        idx, slots, late_in_plate, again = self._without_duplicates(batch, times, idx, slots)
        try:
            if len(idx):
                yield from self._append(batch, times, idx, slots, late_in_plate, again, watermarks, screened)
        finally:  # also when a rule fails mid-batch: the batch is stored, and the store answers as of now
            self._as_of = None
            self.watermark = float(watermarks[-1])
            self._expire()

    def _slots(self, batch: ReadBatch, idx: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The plate slot of each read in ``idx``; new plates get one."""
        kept = idx.tolist()
        if not kept:
            return np.empty(0, np.int64)
        plates = batch.plates
        keys = plate_keys(plates)  # first: a plate not normalised raises before anything changes
        if len(kept) < len(plates):
            keys = keys[idx]
        if len(kept) > self._free_top:
            self._grow_slots(max(len(kept), len(self._head) // 2))
        # Each read offers a free slot, which only a plate not held takes.
        self._free_top -= len(kept)
        offered = self._free[self._free_top:self._free_top + len(kept)].copy()
        slots = self._table.hold(keys, offered)
        taken = slots == offered
        self._push_free(offered[~taken])
        if taken.any():
            self._plate_of[slots[taken]] = [plates[k] for k in idx[taken].tolist()]
            self._key[slots[taken]] = keys[taken]
        return slots

    def _without_duplicates(self, batch: ReadBatch, times: npt.NDArray[np.float64], idx: npt.NDArray[np.int64],
                            slots: npt.NDArray[np.int64]
                            ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_],
                                       npt.NDArray[np.bool_]]:
        """Drop redelivered reads; also tell which reads came after a newer read of their plate, and
        which after an earlier read of it in the batch.

        Only reads no newer than their plate's newest can be a duplicate (a redelivered read carries
        its twin's event time), and only plates read twice in the batch need a look read by read.
        """
        t = times[idx]
        held = self._count[slots] > 0
        late_in_plate = held & (t <= self._max_t[slots])
        again, repeated = self._seen_earlier_in_batch(slots)
        check = late_in_plate | repeated
        if not check.any():
            return idx, slots, late_in_plate, again
        keep = np.ones(len(slots), np.bool_)
        newest: dict[int, float] = {}
        seen: dict[int, set[tuple[float, str]]] = {}
        read_ids, max_t = batch.read_ids, self._max_t
        for j in np.flatnonzero(check).tolist():
            slot, k = int(slots[j]), int(idx[j])
            read = (batch.times[k], read_ids[k])
            prior = newest.get(slot, float(max_t[slot]) if held[j] else -math.inf)
            twins = seen.setdefault(slot, set())
            if read in twins or (held[j] and read[0] <= max_t[slot] and self._held_twin(slot, *read)):
                keep[j] = False
                continue
            twins.add(read)
            late_in_plate[j] = read[0] <= prior
            newest[slot] = max(prior, read[0])
        if keep.all():
            return idx, slots, late_in_plate, again
        self.duplicates += len(keep) - int(keep.sum())
        return idx[keep], slots[keep], late_in_plate[keep], self._seen_earlier_in_batch(slots[keep])[0]

    @staticmethod
    def _seen_earlier_in_batch(slots: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Per read: whether its plate came earlier in the batch, and whether the batch has it twice or more."""
        _, first, inverse, counts = np.unique(slots, return_index=True, return_inverse=True, return_counts=True)
        again = np.ones(len(slots), np.bool_)
        again[first] = False
        return again, counts[inverse.ravel()] > 1

    def _held_twin(self, slot: int, t: float, read_id: str) -> bool:
        """Whether ``slot``'s held reads include ``read_id`` at ``t``: a walk down to ``t`` in its chain."""
        seq, base, start = int(self._head[slot]), self._base, self._base + self._start
        t_of, prev_of, ids = self._t.item, self._prev.item, self._ids
        while seq >= start:
            r = seq - base
            t_r = t_of(r)
            if t_r < t:
                return False
            if t_r == t and ids[r] == read_id:
                return True
            seq = prev_of(r)
        return False

    def _append(self, batch: ReadBatch, times: npt.NDArray[np.float64], idx: npt.NDArray[np.int64],
                slots: npt.NDArray[np.int64], late_in_plate: npt.NDArray[np.bool_], again: npt.NDArray[np.bool_],
                watermarks: npt.NDArray[np.float64], screened: bool
                ) -> Iterator[tuple[int, Sighting, list[Sighting]]]:
        rows = len(idx)
        self._reserve(rows)
        n, base = self._n, self._base
        seqs = np.arange(base + n, base + n + rows, dtype=np.int64)
        t = times[idx]
        cams = self._camera_rows(batch.cameras, idx)
        self._t[n:n + rows] = t
        self._slot[n:n + rows] = slots
        self._cam[n:n + rows] = cams
        if self._cam_prev is not None:
            self._cam_prev[n:n + rows] = self._chain(self._camera_head, self._camera_of_row[cams], seqs)
        self._conf[n:n + rows] = np.asarray(batch.confidences, dtype=np.float64)[idx]
        ids = batch.read_ids
        self._ids.extend(ids if rows == len(ids) else [ids[k] for k in idx.tolist()])
        # The plates' summaries as they were, for the screen, then brought up to date.
        held, multi = self._count[slots] > 0, self._multi[slots]
        fresh = self._first_cam[slots] == _NO_READ
        if fresh.any():  # a plate's first camera is that of its first read
            new_slots, first = np.unique(slots[fresh], return_index=True)
            self._first_cam[new_slots] = cams[fresh][first]
        other_camera = cams != self._first_cam[slots]
        # A plate's chain runs newest first. Its first read in the batch, newer than all it holds,
        # goes on top (all such reads at once); the others (late reads, a plate's second read in
        # the batch) are walked into place one by one, after them.
        walked = again | late_in_plate
        on_top = ~walked
        prev = np.full(rows, _NO_READ, np.int64)
        prev[on_top] = self._head[slots[on_top]]
        self._head[slots[on_top]] = seqs[on_top]
        self._prev[n:n + rows] = prev
        for j in np.flatnonzero(walked).tolist():
            self._insert(int(slots[j]), base + n + j, float(t[j]))
        np.add.at(self._count, slots, 1)
        np.maximum.at(self._max_t, slots, t)
        self._multi[slots[other_camera]] = True
        self._n = n + rows
        screen = self.screen if screened else None
        if not screened:
            evaluated: Iterable[int] = range(rows)
        else:
            if screen is None:
                look = held | again
            else:
                # Walked reads: judged on their plate as it is after the batch (they are few).
                look = walked & (self._multi[slots] if screen.multi_camera else False)
                if screen.multi_camera:
                    look |= held & (multi | other_camera)
                if screen.repeats is not None:
                    look |= walked & (self._count[slots] >= screen.repeats)
                    look |= self._repeats(prev, t, held & on_top & ~look, screen.repeats, screen.repeats_within_s)
            evaluated = np.flatnonzero(look).tolist()
        within = screen.history_within_s if screen is not None else math.inf
        neighbours = screen.history_neighbours if screen is not None else 0
        for j in evaluated:
            k = int(idx[j])
            # The plate's reads share the held plate string, and a camera's reads its configured id.
            s = batch.sighting(k, self._plate_of[slots[j]])
            self.watermark = float(watermarks[k])
            cutoff = self.watermark - self.horizon_s
            self._as_of = (base + n + j, cutoff)
            history = self._history(int(slots[j]), base + n + j, cutoff, s, s.t - within, neighbours)
            if not screened or len(history) > 1:
                yield k, s, history

    def _insert(self, slot: int, seq: int, t: float) -> None:
        """Put read ``seq`` (at ``t``) into ``slot``'s chain: after its reads newer than ``t``, before the others."""
        base, start, prev = self._base, self._base + self._start, self._prev
        t_of, prev_of = self._t.item, prev.item
        above = int(self._head[slot])
        if above < start or t_of(above - base) <= t:
            prev[seq - base] = above if above >= start else _NO_READ
            self._head[slot] = seq
            return
        below = prev_of(above - base)
        while below >= start and t_of(below - base) > t:
            above, below = below, prev_of(below - base)
        prev[seq - base] = below if below >= start else _NO_READ
        prev[above - base] = seq

    @staticmethod
    def _chain(heads: npt.NDArray[np.int64], keys: npt.NDArray[np.int64], seqs: npt.NDArray[np.int64]
               ) -> npt.NDArray[np.int64]:
        """Each new read's previous read of its key (its camera), in arrival order; moves ``heads`` on.

        Sorted by key, a read follows the batch's earlier read of its key, or else the key's head.
        """
        order = np.argsort(keys, kind="stable")
        by_key, seq_by_key = keys[order], seqs[order]
        prev_by_key = heads[by_key]
        same = by_key[1:] == by_key[:-1]
        prev_by_key[1:][same] = seq_by_key[:-1][same]
        last = np.ones(len(keys), np.bool_)
        last[:-1] = ~same
        heads[by_key[last]] = seq_by_key[last]
        prev = np.empty(len(keys), np.int64)
        prev[order] = prev_by_key
        return prev

    def _repeats(self, prev: npt.NDArray[np.int64], t: npt.NDArray[np.float64], candidates: npt.NDArray[np.bool_],
                 repeats: int, within_s: float) -> npt.NDArray[np.bool_]:
        """Which candidates' plates have ``repeats`` reads (theirs included) within ``within_s`` before them.

        For plates whose reads came in time order (the screen sends the others on anyway), that is
        the read ``repeats - 1`` back along the plate's chain.
        """
        found = np.zeros(len(t), np.bool_)
        rows = np.flatnonzero(candidates)
        seq = prev[rows]
        start = self._base + self._start
        for _ in range(repeats - 2):
            seq = np.where(seq >= start, self._prev[np.maximum(seq - self._base, 0)], _NO_READ)
        there = seq >= start
        found[rows[there]] = self._t[seq[there] - self._base] >= t[rows[there]] - within_s
        return found

    def _history(self, slot: int, as_of: int, cutoff: float, s: Sighting | None = None, since: float = -math.inf,
                 neighbours: int = 0) -> list[Sighting]:
        """``slot``'s reads that came up to read ``as_of``, not behind ``cutoff``, as sightings sorted by event time.

        ``s`` stands for the read ``as_of`` itself (the rules look for that very object). The walk
        down the chain stops once past ``since`` and ``neighbours`` reads before it (see :class:`Screen`).
        """
        base, start = self._base, self._base + self._start
        own = as_of - base if s is not None else _NO_READ
        t_of, prev_of = self._t.item, self._prev.item
        found: list[tuple[float, int]] = []
        seq = int(self._head[slot])
        while seq >= start:
            r = seq - base
            t = t_of(r)
            if t < cutoff:
                break  # the rest is older still
            if seq <= as_of:
                if t < since:
                    if neighbours <= 0:
                        break
                    neighbours -= 1
                found.append((t, r))
            seq = prev_of(r)
        found.reverse()  # oldest first; equal times in the order they came
        plate = self._plate_of[slot]
        ids, cam_of, conf_of, positions = self._ids, self._cam.item, self._conf.item, self._positions
        return [s if r == own and s is not None else Sighting(ids[r], plate, *positions[cam_of(r)], t, conf_of(r))
                for t, r in found]

    def history(self, plate: str, since: float = -math.inf) -> list[Sighting]:
        """The held sightings of ``plate``, sorted by event time (empty if none).

        While :meth:`add_batch` yields a read: as held when that read came. ``since``: only the reads
        from then on are needed (older ones may be left out).
        """
        slot = self._table.get(plate)
        if slot < 0:
            return []
        if self._as_of is None:
            return self._history(slot, self._base + self._n, self.watermark - self.horizon_s, since=since)
        return self._history(slot, *self._as_of, since=since)

    def partners_at(self, camera_id: str, t: float, gap_s: float, limit: int, min_held: int = 0) -> set[str]:
        """The plates read at ``camera_id`` within ``gap_s`` of ``t``: at most the ``limit`` + 1 nearest in time.

        While :meth:`add_batch` yields a read: of the reads held when that read came. Reads come in
        time order at a camera, give or take the lateness: the walk back through the camera's reads
        stops at the first more than the camera horizon (gap plus lateness) before ``t``.
        ``min_held``: only plates with at least that many reads held now (a rule that needs that
        many of a partner need not build the history of the one-off plates most partners are).
        """
        number = self._camera_number.get(camera_id)
        if number is None or self._cam_prev is None or self.camera_horizon_s is None:
            return set()
        seq, base, start = int(self._camera_head[number]), self._base, self._base + self._start
        t_of, prev_of, slot_of, plate_of = self._t.item, self._cam_prev.item, self._slot.item, self._plate_of
        held_of = self._count.item
        if self._as_of is not None:
            while seq > self._as_of[0]:  # the camera's reads that came later in the batch
                seq = prev_of(seq - base)
        stop = t - self.camera_horizon_s
        near: list[tuple[float, str]] = []
        while seq >= start:
            r = seq - base
            time = t_of(r)
            if time < stop:
                break
            if abs(time - t) <= gap_s and held_of(slot := slot_of(r)) >= min_held:
                near.append((abs(time - t), plate_of[slot]))
            seq = prev_of(r)
        if len(near) > limit:  # busy camera: only the nearest in time (bounded cost per read)
            near = sorted(near)[: limit + 1]
        return {plate for _, plate in near}

    def prune(self, now: float) -> None:
        """Advance the watermark to ``now`` (if later) and drop what fell behind the horizon."""
        if now > self.watermark:
            self.watermark = now
        self._expire()

    def _expire(self) -> None:
        """Drop the reads, in arrival order, until the first one not behind the horizon."""
        cutoff = self.watermark - self.horizon_s
        first = end = self._start
        while end < self._n:
            behind = self._t[end:min(self._n, end + _EXPIRY_SCAN)] < cutoff
            if not behind.all():
                end += int(behind.argmin())
                break
            end += len(behind)
        if end > first:
            gone, counts = np.unique(self._slot[first:end], return_counts=True)
            self._count[gone] -= counts
            self._release(gone[self._count[gone] == 0])
            self._start = end

    def _camera_rows(self, positions: list[CameraPosition], idx: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
        """The index of each read's camera position in ``self._positions`` (new ones are added)."""
        # By camera id, whose string caches its hash (a position tuple hashes all four fields each
        # time), when the position is the very object seen last for that camera: the pipeline hands
        # over its configured positions, one object per camera.
        last, get = self._last_position.get, self._position_row.get
        rows = [seen[1] if (seen := last(position.camera_id)) is not None and seen[0] is position
                else get(position, _NO_READ) for position in map(positions.__getitem__, idx.tolist())]
        if _NO_READ in rows:
            for j, k in enumerate(idx.tolist()):
                if rows[j] == _NO_READ:
                    position = positions[k]
                    row = self._position_row.setdefault(position, len(self._positions))
                    if row == len(self._positions):
                        self._add_position(position)
                    rows[j] = row
        return np.array(rows, dtype=np.int32)

    def _add_position(self, position: CameraPosition) -> None:
        self._last_position[position.camera_id] = (position, len(self._positions))
        self._positions.append(position)
        number = self._camera_number.setdefault(position.camera_id, len(self._camera_number))
        self._camera_of_row = np.append(self._camera_of_row, number)
        if number == len(self._camera_head):
            self._camera_head = np.append(self._camera_head, _NO_READ)

    def _reserve(self, rows: int) -> None:
        """Room for ``rows`` more rows: expired rows are dropped from the front, and the arrays grow if need be."""
        n, start, capacity = self._n, self._start, len(self._t)
        if n + rows <= capacity:
            return
        live = n - start
        if (live + rows) * 3 > capacity * 2:  # room for half as much again: a copy per ~third of a window
            capacity = (live + rows) * 3 // 2
        for name in ("_t", "_slot", "_cam", "_conf", "_prev", "_cam_prev"):
            old = getattr(self, name)
            if old is None:
                continue
            new = np.empty(capacity, old.dtype)
            new[:live] = old[start:n]
            setattr(self, name, new)
        del self._ids[:start]
        self._base += start
        self._n, self._start = live, 0

    def _release(self, slots: npt.NDArray[np.int64]) -> None:
        """Free the slots of plates whose last held read expired."""
        self._table.remove(self._key[slots])
        self._plate_of[slots] = None
        self._head[slots] = _NO_READ
        self._max_t[slots] = -math.inf
        self._multi[slots] = False
        self._first_cam[slots] = _NO_READ
        self._push_free(slots)

    def _push_free(self, slots: npt.NDArray[np.int64]) -> None:
        self._free[self._free_top:self._free_top + len(slots)] = slots
        self._free_top += len(slots)

    def _grow_slots(self, more: int) -> None:
        old = len(self._head)
        for name, fill in (("_plate_of", None), ("_head", _NO_READ), ("_count", 0), ("_max_t", -math.inf),
                           ("_first_cam", _NO_READ), ("_multi", False)):
            array = getattr(self, name)
            setattr(self, name, np.concatenate([array, np.full(more, fill, array.dtype)]))
        self._key = np.concatenate([self._key, np.empty((more, 2), np.int64)])
        self._free = np.concatenate([self._free, np.empty(more, np.int64)])
        self._push_free(np.arange(old + more - 1, old - 1, -1, dtype=np.int64))
