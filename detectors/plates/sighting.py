"""The input of every plate rule: one normalised read with where and when it happened.

>>> s = Sighting("r1", "AB12CDE", "cam-1", "site-a", 51.5, -0.12, 1_700_000_000.0, 0.93)
>>> s.plate, s.t
('AB12CDE', 1700000000.0)
"""

from __future__ import annotations

import math

import msgspec

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
