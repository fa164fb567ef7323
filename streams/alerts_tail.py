"""``watchfloor alerts tail``: alerts as they are raised, in the terminal or as JSON lines."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator

from pydantic import ValidationError

from schemas.alerts import Alert
from streams.clients import follow
from streams.config import WatchfloorConfig
from streams.topics import ALERTS

log = logging.getLogger(__name__)

SEVERITY_STYLE = {"critical": "CRIT", "high": "HIGH", "medium": "MED ", "low": "LOW ", "info": "INFO"}


async def tail_alerts(config: WatchfloorConfig, timeout: float | None = None,
                      from_beginning: bool = True) -> AsyncIterator[Alert]:
    """Yield each alert state published on ``alerts`` (repeats of an open alert included)."""
    async for record in follow(config, ALERTS, from_beginning=from_beginning, timeout=timeout):
        if record.value is None:
            continue
        try:
            yield Alert.model_validate_json(record.value)
        except ValidationError as error:
            log.warning("skipping an unreadable alert at %s[%d]@%d: %s", record.topic, record.partition,
                        record.offset, error.errors()[0]["msg"])


def format_alert(alert: Alert, elapsed: float | None = None) -> str:
    """One terminal line per alert, e.g. ``14:03:05 HIGH watchlist_hit KX19ABC at ...``."""
    when = dt.datetime.fromtimestamp(alert.last_seen).strftime("%H:%M:%S")
    where = alert.details.get("camera_name") or alert.camera_id or "-"
    why = alert.details.get("reason", "")
    repeat = f" x{alert.count}" if alert.count > 1 else ""
    match = alert.details.get("match_kind")
    how = f" ({match} match)" if match and match != "exact" else ""
    prefix = f"[+{elapsed:4.0f}s] " if elapsed is not None else ""
    covert = " COVERT" if alert.restricted else ""
    return (f"{prefix}{when} {SEVERITY_STYLE.get(alert.severity, alert.severity)}{covert} {alert.title}: "
            f"{alert.subject}{how} at {where}{' - ' + why if why else ''}{repeat} [{alert.status}] "
            f"{alert.alert_id}")
