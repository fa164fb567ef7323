"""Console metrics, in a registry per app so several consoles (tests, bench) can share a process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ConsoleMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.materialised = Counter("watchfloor_console_alerts_materialised",
                                    "Alert records read from the alerts topic.", registry=self.registry)
        self.alerts = Gauge("watchfloor_console_alerts", "Alerts held in this console's view.",
                            registry=self.registry)
        self.open_alerts = Gauge("watchfloor_console_open_alerts", "Open alerts (new or acknowledged).",
                                 ["severity"], registry=self.registry)
        self.sse_clients = Gauge("watchfloor_console_sse_clients", "Connected live-feed clients.",
                                 registry=self.registry)
        self.sse_dropped = Counter("watchfloor_console_sse_dropped",
                                   "Live clients dropped for falling behind.", registry=self.registry)
        self.actions = Counter("watchfloor_console_actions", "Operator actions published.", ["action"],
                               registry=self.registry)
        self.actions_rejected = Counter("watchfloor_console_actions_rejected",
                                        "Operator actions the alerting agent refused (from deadletter).",
                                        registry=self.registry)
        self.ready = Gauge("watchfloor_console_ready", "1 once caught up with the alerts topic.",
                           registry=self.registry)
        self.unreadable = Counter("watchfloor_console_unreadable_alerts",
                                  "Alert records skipped as invalid.", registry=self.registry)
        for severity in ("info", "low", "medium", "high", "critical"):
            self.open_alerts.labels(severity)
