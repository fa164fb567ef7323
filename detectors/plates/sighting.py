"""The input of every plate rule: one normalised read with where and when it happened.

>>> s = Sighting("r1", "AB12CDE", "cam-1", "site-a", 51.5, -0.12, 1_700_000_000.0, 0.93)
>>> s.plate, s.t
('AB12CDE', 1700000000.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import msgspec

from detectors.plates import _columns as _compiled  # type: ignore[attr-defined]
from detectors.plates.normalise import MAX_PLATE_LEN

EARTH_RADIUS_M = 6_371_008.8


class Sighting(msgspec.Struct, frozen=True, gc=False):
    """One plate read, already normalised, with the camera's position (from config).

    A msgspec struct because the ANPR path builds one per read at >= 100k reads/s: 0.09 us
    against 0.31 us for a slots dataclass. ``gc=False``: only strings and floats, no cycles.
    """

    read_id: str
    plate: str
    """Normalised plate (see ``normalise_plate``)."""
    camera_id: str
    site_id: str
    lat: float
    lon: float
    t: float
    """Event time, epoch seconds."""
    confidence: float
    """OCR confidence 0..1."""


class CameraPosition(NamedTuple):
    """Where an ANPR camera is (from the configuration)."""

    camera_id: str
    """The configured id: held reads share this one string instead of each keeping its own copy."""
    site_id: str
    lat: float
    lon: float


@dataclass(slots=True)
class ReadBatch:
    """Usable reads, column by column: what the rules' store takes in without a struct per read.

    Most reads are stored and never looked at again (no rule can fire on them), so the pipeline
    hands over columns and a :class:`Sighting` is built only for the few reads a rule evaluates.
    ``sightings``, when given, are those objects already (one per read): the store hands them back.
    """

    read_ids: list[str]
    plates: list[str]
    """Normalised plates."""
    cameras: list[CameraPosition]
    times: list[float]
    confidences: list[float]
    sightings: list[Sighting] | None = field(default=None)

    def __len__(self) -> int:
        return len(self.read_ids)

    @classmethod
    def of(cls, sightings: list[Sighting]) -> ReadBatch:
        return cls([s.read_id for s in sightings], [s.plate for s in sightings],
                   [CameraPosition(s.camera_id, s.site_id, s.lat, s.lon) for s in sightings],
                   [s.t for s in sightings], [s.confidence for s in sightings], sightings)

    def sighting(self, i: int, plate: str | None = None) -> Sighting:
        """Read ``i`` as a sighting; ``plate``: an equal plate string to use instead of its own."""
        if self.sightings is not None:
            return self.sightings[i]
        return Sighting(self.read_ids[i], plate or self.plates[i], *self.cameras[i], self.times[i],
                        self.confidences[i])


class ReadRecord(Protocol):
    """What :func:`read_columns` takes from a read (``schemas.anpr.PlateReadRecord`` has it)."""

    @property
    def read_id(self) -> str: ...
    @property
    def plate(self) -> str: ...
    @property
    def camera_id(self) -> str: ...
    @property
    def event_time(self) -> float: ...
    @property
    def confidence(self) -> float: ...


def read_columns(reads: Sequence[ReadRecord], cameras: Mapping[str, CameraPosition]
                 ) -> tuple[list[str], list[str | None], list[CameraPosition | None], list[float], list[float], int]:
    """The columns of a :class:`ReadBatch` from read records, in one compiled pass (``_columns.c``).

    Returns (read ids, plates, camera positions, event times, confidences, odd). A plate of plain
    ``A-Za-z0-9`` text comes back upper-cased (what ``normalise_plate`` makes of it), any other
    as None, for the full normaliser; a camera not in ``cameras`` as None. ``odd`` counts the Nones.

    >>> class Read(msgspec.Struct):
    ...     read_id: str; plate: str; camera_id: str; event_time: float; confidence: float
    >>> reads = [Read("r1", "ab12cde", "c1", 1.0, 0.9), Read("r2", "AB 12", "c9", 2.0, 0.8)]
    >>> ids, plates, positions, times, confidences, odd = read_columns(reads, {"c1": CameraPosition("c1", "s1", 0, 0)})
    >>> ids, plates, [p and p.site_id for p in positions], times, confidences, odd
    (['r1', 'r2'], ['AB12CDE', None], ['s1', None], [1.0, 2.0], [0.9, 0.8], 2)
    """
    if not isinstance(cameras, dict):
        cameras = dict(cameras)
    return _compiled.columns(reads, cameras, MAX_PLATE_LEN)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres.

    >>> round(haversine_m(51.5074, -0.1278, 53.4808, -2.2426) / 1000)  # London - Manchester
    262
    """
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))
