"""Shared helpers for the plate detector tests: sightings at named places."""

from __future__ import annotations

import pytest

from detectors.plates.sighting import Sighting

# Camera id -> (site id, lat, lon). London and Manchester are 262 km apart; the two "mall"
# cameras are 150 m apart; "ring" cameras are ~2 km apart along a road.
PLACES: dict[str, tuple[str, float, float]] = {
    "lon-1": ("london", 51.5074, -0.1278),
    "man-1": ("manchester", 53.4808, -2.2426),
    "mall-in": ("mall", 52.0000, -1.0000),
    "mall-out": ("mall", 52.0013, -1.0005),
    "busy-1": ("busy", 52.1000, -1.1000),
    "ring-1": ("ring", 52.2000, -1.2000),
    "ring-2": ("ring", 52.2180, -1.2000),
    "ring-3": ("ring", 52.2360, -1.2000),
    "ring-4": ("ring", 52.2540, -1.2000),
}


def sight(read_id: str, plate: str, camera: str, t: float, confidence: float = 0.9) -> Sighting:
    site, lat, lon = PLACES[camera]
    return Sighting(read_id, plate, camera, site, lat, lon, t, confidence)


@pytest.fixture
def make_sighting():  # type: ignore[no-untyped-def]
    return sight
