"""Audit trail on topic ``audit``: who changed what, and when."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from schemas.base import WireModel


class AuditRecord(WireModel):
    schema_version: Literal[1] = 1
    at: float = Field(description="Wall time, epoch seconds.")
    actor: str = Field(min_length=1, max_length=64)
    action: str = Field(description="E.g. watchlist.add, watchlist.remove, alert.acknowledge.")
    target: str = Field(description="What was acted on (a keyed hash for plates).")
    details: dict[str, Any] = Field(default_factory=dict)


WIRE_MODELS = {"audit.record": AuditRecord}
