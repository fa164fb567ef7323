"""Where a state rebuild starts: the first offset of the rules' horizon, by interpolation against bisection.

Run: ``.venv/bin/python bench/rebuild_start.py`` (~1 minute; ``--reads 200000 --per-message 1``
are the defaults). A fresh embedded broker gets a day of plate reads over four partitions (record
timestamps spread over 24 h); then the worker's search (``streams.clients._start_offsets``, an
interpolation over record times) and a plain bisection over the same records, alternately, find
where the last 4 h 5 min start. Prints both times, the probes each took and their ratio; checks
they agree; writes ``bench/results/rebuild-start.json``.

Why: each probe is a fetch, and on the embedded broker one that returns everything after its
offset, so the probes were a fixed cost of every rebuild (~1.3 s of the 4 s the bench's takeover
rebuild took).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from anpr import Traffic, bench_config  # noqa: E402

from streams import clients  # noqa: E402
from streams.broker import EmbeddedBroker  # noqa: E402
from streams.config import WatchfloorConfig, load_config  # noqa: E402
from streams.simulate import uk_plate  # noqa: E402
from streams.topics import ANPR_READS, ensure_topics  # noqa: E402

SPAN_S = 4 * 3600 + 300  # the default rules' horizon: cloned-plate window plus lateness
PARTITIONS = 4


async def produce_day(bootstrap: str, reads: int, per_message: int, cameras: list[str]) -> None:
    rng = random.Random(3)
    traffic = Traffic(cameras, sorted({uk_plate(rng) for _ in range(1000)}))
    step, t0 = 86400.0 / reads, time.time() - 86400
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=10, max_request_size=8 * 1_048_576,
                                max_batch_size=1_048_576)
    await producer.start()
    try:
        sent = []
        for i in range(0, reads, per_message):
            batch = [traffic.read(t0 + (i + j) * step) for j in range(per_message)]
            value = json.dumps(batch[0] if per_message == 1 else {"reads": batch}).encode()
            sent.append(await producer.send(ANPR_READS, value, partition=(i // per_message) % PARTITIONS,
                                            timestamp_ms=int((t0 + i * step) * 1000)))
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def bisected_starts(config: WatchfloorConfig, ends: dict[int, int], probes: list[int]
                          ) -> dict[TopicPartition, int]:
    """The baseline: the same probes (``clients._record_at``), chosen by bisection."""
    consumer, partitions = await clients._assigned_consumer(config, ANPR_READS, list(ends),
                                                            max_partition_fetch_bytes=1,
                                                            fetch_max_wait_ms=config.kafka.fetch_max_wait_ms)
    try:
        starts = {}
        consumer.pause(*partitions)
        for tp in partitions:
            consumer.resume(tp)
            low, high = 0, ends[tp.partition]
            newest = await clients._record_at(consumer, tp, high - 1)
            probes[0] += 1
            assert newest is not None
            target = newest.timestamp - int(SPAN_S * 1000)
            while low < high:
                middle = (low + high) // 2
                record = await clients._record_at(consumer, tp, middle)
                probes[0] += 1
                assert record is not None
                if record.offset >= high or record.timestamp >= target:
                    high = middle
                else:
                    low = record.offset + 1
            starts[tp] = low
            consumer.pause(tp)
        return starts
    finally:
        await consumer.stop()


async def interpolated_starts(config: WatchfloorConfig, ends: dict[int, int], probes: list[int]
                              ) -> dict[TopicPartition, int]:
    """The worker's own search, its probes counted."""
    record_at = clients._record_at

    async def counted(*args: Any) -> Any:
        probes[0] += 1
        return await record_at(*args)

    clients._record_at = counted  # type: ignore[assignment]
    try:
        return await clients._start_offsets(config, ANPR_READS, ends, SPAN_S, {})
    finally:
        clients._record_at = record_at  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", type=int, default=200_000, help="reads over the day")
    ap.add_argument("--per-message", type=int, default=1, help="reads per message (1: single-read messages)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of each search")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        config = load_config(bench_config(Path(tmp) / "bench.yaml"), env={"WATCHFLOOR_BOOTSTRAP": broker.bootstrap})
        asyncio.run(ensure_topics(config))
        print(f"producing {args.reads:,} reads over 24 h, {args.per_message} a message, on {PARTITIONS} partitions",
              flush=True)
        asyncio.run(produce_day(broker.bootstrap, args.reads, args.per_message, [c.id for c in config.cameras]))

        async def end_offsets() -> dict[int, int]:
            consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
            await consumer.start()
            try:
                tps = [TopicPartition(ANPR_READS, p) for p in range(PARTITIONS)]
                return {tp.partition: offset for tp, offset in (await consumer.end_offsets(tps)).items()}
            finally:
                await consumer.stop()

        ends = asyncio.run(end_offsets())
        times: dict[str, list[float]] = {"interpolation": [], "bisection": []}
        probes: dict[str, list[int]] = {"interpolation": [0], "bisection": [0]}
        found: dict[str, dict[TopicPartition, int]] = {}
        for _ in range(args.rounds):
            for name, search in (("bisection", bisected_starts), ("interpolation", interpolated_starts)):
                started = time.perf_counter()
                found[name] = asyncio.run(search(config, ends, probes[name]))
                times[name].append(time.perf_counter() - started)
    if found["interpolation"] != found["bisection"]:
        print(f"the searches disagree: {found}", file=sys.stderr)
        return 1
    best = {name: min(values) for name, values in times.items()}
    per_search = {name: probes[name][0] // args.rounds for name in probes}
    result = {
        "reads": args.reads, "per_message": args.per_message, "partitions": PARTITIONS, "span_s": SPAN_S,
        "messages_per_partition": round(sum(ends.values()) / PARTITIONS),
        "interpolation_s": round(best["interpolation"], 3), "bisection_s": round(best["bisection"], 3),
        "ratio": round(best["interpolation"] / best["bisection"], 3),
        "probes_interpolation": per_search["interpolation"], "probes_bisection": per_search["bisection"],
    }
    print(f"start of the last {SPAN_S / 3600:.2f} h on {PARTITIONS} partitions of "
          f"{result['messages_per_partition']:,} messages: interpolation {best['interpolation']:.2f} s "
          f"({per_search['interpolation']} probes), bisection {best['bisection']:.2f} s "
          f"({per_search['bisection']} probes): ratio {result['ratio']}")
    out = BENCH / "results" / "rebuild-start.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(BENCH.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
