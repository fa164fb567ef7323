"""Recent reads, shared by the plate rules: one store, one dedupe, one expiry for every read.

The three rules all need "the recent reads of this plate"; the convoy rule also needs "the
reads at this camera in the last few seconds". Keeping that once (instead of once per rule)
is what makes all rules together cost a few microseconds per read.

Held in numpy records, not Python objects: a row per read (event time, plate slot, camera,
confidence, the plate's previous read in event time, the camera's previous read in arrival order)
in one array in arrival order, the read ids in a list beside it, and a record per plate slot
(its newest read, count, first camera). A worker holds ~1.5M reads at a full window. Taking a
batch in, building a history and finding a camera's partners are compiled loops (``_recent.c``),
and a :class:`Sighting` is built only for the reads a rule has to look at (see :class:`Screen`).
Why: with a struct per read, the work a read grew with the reads held (cache misses on hours-old
objects): 2.5 us a read at 100k held, 7-10 us at a full window (measured 2026-12-04); as numpy
passes and Python loops over columns, ~3 us a read at a full window (2026-12-07).

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
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from detectors.plates import _recent as _compiled  # type: ignore[attr-defined]
from detectors.plates.platetable import PlateTable, plate_keys
from detectors.plates.sighting import CameraPosition, ReadBatch, Sighting

_NO_READ = -1
#: A plate's summary, one record a slot: its newest read in event time (seq) and that read's time,
#: its reads held, the camera position of its first read, whether it was read at two cameras or
#: more. The fields a read touches share a cache line (as separate arrays of a million slots they
#: were five cache misses a read). The C side (``_recent.c``, struct Plate) has the same layout.
_PLATE = np.dtype([("head", np.int64), ("max_t", np.float64), ("count", np.int64), ("first_cam", np.int32),
                   ("multi", np.bool_)], align=True)
assert _PLATE.itemsize == 32 and [field[1] for field in (_PLATE.fields or {}).values()] == [0, 8, 16, 24, 28]
_NO_PLATE = np.array((_NO_READ, -math.inf, 0, _NO_READ, False), _PLATE)
#: A read held, one record a row: event time, plate slot, the plate's previous read in event time
#: and the camera's in arrival order (seqs), confidence, camera position. A walk down a chain
#: (history, partners, redeliveries) reads one cache line a read, not one an array.
#: ``_recent.c`` (struct Row) has the same layout.
_ROW = np.dtype([("t", np.float64), ("slot", np.int64), ("prev", np.int64), ("cam_prev", np.int64),
                 ("conf", np.float64), ("cam", np.int32)], align=True)
assert _ROW.itemsize == 48 and [field[1] for field in (_ROW.fields or {}).values()] == [0, 8, 16, 24, 32, 40]
_MOVE_CHUNK = 1 << 16
"""Rows moved a step when expired rows are dropped from the front (a temporary copy of one step at most)."""
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
        self._rows = np.empty(1024, _ROW)
        self._bind_row_fields()
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
        # A plate's summary, one record a slot (see _PLATE), and views of the fields Python reads.
        self._plates = np.empty(0, _PLATE)
        self._bind_plate_fields()
        self._grow_slots(1024)
        # Camera positions as read (a camera's reads share its one configured position), and the
        # cameras by id, each with its latest read: the reads at a camera are chained like a plate's.
        self._positions: list[CameraPosition] = []
        self._position_row: dict[CameraPosition, int] = {}
        self._last_position: dict[str, tuple[CameraPosition, int]] = {}  # by camera id: (position, its row)
        self._camera_of_row = np.empty(0, np.int64)
        self._camera_number: dict[str, int] = {}
        self._camera_head = np.empty(0, np.int64)
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
        try:
            if len(idx):
                yield from self._append(batch, times[idx], idx, slots, watermarks, screened)
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
            self._grow_slots(max(len(kept), len(self._plates) // 2))
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

    def _append(self, batch: ReadBatch, times: npt.NDArray[np.float64], idx: npt.NDArray[np.int64],
                slots: npt.NDArray[np.int64], watermarks: npt.NDArray[np.float64], screened: bool
                ) -> Iterator[tuple[int, Sighting, list[Sighting]]]:
        """Store the reads ``idx`` of ``batch`` (at ``times``; all but redeliveries), then yield those to look at.

        The storing is one compiled pass (``_recent.c``), a read at a time: a redelivery (a read
        id held at the same event time) is skipped; any other read goes into its plate's chain
        (newest in event time first) and on top of its camera's, and its plate's summary is
        brought up to date. The screen judges each read as the store stood once it was in.
        """
        m = len(idx)
        self._reserve(m)
        n, base = self._n, self._base
        ids = batch.read_ids if m == len(batch) else [batch.read_ids[k] for k in idx.tolist()]
        rows = np.empty(m, np.int64)
        look = np.empty(m, np.bool_)
        screen = self.screen if screened else None
        arrays = (times, slots, self._camera_rows(batch.cameras, idx), np.asarray(batch.confidences, np.float64)[idx],
                  self._rows, self._plates, self._camera_of_row, self._camera_head, rows, look)
        added, duplicates = _compiled.append(
            arrays, self._ids, ids, base, n, self._start + base, self.camera_horizon_s is not None,
            -1 if screen is None else int(screen.multi_camera),
            (screen.repeats or 0) if screen is not None else 0, screen.repeats_within_s if screen is not None else 0.0)
        del arrays  # no view of the rows kept across the yields below (_reserve resizes them in place)
        stored = rows >= 0
        self._ids.extend(ids if not duplicates else [ids[j] for j in np.flatnonzero(stored).tolist()])
        self._n = n + added
        self.duplicates += duplicates
        evaluated = np.flatnonzero(look if screened else stored).tolist()
        within = screen.history_within_s if screen is not None else math.inf
        neighbours = screen.history_neighbours if screen is not None else 0
        for j in evaluated:
            k, seq = int(idx[j]), base + int(rows[j])
            # The plate's reads share the held plate string, and a camera's reads its configured id.
            s = batch.sighting(k, self._plate_of[slots[j]])
            self.watermark = float(watermarks[k])
            cutoff = self.watermark - self.horizon_s
            self._as_of = (seq, cutoff)
            history = self._history(int(slots[j]), seq, cutoff, s, s.t - within, neighbours)
            if not screened or len(history) > 1:
                yield k, s, history

    def _history(self, slot: int, as_of: int, cutoff: float, s: Sighting | None = None, since: float = -math.inf,
                 neighbours: int = 0) -> list[Sighting]:
        """``slot``'s reads that came up to read ``as_of``, not behind ``cutoff``, as sightings sorted by event time.

        ``s`` stands for the read ``as_of`` itself (the rules look for that very object). The walk
        down the chain stops once past ``since`` and ``neighbours`` reads before it (see :class:`Screen`).
        """
        base = self._base
        return _compiled.history(
            self._rows, int(self._head[slot]), as_of, base, base + self._start,
            cutoff, since, neighbours, as_of - base if s is not None else _NO_READ, s, self._ids, self._positions,
            self._plate_of[slot], Sighting)

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
        if number is None or self.camera_horizon_s is None:
            return set()
        as_of = self._as_of[0] if self._as_of is not None else self._base + self._n
        near = _compiled.partners(self._rows, self._plates, int(self._camera_head[number]), as_of, self._base,
                                  self._base + self._start, t, gap_s, t - self.camera_horizon_s, min_held)
        if len(near) > limit:  # busy camera: only the nearest in time (bounded cost per read)
            near = sorted(near)[: limit + 1]
        return {self._plate_of[slot] for _, slot in near}

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
        rows = np.empty(len(idx), np.int32)
        if _compiled.camera_rows(positions, idx, self._last_position, rows):
            for j in np.flatnonzero(rows == _NO_READ).tolist():
                position = positions[int(idx[j])]
                row = self._position_row.setdefault(position, len(self._positions))
                if row == len(self._positions):
                    self._add_position(position)
                rows[j] = row
        return rows

    def _add_position(self, position: CameraPosition) -> None:
        self._last_position[position.camera_id] = (position, len(self._positions))
        self._positions.append(position)
        number = self._camera_number.setdefault(position.camera_id, len(self._camera_number))
        self._camera_of_row = np.append(self._camera_of_row, number)
        if number == len(self._camera_head):
            self._camera_head = np.append(self._camera_head, _NO_READ)

    def _reserve(self, rows: int) -> None:
        """Room for ``rows`` more rows: expired rows are dropped from the front, and the array grows if need be.

        Both in place: the rows move down a chunk at a time, and the array is resized (for an array
        this size, a remap of its pages), so there is never a second ~100 MB copy of it at once.
        """
        n, start, capacity = self._n, self._start, len(self._rows)
        if n + rows <= capacity:
            return
        live = n - start
        for at in range(0, live, _MOVE_CHUNK):
            end = min(live, at + _MOVE_CHUNK)
            self._rows[at:end] = self._rows[start + at:start + end]
        if (live + rows) * 3 > capacity * 2:  # room for half as much again: a move per ~third of a window
            # No view of the array outlives this: the field views are bound again just below.
            self._rows.resize((live + rows) * 3 // 2, refcheck=False)
        self._bind_row_fields()
        del self._ids[:start]
        self._base += start
        self._n, self._start = live, 0

    def _release(self, slots: npt.NDArray[np.int64]) -> None:
        """Free the slots of plates whose last held read expired."""
        self._table.remove(self._key[slots])
        self._plate_of[slots] = None
        self._plates[slots] = _NO_PLATE  # their counts are 0 already
        self._push_free(slots)

    def _push_free(self, slots: npt.NDArray[np.int64]) -> None:
        self._free[self._free_top:self._free_top + len(slots)] = slots
        self._free_top += len(slots)

    def _bind_row_fields(self) -> None:
        """Views of the fields Python reads (expiry); the rest is the compiled loops'."""
        self._t, self._slot = self._rows["t"], self._rows["slot"]

    def _bind_plate_fields(self) -> None:
        self._head, self._count = self._plates["head"], self._plates["count"]

    def _grow_slots(self, more: int) -> None:
        old = len(self._plates)
        self._plates = np.concatenate([self._plates, np.full(more, _NO_PLATE, _PLATE)])
        self._bind_plate_fields()
        self._plate_of = np.concatenate([self._plate_of, np.full(more, None, object)])
        self._key = np.concatenate([self._key, np.empty((more, 2), np.int64)])
        self._free = np.concatenate([self._free, np.empty(more, np.int64)])
        self._push_free(np.arange(old + more - 1, old - 1, -1, dtype=np.int64))
