"""Alarm snapshots: image files in one directory that workers write and consoles serve.

The directory is ``snapshots.dir`` (env ``WATCHFLOOR_SNAPSHOT_DIR``); in production it is a
volume shared by workers and consoles. An evidence ``snapshot_ref`` is a path inside it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from streams.config import WatchfloorConfig
from streams.runfile import run_dir

log = logging.getLogger(__name__)

SNAPSHOT_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,255}$")
SNAPSHOT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def snapshot_dir(config: WatchfloorConfig) -> Path:
    path = config.snapshots.dir or run_dir() / "snapshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def resolve_snapshot(root: Path, ref: str | None) -> Path | None:
    """The file a snapshot_ref names inside ``root``, or None if it is absent or points outside.

    >>> resolve_snapshot(Path("/tmp"), "../etc/passwd") is None
    True
    """
    if not ref or not SNAPSHOT_REF.match(ref) or ".." in ref.split("/"):
        return None
    if Path(ref).suffix.lower() not in SNAPSHOT_TYPES:
        return None
    base = root.resolve()
    path = (base / ref).resolve()  # resolve() follows symlinks: a link out of the directory is refused
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


def save_snapshot(config: WatchfloorConfig, name: str, jpeg: bytes) -> str:
    """Write atomically; returns the reference stored in the alert's evidence (the file name)."""
    if not SNAPSHOT_REF.match(name) or "/" in name or Path(name).suffix.lower() not in SNAPSHOT_TYPES:
        raise ValueError(f"unsafe snapshot name {name!r}")
    directory = snapshot_dir(config)
    tmp = directory / f".{name}.tmp"
    tmp.write_bytes(jpeg)
    tmp.replace(directory / name)
    return name


def delete_snapshots(root: Path, refs: Iterable[str]) -> int:
    """Delete the files ``refs`` name inside ``root`` (alerts deleted, evidence trimmed); returns how many.

    Refs that name nothing there (another store's image, already gone) are skipped: deleting is
    idempotent, so a retried sweep is harmless.
    """
    deleted = 0
    for ref in refs:
        path = resolve_snapshot(root, ref)
        if path is None:
            continue
        try:
            path.unlink()
            deleted += 1
        except FileNotFoundError:
            pass
        except OSError as error:  # e.g. a read-only mount: say so, the next sweep tries again
            log.warning("could not delete snapshot %s: %s", ref, error)
    return deleted
