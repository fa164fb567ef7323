"""Where the ANPR worker's time goes: the batched drain with the rules off and on, small and full watchlist.

Run: ``.venv/bin/python bench/anpr_floor.py`` (~4-8 minutes; ``--entries 1000 1000000 --reads
400000 --repeat 1`` are the defaults; ``--repeat 3`` runs each set-up three times, interleaved, and
reports medians: single runs here drift by 20% or more). For each watchlist size, twice (the
cloned, circling and convoy rules off, then on): a fresh embedded broker gets the watchlist and the
same kind of backlog as ``bench/anpr.py`` (batches of 500 reads), the raw baseline (plain aiokafka
consume + ``json.loads``) drains it, then a real worker does. Prints reads/s, the ratio to raw, CPU
per read, the kernel's part of it and the page faults a read, and the pipeline's share
(``watchfloor_detector_seconds``); writes ``bench/results/anpr-floor.json``.

Why: ``bench/anpr.py`` gives one ratio for the whole worker. This splits it: the rules off show
what Kafka, decoding and watchlist matching cost; the rules on add the held reads and the rule
evaluations; the small watchlist against the full one shows what the 1M-entry index adds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from anpr import ROOT, Traffic, bench_config, drain, metric, produce, raw_consume, running_worker  # noqa: E402

from streams.broker import EmbeddedBroker  # noqa: E402
from streams.config import load_config  # noqa: E402
from streams.simulate import uk_plate  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402

RULES_OFF = {"cloned": {"enabled": False}, "circling": {"enabled": False}, "convoy": {"enabled": False}}


def one_run(entries: int, reads: int, rules: bool) -> dict[str, Any]:
    """A fresh broker with the watchlist and backlog; raw baseline, then one worker; its figures."""
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        config_path = bench_config(Path(tmp) / "bench.yaml")
        if not rules:
            config = yaml.safe_load(config_path.read_text())
            config_path.write_text(yaml.safe_dump({**config, "anpr": RULES_OFF}))
        config = load_config(config_path, env={"WATCHFLOOR_BOOTSTRAP": broker.bootstrap})
        asyncio.run(ensure_topics(config))
        rng = random.Random(3)
        listed = sorted({uk_plate(rng) for _ in range(entries)})
        traffic = Traffic([c.id for c in config.cameras], listed[:: max(1, len(listed) // 2000)])
        now = time.time()
        asyncio.run(produce(broker.bootstrap, "watchlist", [
            (p.encode(), json.dumps({"schema_version": 1, "plate": p, "reason": "bench", "category": "bench",
                                     "priority": 3, "expires_at": None, "covert": False, "source": "bench",
                                     "added_by": "bench", "added_at": now}).encode()) for p in listed]))
        t0 = time.time() - reads * 0.01 - 600
        backlog = []
        for i in range(0, reads, 500):
            batch = [traffic.read(t0 + (i + j) * 0.01) for j in range(500)]
            backlog.append((batch[0]["camera_id"].encode(), json.dumps({"reads": batch}).encode()))
        asyncio.run(produce(broker.bootstrap, "anpr.reads", backlog))
        raw_s, raw_reads, raw_cpu = asyncio.run(raw_consume(broker.bootstrap, "anpr.reads", len(backlog)))
        raw = (raw_reads / raw_s, raw_reads / raw_cpu)
        label = f"{entries:,} entries, rules {'on' if rules else 'off'}"
        print(f"{label}: raw {raw[0]:,.0f} reads/s, {raw[1]:,.0f} per CPU second", flush=True)
        env = {**os.environ, "WATCHFLOOR_BOOTSTRAP": broker.bootstrap, "WATCHFLOOR_CONFIG": str(config_path),
               "WATCHFLOOR_RUN_DIR": tmp}
        kernel: dict[str, float] = {}
        with running_worker(env, Path(tmp) / "worker.log") as (port, worker, _):
            [(rate, cpu_rate)], candidates, _behind = drain(port, worker.pid, reads, "plate_read", raw,
                                                            [(label, 0, reads)], kernel)
            pipeline_s = metric(port, "watchfloor_detector_seconds_sum", detector="plates")
    return {
        "entries": entries, "rules": rules, "reads": reads,
        "worker_reads_per_s": round(rate), "raw_reads_per_s": round(raw[0]), "ratio": round(rate / raw[0], 3),
        "worker_us_per_read_cpu": round(1e6 / cpu_rate, 2), "raw_us_per_read_cpu": round(1e6 / raw[1], 2),
        "pipeline_us_per_read": round(pipeline_s / reads * 1e6, 2), "alert_candidates": candidates,
        "worker_sys_us_per_read": round(kernel["sys_us_per_read"], 2),
        "worker_page_faults_per_read": round(kernel["faults_per_read"], 3),
    }


#: The figures a set-up's repeats are summarised by (medians: one slow run should not move them).
FIGURES = ("ratio", "worker_us_per_read_cpu", "raw_us_per_read_cpu", "pipeline_us_per_read", "worker_sys_us_per_read",
           "worker_page_faults_per_read")


def medians(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per set-up (entries, rules): the median of each figure over its repeats."""
    setups: dict[tuple[int, bool], list[dict[str, Any]]] = {}
    for run in runs:
        setups.setdefault((run["entries"], run["rules"]), []).append(run)
    return [{"entries": entries, "rules": rules, "repeats": len(same),
             **{name: round(statistics.median(r[name] for r in same), 3) for name in FIGURES}}
            for (entries, rules), same in setups.items()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, nargs="+", default=[1_000, 1_000_000], help="watchlist sizes")
    ap.add_argument("--reads", type=int, default=400_000, help="reads in the backlog (batches of 500)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each set-up, interleaved (one of each, then again); medians are reported")
    args = ap.parse_args(argv)
    setups = [(entries, rules) for entries in args.entries for rules in (False, True)]
    runs = []
    for round_number in range(1, args.repeat + 1):
        for entries, rules in setups:
            if args.repeat > 1:
                print(f"-- round {round_number} of {args.repeat}", flush=True)
            runs.append(one_run(entries, args.reads, rules))
    summary = medians(runs)
    print(f"\nmedians over {args.repeat} run(s) of each set-up:")
    print("entries    rules  ratio  worker us/read (CPU)  of it, kernel  page faults/read  raw us/read  "
          "pipeline us/read")
    for r in summary:
        print(f"{r['entries']:>9,}  {'on ' if r['rules'] else 'off'}  {r['ratio']:>5.2f}  "
              f"{r['worker_us_per_read_cpu']:>20.2f}  {r['worker_sys_us_per_read']:>13.2f}  "
              f"{r['worker_page_faults_per_read']:>16.3f}  {r['raw_us_per_read_cpu']:>11.2f}  "
              f"{r['pipeline_us_per_read']:>16.2f}")
    out = ROOT / "bench" / "results" / "anpr-floor.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"medians": summary, "runs": runs}, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
