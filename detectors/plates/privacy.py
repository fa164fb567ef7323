"""Keyed plate hashes for logs and metrics: plates are personal data, never log them in clear.

The hash is HMAC-SHA256 under a secret key, truncated to 16 hex characters (64 bits): stable,
so a plate can be followed through the logs by whoever holds the key, but not reversible by
brute-forcing the (small) plate space without the key.

>>> key = b"k" * 32
>>> plate_hash("ab12 cde", key) == plate_hash("AB12CDE", key)
True
>>> len(plate_hash("AB12CDE", key))
16
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from detectors.findings import Finding
from detectors.plates.normalise import normalise_plate

MIN_KEY_BYTES = 16
HASH_HEX_CHARS = 16

# Detail keys that carry plates in findings produced by this package.
_PLATE_KEYS = ("plate", "listed_plate")
_PLATE_LIST_KEYS = ("plates", "watchlisted")


def plate_hash(plate: str, key: bytes, length: int = HASH_HEX_CHARS) -> str:
    """HMAC-SHA256 of the normalised plate, hex, truncated to ``length`` characters.

    >>> plate_hash("AB12CDE", b"short")
    Traceback (most recent call last):
    ...
    ValueError: plate hash key must be at least 16 bytes (got 5)
    """
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"plate hash key must be at least {MIN_KEY_BYTES} bytes (got {len(key)})")
    if not 8 <= length <= 64:
        raise ValueError(f"plate hash length must be 8..64 hex characters (got {length})")
    digest = hmac.new(key, normalise_plate(plate).encode(), hashlib.sha256).hexdigest()
    return digest[:length]


def redact_finding(finding: Finding, key: bytes) -> dict[str, Any]:
    """A log-safe dict of a plate finding: subject and plate fields replaced by keyed hashes.

    >>> f = Finding(rule="convoy", subject="AAA111+BBB222", severity="medium", event_time=1.0,
    ...             first_evidence_id="r1", details={"plates": ["AAA111", "BBB222"], "window_s": 60})
    >>> out = redact_finding(f, b"k" * 32)
    >>> "AAA111" in repr(out), out["details"]["window_s"]
    (False, 60)
    """
    details: dict[str, Any] = dict(finding.details)
    for name in _PLATE_KEYS:
        if isinstance(details.get(name), str):
            details[name] = plate_hash(details[name], key)
    for name in _PLATE_LIST_KEYS:
        if isinstance(details.get(name), list):
            details[name] = [plate_hash(p, key) for p in details[name]]
    return {
        "rule": finding.rule,
        "subject": "+".join(plate_hash(p, key) for p in finding.subject.split("+")),
        "severity": finding.severity,
        "event_time": finding.event_time,
        "first_evidence_id": finding.first_evidence_id,
        "evidence_ids": list(finding.evidence_ids),
        "camera_id": finding.camera_id,
        "site_id": finding.site_id,
        "details": _drop_plate_text(details),
    }


def _drop_plate_text(details: Mapping[str, Any]) -> dict[str, Any]:
    # Why: watchlist differences show the read characters, which leak plate fragments.
    return {k: ("<redacted>" if k == "differences" else v) for k, v in details.items()}
