"""How a second terminal finds a running demo's broker and console with no flags.

``watchfloor demo`` writes a small JSON run file; other commands read it when neither a flag
nor an environment variable says where Kafka is. An explicit setting always wins.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def run_dir() -> Path:
    return Path(os.environ.get("WATCHFLOOR_RUN_DIR") or Path.home() / ".watchfloor")


def run_file() -> Path:
    return run_dir() / "run.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_run_file(**info: Any) -> Path:
    path = run_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), **info}, indent=2))
    tmp.replace(path)
    return path


def read_run_file() -> dict[str, Any] | None:
    """The live demo's info, or ``None`` when there is none (a stale file is ignored)."""
    try:
        info: dict[str, Any] = json.loads(run_file().read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info.get("pid"), int) and _alive(info["pid"]) else None


def remove_run_file() -> None:
    info = read_run_file()
    if info is None or info.get("pid") == os.getpid():
        run_file().unlink(missing_ok=True)
