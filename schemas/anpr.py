"""Plate reads (ANPR) on topic ``anpr.reads``: one read, or a batch of reads per message.

Batches are the fast path: each message costs a Kafka record and a decode call of its own, so a
camera gateway that sends a few hundred reads per message is cheaper to process than single reads
(bench/anpr.py measures both).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from pydantic import Field

from schemas.base import WireModel

Direction = Literal["towards", "away", "unknown"]


class PlateRead(WireModel):
    """One number-plate read from one ANPR camera.

    >>> PlateRead(read_id="r1", plate="AB12 CDE", confidence=0.93, camera_id="cam-1",
    ...           event_time=1_700_000_000.0).plate
    'AB12 CDE'
    """

    schema_version: Literal[1] = 1
    read_id: str = Field(min_length=1, max_length=128, description="Unique id of the read (camera's own).")
    plate: str = Field(min_length=1, max_length=16, description="Plate text as read by the OCR engine.")
    confidence: float = Field(ge=0.0, le=1.0, description="OCR confidence, 0..1.")
    camera_id: str = Field(min_length=1, max_length=64, description="Configured camera id.")
    event_time: float = Field(
        ge=946_684_800.0, le=4_102_444_800.0, description="When the vehicle passed, epoch seconds (UTC)."
    )
    lane: int | None = Field(default=None, ge=0, le=32, description="Lane number, if known.")
    direction: Direction | None = Field(default=None, description="Travel direction relative to the camera.")
    country: str | None = Field(
        default=None, min_length=2, max_length=3, description="Issuing country code (ISO 3166), if known."
    )
    image_ref: str | None = Field(default=None, max_length=512, description="URI of the plate/overview image.")


#: Most reads in one batch message (bounds a message's decode time and size).
MAX_BATCH_READS = 5000


class PlateReadBatch(WireModel):
    """Many reads in one message (the efficient way to publish at volume)."""

    schema_version: Literal[1] = 1
    reads: list[PlateRead] = Field(min_length=1, max_length=MAX_BATCH_READS, description="The reads, any cameras.")


WIRE_MODELS = {"anpr.read": PlateRead, "anpr.read_batch": PlateReadBatch}


# -- fast path -----------------------------------------------------------------------------------
# The worker decodes and validates reads in one pass with msgspec, into structs: ~0.6 us a read,
# against ~2.2 us for pydantic into dicts and ~2.0 us for json.loads alone. These structs mirror the
# models above field for field and constraint for constraint; tests/unit/test_schemas.py fails if
# they drift apart. Anything msgspec rejects is decoded again by the models above, which accept
# the same documents plus pydantic's lax conversions (e.g. ``"lane": 1.0``) and explain rejections.

class PlateReadRecord(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """A validated ``PlateRead`` as the worker holds it (``omit_defaults``: re-encodes compactly)."""

    read_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    plate: Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
    confidence: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
    camera_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    event_time: Annotated[float, msgspec.Meta(ge=946_684_800.0, le=4_102_444_800.0)]
    schema_version: Literal[1] = 1
    lane: Annotated[int, msgspec.Meta(ge=0, le=32)] | None = None
    direction: Direction | None = None
    country: Annotated[str, msgspec.Meta(min_length=2, max_length=3)] | None = None
    image_ref: Annotated[str, msgspec.Meta(max_length=512)] | None = None


class PlateReadBatchRecord(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    reads: Annotated[list[PlateReadRecord], msgspec.Meta(min_length=1, max_length=MAX_BATCH_READS)]
    schema_version: Literal[1] = 1


PLATE_READ_DECODER = msgspec.json.Decoder(PlateReadRecord)
PLATE_READ_BATCH_DECODER = msgspec.json.Decoder(PlateReadBatchRecord)
