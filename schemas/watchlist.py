"""Watchlist (hotlist) entries on the compacted ``watchlist`` topic, keyed by normalised plate.

A removal is a tombstone: the key with a null value, so compaction forgets the plate.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import WireModel


class WatchlistEntry(WireModel):
    """A plate of interest and why.

    >>> WatchlistEntry(plate="AB12CDE", reason="stolen", added_by="sgt.jones", added_at=0.0).priority
    3
    """

    schema_version: Literal[1] = 1
    plate: str = Field(min_length=1, max_length=16, description="Normalised plate (A-Z, 0-9).")
    reason: str = Field(min_length=1, max_length=200, description="Why it is listed, shown to operators.")
    category: str = Field(default="general", max_length=64, description="E.g. stolen, wanted, terrorism.")
    priority: int = Field(default=3, ge=1, le=5, description="1 = most urgent.")
    expires_at: float | None = Field(default=None, description="Epoch seconds after which it stops matching.")
    covert: bool = Field(default=False, description="Hits only shown to supervisors and above.")
    source: str = Field(default="manual", max_length=64, description="Where the entry came from.")
    added_by: str = Field(min_length=1, max_length=64)
    added_at: float


WIRE_MODELS = {"watchlist.entry": WatchlistEntry}
