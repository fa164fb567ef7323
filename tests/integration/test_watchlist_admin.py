"""Watchlist import/export through the CLI and the real broker; expiry honoured by the worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from schemas.audit import AuditRecord
from tests.conftest import REPO, WorkerProcess
from tests.integration.kafka_helpers import alerts_for, consume_until, produce_json, read

pytestmark = pytest.mark.integration


def watchfloor(worker: WorkerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=REPO, text=True, capture_output=True,
                          env={**os.environ, "WATCHFLOOR_BOOTSTRAP": worker.bootstrap}, timeout=120)


def test_import_reports_rejected_rows_by_line_and_export_round_trips(worker: WorkerProcess, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:4].upper()
    live, expired = f"IM{tag}1", f"IM{tag}2"
    csv = tmp_path / "hotlist.csv"
    csv.write_text(
        "plate,reason,category,priority,expires_at,covert,source\n"
        f"{live},stolen,stolen,1,,false,pnc\n"
        ",no plate at all,general,3,,,\n"
        f"IM{tag}3,bad priority,general,9,,,\n"
        f"{expired},expired marker,general,2,{time.time() - 60},false,pnc\n"
        f"IM{tag}4,bad flag,general,2,,perhaps,\n")
    imported = watchfloor(worker, "watchlist", "import", str(csv), "--by", "sgt.import")
    assert imported.returncode == 0, imported.stderr
    assert "imported 2 entries, rejected 3 rows" in imported.stdout
    for line in ("line 3:", "line 4: priority", "line 6:"):
        assert line in imported.stderr
    assert "rows read" in imported.stderr  # progress

    exported = watchfloor(worker, "watchlist", "export")
    assert live in exported.stdout and expired in exported.stdout

    audit = consume_until(worker.bootstrap, "audit", lambda rs: any(
        AuditRecord.model_validate_json(r.value).actor == "sgt.import" for r in rs))
    record = next(a for a in (AuditRecord.model_validate_json(r.value) for r in audit) if a.actor == "sgt.import")
    assert record.action == "watchlist.import" and record.details["imported"] == 2

    time.sleep(1.0)  # the worker's replica follows the topic
    produce_json(worker.bootstrap, "anpr.reads", [{"reads": [read(expired), read(live)]}])
    assert alerts_for(worker.bootstrap, live)
    assert alerts_for(worker.bootstrap, expired, timeout=2) == []  # expired entries stop matching
