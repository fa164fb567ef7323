"""Topics as the worker creates them on the real broker: retention of plate reads, compaction of state."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.broker import EmbeddedBroker
from streams.config import load_config
from streams.topics import ensure_topics
from tests.conftest import TEST_CONFIG

pytestmark = pytest.mark.integration


def topic_configs(bootstrap: str, topics: list[str]) -> dict[str, dict[str, str]]:
    async def run() -> dict[str, dict[str, str]]:
        await ensure_topics(load_config(TEST_CONFIG, env={"WATCHFLOOR_BOOTSTRAP": bootstrap}))
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            responses = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics])
        finally:
            await admin.close()
        return {name: {entry[0]: entry[1] for entry in entries}
                for response in responses for _, _, _, name, entries in response.resources}

    return asyncio.run(run())


def test_plate_reads_are_kept_only_for_the_privacy_retention(broker: EmbeddedBroker) -> None:
    config = load_config(TEST_CONFIG, env={"WATCHFLOOR_BOOTSTRAP": broker.bootstrap})
    retention_ms = str(int(config.anpr.retention.non_hit_read_retention_s * 1000))
    configs = topic_configs(broker.bootstrap, ["anpr.reads", "anpr.sightings", "alerts.state"])
    # Both copies of the reads (the plate-keyed one too) expire with the configured retention.
    assert configs["anpr.reads"]["retention.ms"] == retention_ms
    assert configs["anpr.sightings"]["retention.ms"] == retention_ms
    assert configs["anpr.reads"]["cleanup.policy"] == "delete"
    # Alert state is the latest per key, kept as long as the alerts it describes.
    assert configs["alerts.state"]["cleanup.policy"] == "compact"
