"""Shared base for wire models: strict, versioned, with clear validation errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

#: Hard cap on any single Kafka message we accept; bigger ones go to the dead-letter topic.
MAX_MESSAGE_BYTES = 1_048_576


class WireModel(BaseModel):
    """Base of every message on a watchfloor topic.

    Unknown fields are rejected so that a typo in an integrator's producer shows up as a
    dead letter with a reason instead of silently dropped data.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
