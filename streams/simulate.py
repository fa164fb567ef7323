"""Simulated ANPR cameras: plausible UK-style plate reads at a steady rate.

A fixed population of vehicles drives past the configured ANPR cameras; a few of them are
"vehicles of interest" (the demo watchlist), so alerts appear within seconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
import string
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.anpr import PlateRead, PlateReadBatch
from streams.clients import producer, start_with_retry
from streams.codecs import encode
from streams.config import Camera, WatchfloorConfig
from streams.topics import ANPR_READS

log = logging.getLogger(__name__)

#: Letters used on current UK plates (I, Q and Z are avoided in most positions).
UK_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXY"


def uk_plate(rng: random.Random) -> str:
    """A random current-format UK plate, e.g. ``AB12CDE``."""
    return (rng.choice(UK_LETTERS) + rng.choice(UK_LETTERS) + f"{rng.randint(2, 74):02d}"
            + "".join(rng.choice(UK_LETTERS) for _ in range(3)))


@dataclass
class PlateReadSimulator:
    """Generates reads; every ``hit_every``-th read is a vehicle of interest.

    Each vehicle is read by its own home camera, so journeys are plausible; every
    ``clone_every``-th read (0: never) is a vehicle of interest at a camera of another site,
    too soon to have driven there: a cloned plate.
    """

    cameras: Sequence[Camera]
    plates_of_interest: Sequence[str] = ()
    hit_every: int = 50
    population: int = 5000
    seed: int | None = None
    clone_every: int = 0

    def __post_init__(self) -> None:
        if not self.cameras:
            raise ValueError("no ANPR cameras configured: add cameras with kind: anpr to the config")
        self._rng = random.Random(self.seed)
        self._vehicles = [uk_plate(self._rng) for _ in range(self.population)]
        self._home: dict[str, Camera] = {}
        self._count = 0

    def _camera_for(self, plate: str) -> Camera:
        home = self._home.get(plate)
        if home is None:
            home = self._home[plate] = self._rng.choice(self.cameras)
        return home

    def next_read(self, event_time: float) -> PlateRead:
        rng = self._rng
        self._count += 1
        if self.plates_of_interest and self.clone_every and self._count % self.clone_every == 0:
            plate = rng.choice(self.plates_of_interest)
            elsewhere = [c for c in self.cameras if c.site != self._camera_for(plate).site]
            camera = rng.choice(elsewhere) if elsewhere else self._camera_for(plate)
        elif self.plates_of_interest and self.hit_every and self._count % self.hit_every == 0:
            plate = rng.choice(self.plates_of_interest)
            camera = self._camera_for(plate)
        else:
            plate = rng.choice(self._vehicles)
            camera = self._camera_for(plate)
        # Cameras render plates in their own style: sometimes with a space, sometimes lower case.
        if rng.random() < 0.3 and len(plate) == 7:
            plate = f"{plate[:4]} {plate[4:]}"
        return PlateRead(
            read_id=f"sim-{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}",
            plate=plate,
            confidence=round(rng.uniform(0.75, 0.99), 2),
            camera_id=camera.id,
            event_time=event_time,
            lane=rng.randint(1, 3),
            direction=rng.choice(("towards", "away")),
            country="GB",
        )


async def run_anpr_simulation(config: WatchfloorConfig, simulator: PlateReadSimulator, rate: float,
                              batch: int = 1, duration: float | None = None, count: int | None = None,
                              report_every: float = 10.0) -> int:
    """Publish reads at ``rate`` per second (in batches of ``batch``) until stopped; returns the count."""
    if rate <= 0:
        raise ValueError("--rate must be positive")
    client = producer(config, linger_ms=5)
    await start_with_retry(client, config)
    sent = 0
    started = last_report = time.monotonic()
    try:
        while (duration is None or time.monotonic() - started < duration) and (count is None or sent < count):
            size = batch if count is None else min(batch, count - sent)
            now = time.time()
            reads = [simulator.next_read(now) for _ in range(size)]
            if batch == 1:
                await client.send(ANPR_READS, key=reads[0].camera_id.encode(), value=encode(reads[0]))
            else:
                await client.send(ANPR_READS, key=reads[0].camera_id.encode(),
                                  value=encode(PlateReadBatch(reads=reads)))
            sent += size
            if time.monotonic() - last_report >= report_every:
                last_report = time.monotonic()
                log.info("simulator: %d reads sent (%.0f/s)", sent, sent / (last_report - started))
            # Pace against the start time so the average rate holds whatever the send cost.
            delay = started + sent / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await client.flush()
        return sent
    finally:
        await client.stop()


def random_suffix(n: int = 6) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=n))
