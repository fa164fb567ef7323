"""Kafka connection settings in one place: aiokafka clients and the Faust app use the same."""

from __future__ import annotations

import ssl
from typing import Any

from streams.config import WatchfloorConfig


def ssl_context(config: WatchfloorConfig) -> ssl.SSLContext | None:
    security = config.kafka.security
    if security.protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(cafile=str(security.ca_file) if security.ca_file else None)
    if security.cert_file:
        context.load_cert_chain(str(security.cert_file), str(security.key_file) if security.key_file else None)
    return context


def client_kwargs(config: WatchfloorConfig) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
    security = config.kafka.security
    kwargs: dict[str, Any] = {
        "bootstrap_servers": config.kafka.bootstrap,
        "security_protocol": security.protocol,
    }
    context = ssl_context(config)
    if context is not None:
        kwargs["ssl_context"] = context
    if security.protocol.startswith("SASL"):
        kwargs["sasl_mechanism"] = security.sasl_mechanism or "PLAIN"
        kwargs["sasl_plain_username"] = security.username
        kwargs["sasl_plain_password"] = security.password()
    return kwargs


def faust_broker_settings(config: WatchfloorConfig) -> dict[str, Any]:
    """Settings for ``faust.App`` that say how to reach the cluster."""
    import faust

    settings: dict[str, Any] = {
        "broker": ";".join(f"kafka://{host}" for host in config.kafka.bootstrap.split(",")),
    }
    security = config.kafka.security
    context = ssl_context(config)
    if security.protocol.startswith("SASL"):
        settings["broker_credentials"] = faust.SASLCredentials(
            username=security.username,
            password=security.password(),
            mechanism=security.sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    elif context is not None:
        settings["broker_credentials"] = faust.SSLCredentials(context)
    return settings
