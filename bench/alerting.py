"""The alerting consumer's cost per candidate, step by step, beside a raw decode + encode baseline.

Run: ``.venv/bin/python bench/alerting.py`` (a few seconds). Prints the figures and writes
``bench/results/alerting.json``.

Candidates are watchlist hits built by the ANPR pipeline's own code (``candidate_from_finding``
with ``read_evidence``), over ``--subjects`` plates, one every ``--spacing-s`` of event time: with
the defaults most are repeats within the cooldown of their plate's open alert, as at a busy
national feed, and every ``--subjects``-th candidate of a plate comes after the cooldown and
opens a new alert. Each candidate goes through what ``AlertingConsumer.handle`` does with it:

* ``decode``: bytes to a validated candidate (``decode_candidate``);
* ``apply``: ``apply_candidate`` on the key's state (dedupe, repeat or new alert);
* ``encode``: the alert for ``alerts`` and the key's state for ``alerts.state``;
* ``read back``: every worker's open-alerts-by-site view reading the alert from ``alerts``.

The raw baseline is ``json.loads`` of the candidate plus ``json.dumps`` of the alert: the least
any consumer of these messages does. Best of ``--rounds`` rounds, each on fresh state.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.findings import Finding
from schemas.anpr import PlateReadRecord
from streams.agents.alerting import STATE_CODEC
from streams.alert_view import OpenAlertsBySite
from streams.anpr_pipeline import read_evidence
from streams.candidates import candidate_from_finding
from streams.codecs import decode_candidate, encode_candidate
from streams.lifecycle import apply_candidate

RESULTS = Path(__file__).resolve().parent / "results" / "alerting.json"
COOLDOWN_S = 300.0
MAX_BYTES = 1_048_576


def candidates(count: int, subjects: int, spacing_s: float) -> list[bytes]:
    """``count`` encoded watchlist-hit candidates, as the ANPR pipeline sends them."""
    out = []
    for i in range(count):
        plate = f"WF{i % subjects:05d}"
        t = 1_700_000_000.0 + i * spacing_s
        read = PlateReadRecord(read_id=f"r{i}", plate=plate, confidence=0.93, camera_id=f"cam-{i % 50:03d}",
                               event_time=t)
        finding = Finding(rule="watchlist_hit", subject=plate, severity="high", event_time=t,
                          first_evidence_id=read.read_id, camera_id=read.camera_id, site_id=f"site-{i % 7}",
                          details={"plate": plate, "listed_plate": plate, "match_kind": "exact", "differences": [],
                                   "confidence": 0.93, "reason": "stolen vehicle", "category": "stolen",
                                   "priority": 2, "covert": False, "source": "bench", "expires_at": None,
                                   "camera_name": "A1 northbound"})
        out.append(encode_candidate(candidate_from_finding(finding, [read_evidence(read)])))
    return out


def one_round(raw: list[bytes]) -> tuple[dict[str, float], list[bytes]]:
    """Seconds spent in each step over all of ``raw`` and the outcome counts; the alerts published."""
    states: dict[str, dict[str, Any]] = {}
    view = OpenAlertsBySite(rules=("unattended_item",))
    spent = {"decode": 0.0, "apply": 0.0, "encode": 0.0, "read back": 0.0}
    kinds: dict[str, float] = {}
    alerts: list[bytes] = []
    clock = time.perf_counter
    for message in raw:
        t0 = clock()
        candidate = decode_candidate(message, MAX_BYTES)
        t1 = clock()
        outcome = apply_candidate(states.get(candidate.dedupe_key), candidate, candidate.event_time, COOLDOWN_S)
        t2 = clock()
        kinds[outcome.kind] = kinds.get(outcome.kind, 0) + 1
        if outcome.published is None or outcome.state is None:
            spent["decode"] += t1 - t0
            spent["apply"] += t2 - t1
            continue
        alert = STATE_CODEC.encode(outcome.published)
        STATE_CODEC.encode(outcome.state)
        states[candidate.dedupe_key] = outcome.state
        t3 = clock()
        view.apply(None, alert)
        t4 = clock()
        alerts.append(alert)
        for step, seconds in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            spent[step] += seconds
    return spent | {f"outcome {kind}": n for kind, n in kinds.items()}, alerts


def raw_round(raw: list[bytes], alerts: list[bytes]) -> float:
    """Seconds for ``json.loads`` of each candidate and ``json.dumps`` of each alert it led to."""
    started = time.perf_counter()
    for message in raw:
        json.loads(message)
    for alert in alerts:
        json.dumps(json.loads(alert))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=5000)
    parser.add_argument("--subjects", type=int, default=250, help="distinct plates the candidates are about")
    parser.add_argument("--spacing-s", type=float, default=0.2, help="event time between candidates")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    raw = candidates(args.candidates, args.subjects, args.spacing_s)
    rounds = [one_round(raw) for _ in range(args.rounds)]
    # The raw round encodes the alerts as they came out (repeats carry up to 10 evidence entries).
    alerts = rounds[0][1]
    best = min((figures for figures, _ in rounds),
               key=lambda r: sum(r[step] for step in ("decode", "apply", "encode", "read back")))
    raw_s = min(raw_round(raw, alerts) for _ in range(args.rounds))
    per = {step: best[step] / len(raw) * 1e6 for step in ("decode", "apply", "encode", "read back")}
    total_us = sum(per.values())
    raw_us = raw_s / len(raw) * 1e6
    print(f"{len(raw):,} candidates over {args.subjects} plates: "
          + ", ".join(f"{kind.removeprefix('outcome ')} {int(n):,}" for kind, n in best.items()
                      if kind.startswith("outcome")))
    print("per candidate: " + ", ".join(f"{step} {us:.1f} us" for step, us in per.items())
          + f"; total {total_us:.1f} us ({1e6 / total_us:,.0f} candidates/s on one core)")
    print(f"raw json.loads + json.dumps of the same messages: {raw_us:.1f} us; ratio {raw_us / total_us:.2f}")
    results = {
        "benchmark": "alerting",
        "command": " ".join(["python bench/alerting.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        "candidates": len(raw),
        "subjects": args.subjects,
        "outcomes": {k.removeprefix("outcome "): int(v) for k, v in best.items() if k.startswith("outcome")},
        "us_per_candidate": {step: round(us, 2) for step, us in per.items()} | {"total": round(total_us, 2)},
        "candidates_per_s": round(1e6 / total_us),
        "raw_json_us_per_candidate": round(raw_us, 2),
        "ratio_raw_to_total": round(raw_us / total_us, 3),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
