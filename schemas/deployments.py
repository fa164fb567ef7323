"""Deployment zones: time-bounded sets of sites where alerts are raised in severity.

Declared in the config (``alerting.deployments``) or at run time on the compacted
``deployments`` topic, keyed by id (``watchfloor deployment add|end|list``); a tombstone ends one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from schemas.base import WireModel


class Deployment(WireModel):
    """A Christmas market, a station for an evening: where and when alerts matter more.

    >>> from datetime import datetime, timezone
    >>> d = Deployment(id="xmas", name="Christmas market", sites=["market"],
    ...                start=datetime(2026, 11, 27, 16, tzinfo=timezone.utc),
    ...                end=datetime(2026, 11, 27, 23, tzinfo=timezone.utc))
    >>> d.covers("market", d.start.timestamp()), d.covers("station", d.start.timestamp())
    (True, False)
    """

    schema_version: Literal[1] = 1
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=200)
    sites: list[str] = Field(min_length=1, description="Site ids the deployment covers.")
    start: datetime = Field(description="ISO-8601 with a zone offset, e.g. 2026-11-27T16:00:00+00:00.")
    end: datetime
    raise_severity_by: int = Field(default=1, ge=1, le=4, description="Severity levels added inside it.")

    @model_validator(mode="after")
    def _check_times(self) -> Deployment:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a zone offset (e.g. +00:00)")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def covers(self, site_id: str | None, t: float) -> bool:
        return site_id in self.sites and self.start.timestamp() <= t < self.end.timestamp()


WIRE_MODELS = {"deployments.deployment": Deployment}
