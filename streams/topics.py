"""Every topic watchfloor uses, with its settings, created explicitly at start-up.

Why explicit: the embedded broker auto-creates unknown topics with 4 partitions, and a Faust
table whose changelog disagrees with its source topic crashes the agent (PartitionsMismatch).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.config import WatchfloorConfig
from streams.kafka import client_kwargs

log = logging.getLogger(__name__)

ANPR_READS = "anpr.reads"
#: Reads again, keyed by plate, when ``kafka.route_journeys_by_plate`` is on (cloned plate, circling).
ANPR_SIGHTINGS = "anpr.sightings"
CAMERA_FRAMES = "camera.frames"
CAMERA_DETECTIONS = "camera.detections"
WATCHLIST = "watchlist"
DEPLOYMENTS = "deployments"
ALERT_CANDIDATES = "alerts.candidates"
ALERTS = "alerts"
ALERT_ACTIONS = "alerts.actions"
AUDIT = "audit"
DEADLETTER = "deadletter"

#: Faust's name for the app and its consumer group; the hot paths' groups are ``<APP_ID>-<path>``.
APP_ID = "watchfloor"
#: The alerting path's state per dedupe key (compacted; partition = the key's input partition).
ALERT_STATE = "alerts.state"

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    compacted: bool = False
    retention_s: float | None = None
    """``None`` keeps the broker default; plate reads use the privacy retention."""
    max_message_bytes: int | None = None

    def configs(self) -> dict[str, str]:
        configs = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if self.retention_s is not None:
            configs["retention.ms"] = str(int(self.retention_s * 1000))
        if self.max_message_bytes is not None:
            configs["max.message.bytes"] = str(self.max_message_bytes)
        return configs


def topic_specs(config: WatchfloorConfig) -> list[TopicSpec]:
    """All topics with their settings; the compose stack and the worker both create these."""
    max_bytes = config.kafka.max_message_bytes
    return [
        # Reads that hit nothing live only as long as the privacy retention allows.
        TopicSpec(ANPR_READS, retention_s=config.anpr.retention.non_hit_read_retention_s,
                  max_message_bytes=max_bytes),
        TopicSpec(ANPR_SIGHTINGS, retention_s=config.anpr.retention.non_hit_read_retention_s,
                  max_message_bytes=max_bytes),
        TopicSpec(CAMERA_FRAMES, retention_s=3600.0, max_message_bytes=max_bytes),
        TopicSpec(CAMERA_DETECTIONS, retention_s=DAY, max_message_bytes=max_bytes),
        TopicSpec(WATCHLIST, compacted=True),
        TopicSpec(DEPLOYMENTS, compacted=True),
        TopicSpec(ALERT_CANDIDATES, retention_s=7 * DAY),
        TopicSpec(ALERTS, compacted=True),
        TopicSpec(ALERT_ACTIONS, retention_s=90 * DAY),
        TopicSpec(AUDIT, retention_s=365 * DAY),
        TopicSpec(DEADLETTER, retention_s=14 * DAY, max_message_bytes=2 * max_bytes + 65_536),
        TopicSpec(ALERT_STATE, compacted=True),
    ]


async def ensure_topics(config: WatchfloorConfig, specs: list[TopicSpec] | None = None) -> list[str]:
    """Create missing topics with the configured partition count; returns the names created."""
    specs = specs if specs is not None else topic_specs(config)
    admin = AIOKafkaAdminClient(**client_kwargs(config), request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(s.name, config.kafka.partitions, config.kafka.replication_factor,
                             topic_configs=s.configs())
                    for s in missing
                ]
            )
            for name, code, message in (tuple(e)[:3] for e in response.topic_errors):
                if code not in (0, 36):  # 36: created meanwhile by another process
                    raise RuntimeError(f"could not create topic {name}: error {code} {message}")
            log.info("created topics: %s", ", ".join(s.name for s in missing))
        return [s.name for s in missing]
    finally:
        await admin.close()
