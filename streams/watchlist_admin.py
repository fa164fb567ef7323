"""Watchlist changes: every change goes to the compacted ``watchlist`` topic and to ``audit``."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, cast

from pydantic import ValidationError

from detectors.plates.normalise import normalise_plate
from detectors.plates.privacy import plate_hash
from schemas.audit import AuditRecord
from schemas.watchlist import WatchlistEntry
from streams.clients import latest_values, produce, producer, start_with_retry
from streams.codecs import describe_validation_error, encode
from streams.config import WatchfloorConfig
from streams.topics import AUDIT, WATCHLIST
from streams.watchlist_replica import encode_entry


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    error: str


def _audit(config: WatchfloorConfig, actor: str, action: str, plate: str, **details: object) -> tuple[bytes, bytes]:
    record = AuditRecord(at=time.time(), actor=actor, action=action,
                         target=plate_hash(plate, config.privacy.plate_hash_key()), details=dict(details))
    return actor.encode(), encode(record)


async def add_entries(config: WatchfloorConfig, entries: Iterable[WatchlistEntry], actor: str) -> int:
    entries = list(entries)
    await produce(config, WATCHLIST, (encode_entry(e) for e in entries))
    await produce(config, AUDIT, (_audit(config, actor, "watchlist.add", normalise_plate(e.plate),
                                         reason=e.reason, category=e.category, priority=e.priority)
                                  for e in entries))
    return len(entries)


async def remove_plate(config: WatchfloorConfig, plate: str, actor: str) -> str:
    normalised = normalise_plate(plate)
    await produce(config, WATCHLIST, [(normalised.encode(), None)])  # tombstone
    await produce(config, AUDIT, [_audit(config, actor, "watchlist.remove", normalised)])
    return normalised


async def list_entries(config: WatchfloorConfig) -> list[WatchlistEntry]:
    """The current watchlist: the latest record per plate, removals applied."""
    return sorted((WatchlistEntry.model_validate_json(v) for v in await latest_values(config, WATCHLIST)),
                  key=lambda e: e.plate)


@dataclass(frozen=True, slots=True)
class ImportReport:
    imported: int
    rejected: list[RejectedRow]
    seconds: float


async def import_csv(config: WatchfloorConfig, path: Path, actor: str,
                     progress: Callable[[int, int], None] | None = None, chunk: int = 5000) -> ImportReport:
    """Stream a CSV into the watchlist topic; bad rows are reported with their line numbers.

    One audit record covers the import (file, its SHA-256, counts): the file is the detail.
    """
    started = time.monotonic()
    total_bytes = path.stat().st_size
    rejected: list[RejectedRow] = []
    imported = 0
    client = producer(config, linger_ms=20, compression_type=None)
    await start_with_retry(client, config)
    try:
        pending = []
        with path.open(newline="", encoding="utf-8") as handle:
            for item in read_csv(handle, actor):
                if isinstance(item, RejectedRow):
                    rejected.append(item)
                    continue
                key, value = encode_entry(item)
                pending.append(await client.send(WATCHLIST, key=key, value=value))
                imported += 1
                if len(pending) >= chunk:
                    await asyncio.gather(*pending)
                    pending.clear()
                    if progress:
                        progress(imported + len(rejected), total_bytes and cast(Any, handle).buffer.tell())
        await asyncio.gather(*pending)
        if progress:
            progress(imported + len(rejected), total_bytes)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        audit = AuditRecord(at=time.time(), actor=actor, action="watchlist.import", target=path.name,
                            details={"sha256": digest, "imported": imported, "rejected": len(rejected)})
        await (await client.send(AUDIT, key=actor.encode(), value=encode(audit)))
    finally:
        await client.stop()
    return ImportReport(imported, rejected, time.monotonic() - started)


EXPORT_COLUMNS = ("plate", "reason", "category", "priority", "expires_at", "covert", "source", "added_by", "added_at")


def write_csv(entries: Iterable[WatchlistEntry], handle: TextIO) -> int:
    """The same columns ``import`` reads, so an export can be re-imported."""
    writer = csv.writer(handle)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for entry in entries:
        row = entry.model_dump()
        writer.writerow(["" if row[c] is None else str(row[c]).lower() if c == "covert" else row[c]
                         for c in EXPORT_COLUMNS])
        count += 1
    return count


CSV_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False, "": False}


def read_csv(source: Path | TextIO, actor: str, now: float | None = None) -> Iterator[WatchlistEntry | RejectedRow]:
    """Parse a watchlist CSV (header: plate,reason[,category,priority,expires_at,covert,source]).

    Yields entries, and ``RejectedRow`` with its line number for each bad row.
    """
    if isinstance(source, Path):
        with source.open(newline="", encoding="utf-8") as handle:
            yield from read_csv(handle, actor, now)
        return
    now = time.time() if now is None else now
    reader = csv.DictReader(source)
    missing = {"plate", "reason"} - set(reader.fieldnames or ())
    if missing:
        yield RejectedRow(1, f"header lacks column(s) {sorted(missing)}")
        return
    for row in reader:
        line = reader.line_num
        try:
            covert_text = (row.get("covert") or "").strip().lower()
            if covert_text not in CSV_BOOLEANS:
                raise ValueError(f"covert must be true/false/yes/no/1/0, not {covert_text!r}")
            covert = CSV_BOOLEANS[covert_text]
            expires = (row.get("expires_at") or "").strip()
            yield WatchlistEntry(
                plate=normalise_plate(row["plate"] or ""),
                reason=row["reason"] or "",
                category=(row.get("category") or "general").strip() or "general",
                priority=int(row.get("priority") or 3),
                expires_at=float(expires) if expires else None,
                covert=covert,
                source=(row.get("source") or "import").strip() or "import",
                added_by=actor,
                added_at=now,
            )
        except ValidationError as error:
            yield RejectedRow(line, describe_validation_error(error))
        except ValueError as error:
            yield RejectedRow(line, str(error))
