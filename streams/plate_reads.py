"""A pass's plate reads: the columns the rules take, and each read as a record only when asked for.

Why: the rules need five columns of a read (id, plate, camera, time, confidence); most reads are
never looked at as a record again (a candidate's evidence, a dead letter, forwarding do). A batch
message in the usual shape is decoded straight from its bytes into the columns in one compiled
pass (``_columns.decode_batch``, ~0.45 us a read against ~0.7 us for msgspec's records and taking
them apart); a read's record is decoded from its own bytes when wanted, the same struct as the
batch decoder's. Any other message (a single read, an OpenALPR group, a batch the fast path does
not take exactly) is decoded as before (``streams.codecs.decode_plate_reads``), with its rejections.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator, Sequence
from typing import overload

from detectors.plates import _columns as _compiled  # type: ignore[attr-defined]
from detectors.plates.normalise import MAX_PLATE_LEN
from detectors.plates.sighting import CameraPosition, read_columns
from schemas.anpr import PLATE_READ_DECODER, PlateReadRecord
from streams.codecs import JSON_ENCODER, Rejected, decode_plate_reads

Columns = tuple[list[str], list[str | None], list[CameraPosition | None], list[float], list[float], int]
"""(read ids, plates, camera positions, event times, confidences, odd): see ``read_columns``."""

_SPAN = struct.Struct("qq")


class PlateReads(Sequence[PlateReadRecord]):
    """The reads of some messages, in order: columns for the pipeline, records on demand.

    ``cameras``: the pipeline's camera positions by id (what the columns' positions come from).
    A record, once made, is kept: the same object each time it is asked for.
    """

    def __init__(self, cameras: dict[str, CameraPosition]) -> None:
        self._cameras = cameras
        self._ids: list[str] = []
        self._plates: list[str | None] = []
        self._positions: list[CameraPosition | None] = []
        self._times: list[float] = []
        self._confidences: list[float] = []
        self._odd = 0
        # Each part's first read: the message bytes with each read's (start, end) in them, or the records.
        self._starts: list[int] = []
        self._parts: list[tuple[memoryview, bytes] | list[PlateReadRecord]] = []
        self._records: dict[int, PlateReadRecord] = {}

    def add_message(self, raw: bytes | None, max_bytes: int) -> tuple[int, list[tuple[int, Rejected]]]:
        """Decode one ``anpr.reads`` message into the pass: (reads added, rejected reads by batch index).

        Raises ``Rejected`` when the message as a whole is unusable, as ``decode_plate_reads`` does.
        """
        if raw is not None and len(raw) <= max_bytes:
            decoded = _compiled.decode_batch(raw, self._cameras, MAX_PLATE_LEN)
            if decoded is not None:
                *columns, spans = decoded
                self._add_part((memoryview(raw), spans), columns)
                return len(columns[0]), []
        records, rejected = decode_plate_reads(raw, max_bytes)
        self.add_records(records)
        return len(records), rejected

    def add_records(self, records: list[PlateReadRecord]) -> None:
        """Reads already decoded."""
        if records:
            self._add_part(records, read_columns(records, self._cameras))

    def _add_part(self, part: tuple[memoryview, bytes] | list[PlateReadRecord], columns: Sequence[object]) -> None:
        ids, plates, positions, times, confidences, odd = columns
        self._starts.append(len(self._ids))
        self._parts.append(part)
        self._ids += ids  # type: ignore[arg-type]
        self._plates += plates  # type: ignore[arg-type]
        self._positions += positions  # type: ignore[arg-type]
        self._times += times  # type: ignore[arg-type]
        self._confidences += confidences  # type: ignore[arg-type]
        self._odd += odd  # type: ignore[operator]

    def columns(self) -> Columns:
        """The reads' columns, as ``read_columns`` gives them (new lists: the caller may change them)."""
        return (list(self._ids), list(self._plates), list(self._positions), list(self._times),
                list(self._confidences), self._odd)

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> PlateReadRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[PlateReadRecord]: ...

    def __getitem__(self, index: int | slice) -> PlateReadRecord | list[PlateReadRecord]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("plate read index out of range")
        record = self._records.get(index)
        if record is None:
            part, offset = self._part_of(index)
            if isinstance(part, list):
                return part[offset]
            record = self._records[index] = PLATE_READ_DECODER.decode(self._span(part, offset))
        return record

    def read_json(self, index: int) -> bytes:
        """Read ``index`` as a JSON object: its own bytes if it came in a batch (nothing decoded or
        encoded again), else its record encoded (defaults left out, as msgspec writes it)."""
        part, offset = self._part_of(index)
        if isinstance(part, list):
            return JSON_ENCODER.encode(part[offset])
        return bytes(self._span(part, offset))

    def _part_of(self, index: int) -> tuple[tuple[memoryview, bytes] | list[PlateReadRecord], int]:
        at = bisect.bisect_right(self._starts, index) - 1
        return self._parts[at], index - self._starts[at]

    @staticmethod
    def _span(part: tuple[memoryview, bytes], offset: int) -> memoryview:
        raw, spans = part
        start, end = _SPAN.unpack_from(spans, offset * _SPAN.size)
        return raw[start:end]

    def __iter__(self) -> Iterator[PlateReadRecord]:
        return (self[i] for i in range(len(self)))
