"""Run-time deployment zones on the compacted ``deployments`` topic; every change is audited."""

from __future__ import annotations

import time

from schemas.audit import AuditRecord
from schemas.deployments import Deployment
from streams.clients import latest_values, produce
from streams.codecs import encode
from streams.config import WatchfloorConfig
from streams.topics import AUDIT, DEPLOYMENTS


def _audit(actor: str, action: str, target: str, **details: object) -> tuple[bytes, bytes]:
    return actor.encode(), encode(AuditRecord(at=time.time(), actor=actor, action=action, target=target,
                                              details=dict(details)))


async def declare(config: WatchfloorConfig, deployment: Deployment, actor: str) -> None:
    unknown = sorted(set(deployment.sites) - {s.id for s in config.sites})
    if unknown:
        raise ValueError(f"unknown site(s) {unknown}; configured: {[s.id for s in config.sites]}")
    await produce(config, DEPLOYMENTS, [(deployment.id.encode(), encode(deployment))])
    await produce(config, AUDIT, [_audit(actor, "deployment.declare", deployment.id,
                                         sites=deployment.sites, start=deployment.start.isoformat(),
                                         end=deployment.end.isoformat())])


async def end(config: WatchfloorConfig, deployment_id: str, actor: str) -> None:
    await produce(config, DEPLOYMENTS, [(deployment_id.encode(), None)])  # tombstone
    await produce(config, AUDIT, [_audit(actor, "deployment.end", deployment_id)])


async def declared(config: WatchfloorConfig) -> list[Deployment]:
    return sorted((Deployment.model_validate_json(v) for v in await latest_values(config, DEPLOYMENTS)),
                  key=lambda d: d.start)
