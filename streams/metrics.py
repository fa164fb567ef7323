"""Prometheus metrics. Plates never appear as label values (they are personal data)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

MESSAGES_CONSUMED = Counter(
    "watchfloor_messages_consumed_total", "Messages consumed, by topic and outcome (ok or deadletter).",
    ["topic", "outcome"],
)
MESSAGES_PRODUCED = Counter("watchfloor_messages_produced_total", "Messages produced, by topic.", ["topic"])
EVENTS_PROCESSED = Counter(
    "watchfloor_events_processed_total", "Events processed (a batch message counts each read).", ["kind"]
)
DEADLETTERS = Counter("watchfloor_deadletters_total", "Messages sent to the dead-letter topic.", ["topic", "reason"])
ALERTS_RAISED = Counter("watchfloor_alerts_total", "Alerts raised (new alert ids), by rule and severity.",
                        ["rule", "severity"])
ALERT_UPDATES = Counter("watchfloor_alert_updates_total", "Repeats folded into an open alert.", ["rule"])
DUPLICATES_SUPPRESSED = Counter(
    "watchfloor_duplicate_candidates_total", "Candidates dropped as redeliveries of known evidence.", ["rule"]
)
EVENT_TO_ALERT = Histogram(
    "watchfloor_event_to_alert_seconds", "Wall time of alert publication minus the evidence's event time.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
WATCHLIST_SIZE = Gauge("watchfloor_watchlist_entries", "Entries in this worker's watchlist index.")
WATCHLIST_READY = Gauge("watchfloor_watchlist_ready", "1 once the watchlist has been loaded to its end.")
ALERT_ACTIONS = Counter("watchfloor_alert_actions_total", "Operator actions applied, by action.", ["action"])
TIME_TO_ACKNOWLEDGE = Histogram(
    "watchfloor_time_to_acknowledge_seconds", "From an alert being raised to its acknowledgement.",
    buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)
CORRELATIONS = Counter("watchfloor_alert_correlations_total", "Alerts linked by correlation rules.")
DETECTOR_SECONDS = Histogram(
    "watchfloor_detector_seconds", "Time spent in detectors per message, by detector.", ["detector"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
ANPR_HELD_READS = Gauge(
    "watchfloor_anpr_held_reads", "Plate reads held in this worker's ANPR rule state, by stage (each ~360 bytes of "
    "memory: size workers by this, README 'ANPR rules and partitions').", ["kind"])
STATE_REBUILD_READS = Counter(
    "watchfloor_state_rebuild_reads_total", "Reads replayed into rule state on taking over partitions.", ["kind"])
STATE_REBUILD_SECONDS = Counter(
    "watchfloor_state_rebuild_seconds_total", "Time spent replaying reads into rule state.", ["kind"])
CAMERA_FRAMES = Counter("watchfloor_camera_frames_total", "Frames analysed, by camera.", ["camera"])
CAMERA_LAST_FRAME = Gauge("watchfloor_camera_last_frame_timestamp_seconds",
                          "Event time of the latest frame analysed, by camera (feed age = now - this).", ["camera"])
CONSUMER_LAG = Gauge("watchfloor_consumer_lag", "End offset minus this worker's position, per assigned partition.",
                     ["topic", "partition"])
WORKER_READY = Gauge("watchfloor_worker_ready", "1 when /readyz answers 200 (watchlist loaded, partitions assigned).")
ASSIGNED_PARTITIONS = Gauge("watchfloor_assigned_partitions", "Partitions assigned to this worker.")


def exposition(names: Sequence[str] = (), registry: CollectorRegistry = REGISTRY) -> bytes:
    """The text exposition of ``registry``; only the metric families ``names`` when given.

    ``names`` come from ``?name[]=...`` on ``/metrics``, as prometheus-client's own server reads
    them: a scraper that wants a few series (a dashboard tile, a benchmark polling a counter)
    then costs the process a fraction of a full scrape.
    """
    return generate_latest(registry.restricted_registry(list(names)) if names else registry)
