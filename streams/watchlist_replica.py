"""Each worker's in-memory replica of the compacted ``watchlist`` topic.

Why not a Faust table: every worker needs the whole watchlist (reads for any plate can arrive on
any partition), and a table write costs a changelog record; a 1,000,000-entry list would take
minutes to recover. Each worker reads the compacted topic into a compact index instead, and is
ready only once it reached the end, so no read is matched against a half-loaded list.
"""

from __future__ import annotations

import gc
import json
import logging

from pydantic import ValidationError

from detectors.plates.normalise import normalise_plate
from detectors.plates.watchlist import WatchlistEntry as IndexEntry
from detectors.plates.watchlist import WatchlistIndex
from schemas.watchlist import WatchlistEntry
from streams import metrics
from streams.config import WatchfloorConfig
from streams.replica import CompactedTopicReplica
from streams.topics import WATCHLIST

log = logging.getLogger(__name__)


def index_entry(entry: WatchlistEntry) -> IndexEntry:
    return IndexEntry(
        plate=normalise_plate(entry.plate), reason=entry.reason, category=entry.category,
        priority=entry.priority, expires_at=entry.expires_at, covert=entry.covert, source=entry.source,
        added_by=entry.added_by, added_at=entry.added_at,
    )


def apply_record(index: WatchlistIndex, key: bytes | None, value: bytes | None) -> None:
    """Apply one compacted-topic record: an entry, or a tombstone (null value) for a removal."""
    if key is None:
        return
    if value is None:
        index.remove(key.decode())
        return
    try:
        entry = WatchlistEntry.model_validate_json(value)
    except ValidationError as error:
        log.warning("skipping invalid watchlist record: %s", error.errors()[0]["msg"])
        return
    index.add(index_entry(entry))


def watchlist_replica(config: WatchfloorConfig, index: WatchlistIndex) -> CompactedTopicReplica:
    def loaded(seconds: float) -> None:
        metrics.WATCHLIST_SIZE.set(len(index))
        metrics.WATCHLIST_READY.set(1)
        log.info("watchlist loaded: %d entries in %.1fs", len(index), seconds)
        # A million long-lived entries would be re-scanned by every full garbage collection;
        # move everything alive now out of the collector's reach.
        gc.freeze()

    return CompactedTopicReplica(config, WATCHLIST, lambda k, v: apply_record(index, k, v),
                                 on_batch=lambda: metrics.WATCHLIST_SIZE.set(len(index)), on_ready=loaded)


def encode_entry(entry: WatchlistEntry) -> tuple[bytes, bytes]:
    """Key and value for the compacted topic: keyed by the normalised plate."""
    plate = normalise_plate(entry.plate)
    return plate.encode(), json.dumps(entry.model_dump(mode="json") | {"plate": plate}).encode()
