"""Watchlist matching quality and cost at scale (default: a 1,000,000-entry watchlist).

Run: ``.venv/bin/python bench/anpr_matching.py`` (about a minute), or ``--entries 100000`` for a
quick run. Prints the figures and writes ``bench/results/anpr_matching.json``.

Plate generator (synthetic, UK-weighted):

* 75% current UK ``AA00AAA``: area letters without I/Q/Z, a real age identifier (02-26, 51-75),
  random letters without I/Q;
* 10% UK prefix ``A000AAA`` style (``A1ABC``..``A999ABC``), 10% suffix ``AAA000A``;
* 5% other European-style ``AB1234`` / ``ABC123``.

OCR noise model (each read of a plate, independently):

* capture conditions: ``good`` (80%) or ``poor`` (20%: night, rain, dirt, angle);
* every character that belongs to an equivalence class (0/O/D/Q, 1/I/L, 2/Z, 5/S, 8/B, 6/G) is
  confused, with probability ``p`` (good 0.02, poor 0.10), with a uniformly chosen other member
  of its class; at most two confusions per read;
* confidence: good U(0.88, 0.99), poor U(0.55, 0.85), minus U(0.03, 0.12) per confusion
  (OCR engines are less sure of the characters they get wrong), clamped to [0.05, 0.99];
* the separate *indel* set additionally drops or inserts one character (confidence -0.15).

Measured: recall of listed plates (matched to the right entry), false hits on plates not on the
list (read with the same noise), both with the default same-kind confidence gate and without it,
lookup rate, build time and memory, each next to a plain-``dict`` exact-match baseline from the
same run.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors.plates.analytics import PlateAnalytics
from detectors.plates.config import MatchingConfig, PlatesConfig
from detectors.plates.sighting import Sighting
from detectors.plates.watchlist import WatchlistIndex

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
UK_AREA = "".join(c for c in LETTERS if c not in "IQZ")
UK_RANDOM = "".join(c for c in LETTERS if c not in "IQ")
UK_AGES = [f"{y:02d}" for y in [*range(2, 27), *range(51, 76)]]
RESULTS = Path(__file__).resolve().parent / "results" / "anpr_matching.json"


class Entry(NamedTuple):
    """A light watchlist entry (satisfies ``EntryLike``) so that building measures the index."""

    plate: str
    reason: str
    category: str
    priority: int
    expires_at: float | None
    covert: bool
    source: str
    added_by: str
    added_at: float


class Read(NamedTuple):
    truth: str
    plate: str
    confidence: float
    confusions: int
    condition: str
    same_kind: bool
    """Whether any confusion was letter-for-letter or digit-for-digit."""


# --------------------------------------------------------------------------------- generation


def _pick(rng: np.random.Generator, alphabet: str, n: int) -> np.ndarray:
    table = np.frombuffer(alphabet.encode(), dtype=np.uint8)
    return table[rng.integers(0, len(table), n)]


def generate_plates(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` plates (with repeats possible) from the format mix in the module docstring."""
    counts = rng.multinomial(n, [0.75, 0.10, 0.10, 0.05])
    out: list[str] = []
    # Current UK: AA 00 AAA
    k = int(counts[0])
    ages = np.frombuffer("".join(UK_AGES).encode(), dtype=np.uint8).reshape(-1, 2)[rng.integers(0, len(UK_AGES), k)]
    cols = [_pick(rng, UK_AREA, k), _pick(rng, UK_AREA, k), ages[:, 0], ages[:, 1],
            _pick(rng, UK_RANDOM, k), _pick(rng, UK_RANDOM, k), _pick(rng, UK_RANDOM, k)]
    out += _rows(np.stack(cols, axis=1))
    # Prefix: A 1-999 AAA ; suffix: AAA 1-999 A
    for which, k in (("prefix", int(counts[1])), ("suffix", int(counts[2]))):
        nums = rng.integers(1, 1000, k)
        a = [bytes(x).decode() for x in _pick(rng, UK_RANDOM, k * 4).reshape(k, 4)]
        out += [f"{s[0]}{d}{s[1:]}" if which == "prefix" else f"{s[:3]}{d}{s[3]}" for s, d in zip(a, nums, strict=True)]
    # Other: 2-3 letters + 3-4 digits
    k = int(counts[3])
    nl = rng.integers(2, 4, k)
    letters = [bytes(x).decode() for x in _pick(rng, LETTERS, k * 3).reshape(k, 3)]
    nums = rng.integers(100, 10000, k)
    out += [f"{s[:m]}{d}" for s, m, d in zip(letters, nl, nums, strict=True)]
    return out


def _rows(matrix: np.ndarray) -> list[str]:
    width = matrix.shape[1]
    raw = np.ascontiguousarray(matrix).tobytes().decode()
    return [raw[i : i + width] for i in range(0, len(raw), width)]


class NoiseModel:
    """The OCR noise model of the module docstring."""

    def __init__(self, classes: tuple[tuple[str, ...], ...], rng: random.Random) -> None:
        self.rng = rng
        self.others = {ch: [o for o in group if o != ch] for group in classes for ch in group}
        self.alphabet = LETTERS + DIGITS

    def read(self, truth: str, indel: bool = False) -> Read:
        rng = self.rng
        poor = rng.random() < 0.20
        p = 0.10 if poor else 0.02
        chars = list(truth)
        confusions = 0
        same_kind = False
        for i, ch in enumerate(chars):
            alts = self.others.get(ch)
            if alts and confusions < 2 and rng.random() < p:
                new = rng.choice(alts)
                same_kind |= new.isdigit() == ch.isdigit()
                chars[i] = new
                confusions += 1
        conf = rng.uniform(0.55, 0.85) if poor else rng.uniform(0.88, 0.99)
        conf -= sum(rng.uniform(0.03, 0.12) for _ in range(confusions))
        if indel:
            pos = rng.randrange(len(chars) + 1)
            if rng.random() < 0.5 and len(chars) > 2:
                del chars[min(pos, len(chars) - 1)]
            else:
                chars.insert(pos, rng.choice(self.alphabet))
            conf -= 0.15
        conf = min(0.99, max(0.05, conf))
        return Read(truth, "".join(chars), round(conf, 4), confusions, "poor" if poor else "good", same_kind)


# --------------------------------------------------------------------------------- measuring


def rss_mb() -> float:
    """Current resident set size (Linux), MB."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        import resource

        return pages * resource.getpagesize() / 1e6
    except OSError:  # not Linux: peak RSS is the best we have
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def evaluate(index: WatchlistIndex, listed: list[Read], unlisted: list[Read], indel: list[Read]) -> dict[str, Any]:
    def hits(reads: list[Read]) -> list[tuple[Read, Any]]:
        return [(r, index.match(r.plate, r.confidence, 0.0)) for r in reads]

    listed_hits = hits(listed)
    right = [r for r, m in listed_hits if m is not None and m.entry.plate == r.truth]
    wrong_entry = sum(1 for r, m in listed_hits if m is not None and m.entry.plate != r.truth)
    by_conf: dict[str, list[int]] = {}
    for r, m in listed_hits:
        cell = by_conf.setdefault(f"{r.confusions}_confusions", [0, 0])
        cell[0] += m is not None and m.entry.plate == r.truth
        cell[1] += 1
    missed = Counter(
        (r.condition, "same_kind" if r.same_kind else "cross_kind") for r, m in listed_hits
        if m is None or m.entry.plate != r.truth
    )
    false = [(r, m) for r, m in hits(unlisted) if m is not None]
    indel_hits = hits(indel)
    indel_low = [(r, m) for r, m in indel_hits if r.confidence < (index.config.fuzzy_indel_below_confidence or 0)]
    return {
        "recall": len(right) / len(listed),
        "recall_by_confusions": {k: v[0] / v[1] for k, v in sorted(by_conf.items())},
        "reads_by_confusions": {k: v[1] for k, v in sorted(by_conf.items())},
        "missed_by_cause": {f"{a}/{b}": n for (a, b), n in sorted(missed.items())},
        "wrong_entry_matches": wrong_entry,
        "false_hit_rate": len(false) / len(unlisted),
        "false_hits_by_kind": dict(Counter(m.kind for _, m in false)),
        "indel_recall_all": sum(1 for r, m in indel_hits if m is not None and m.entry.plate == r.truth) / len(indel),
        "indel_recall_low_confidence": (
            sum(1 for r, m in indel_low if m is not None and m.entry.plate == r.truth) / max(1, len(indel_low))
        ),
    }


def timed_lookups(fn: Any, reads: list[Read], repeat: int = 3) -> float:
    """Best-of-``repeat`` seconds per lookup."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()  # CPU time: the VM is shared
        for r in reads:
            fn(r.plate, r.confidence, 0.0)
        best = min(best, time.process_time() - t)
    return best / len(reads)


def simulate_traffic(n_reads: int, plates: list[str], noise: NoiseModel, rate: float = 200.0) -> list[Sighting]:
    """Reads of vehicles driving straight across a 20x20 grid of sites 2 km apart (2 cameras each).

    Trips start as a Poisson process (``rate / 6`` per second), run at 30-108 km/h past 2-12
    sites; event times get +-1 s camera jitter and every 50th pair of reads arrives swapped.
    """
    rng = noise.rng
    side, step_m = 20, 2000.0
    dlat = step_m / 111_200
    dlon = step_m / (111_200 * 0.6225)  # cos(51.5 deg)
    directions = [(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if (a, b) != (0, 0)]
    out: list[Sighting] = []
    t0 = t = 1.7e9
    k = 0
    while len(out) < n_reads:
        t += rng.expovariate(rate / 6)
        truth = plates[k % len(plates)]
        k += 1
        r, c = rng.randrange(side), rng.randrange(side)
        dr, dc = rng.choice(directions)
        speed = rng.uniform(8.3, 30.0)
        tt = t
        for _ in range(rng.randint(2, 12)):
            if not (0 <= r < side and 0 <= c < side):
                break
            read = noise.read(truth)
            site = f"site-{r}-{c}"
            out.append(Sighting(f"r{len(out)}", read.plate, f"{site}-{'ab'[dr > 0 or (dr == 0 and dc > 0)]}", site,
                                51 + dlat * r, -1 + dlon * c, tt + rng.uniform(-1, 1), read.confidence))
            tt += step_m * (dr * dr + dc * dc) ** 0.5 / speed
            r, c = r + dr, c + dc
    out.sort(key=lambda x: x.t)
    for i in range(0, len(out) - 1, 50):
        out[i], out[i + 1] = out[i + 1], out[i]
    del t0
    return out[:n_reads]


def analytics_throughput(index: WatchlistIndex, reads: list[Sighting], batch: int = 500) -> dict[str, Any]:
    """Per-read cost of ``PlateAnalytics.process`` (watchlist + all rules), GC default and frozen."""
    out: dict[str, Any] = {"reads": len(reads), "batch": batch,
                           "event_time_span_s": round(reads[-1].t - reads[0].t, 1)}
    for mode in ("gc_default", "gc_frozen"):
        gc.collect()
        if mode == "gc_frozen":
            gc.freeze()  # what a worker does after loading: long-lived objects leave the GC's scans
        pa = PlateAnalytics(PlatesConfig(matching=index.config), index)
        # CPU time of this process: the VM is shared, wall time swings with other load.
        t = time.process_time()
        for i in range(0, len(reads), batch):
            chunk = reads[i : i + batch]
            pa.process(chunk, chunk[-1].t)
        secs = time.process_time() - t
        if mode == "gc_frozen":
            gc.unfreeze()
        out[mode] = {"us_per_read": round(secs / len(reads) * 1e6, 2), "reads_per_s": round(len(reads) / secs),
                     "findings": dict(pa.counters.findings_by_rule)}
    # Raw baseline from the same run: the loop plus one dict lookup per read.
    table: dict[str, int] = {}
    t = time.process_time()
    for s in reads:
        table.get(s.plate)
    out["baseline_loop_dict_get_us"] = round((time.process_time() - t) / len(reads) * 1e6, 3)
    out["ratio_vs_baseline"] = round(out["gc_frozen"]["us_per_read"] / out["baseline_loop_dict_get_us"], 1)
    return out


def _dict_baseline(table: dict[str, Entry], reads: list[Read], repeat: int = 3) -> float:
    """Best-of-``repeat`` seconds per plain ``dict.get`` of the read plate (exact match only)."""
    get = table.get
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        for r in reads:
            get(r.plate)
        best = min(best, time.process_time() - t)
    return best / len(reads)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=1_000_000, help="watchlist size (default 1,000,000)")
    ap.add_argument("--reads", type=int, default=200_000, help="noisy reads per set (listed / not listed)")
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--no-ungated", action="store_true", help="skip the comparison without the same-kind gate")
    ap.add_argument("--traffic", type=int, default=300_000, help="simulated reads for the analytics throughput")
    args = ap.parse_args(argv)

    config = MatchingConfig()
    nprng = np.random.default_rng(args.seed)
    rng = random.Random(args.seed)
    noise = NoiseModel(config.equivalence_classes, rng)

    t = time.perf_counter()
    pool = list(dict.fromkeys(generate_plates(int((args.entries + args.reads) * 1.2) + 1000, nprng)))
    rng.shuffle(pool)
    listed_plates, other_plates = pool[: args.entries], pool[args.entries :]
    assert len(other_plates) >= args.reads, "plate pool too small"
    entries = [Entry(p, "stolen vehicle", "stolen", 1 + i % 5, None, False, "pnc", "bulk-load", 1.7e9)
               for i, p in enumerate(listed_plates)]
    gen_s = time.perf_counter() - t

    # Baseline: a plain dict of plate -> entry (exact match only), same data, same run.
    gc.collect()
    rss0 = rss_mb()
    t = time.perf_counter()
    baseline = {e.plate: e for e in entries}
    base_build_s = time.perf_counter() - t
    base_mb = rss_mb() - rss0

    gc.collect()
    rss0 = rss_mb()
    t = time.perf_counter()
    index = WatchlistIndex.from_entries(entries, config)
    build_s = time.perf_counter() - t
    gc.collect()
    index_mb = rss_mb() - rss0

    sample = rng.sample(listed_plates, min(args.reads, len(listed_plates)))
    listed = [noise.read(p) for p in sample]
    unlisted = [noise.read(p) for p in other_plates[: args.reads]]
    indel = [noise.read(p, indel=True) for p in sample[: max(1000, args.reads // 10)]]

    t = time.perf_counter()
    quality = evaluate(index, listed, unlisted, indel)
    eval_s = time.perf_counter() - t

    # A realistic stream: 1% of reads are of listed plates.
    n_mixed = min(len(unlisted), 100_000)
    mixed = listed[: n_mixed // 100] + unlisted[: n_mixed - n_mixed // 100]
    rng.shuffle(mixed)
    lookup_s = timed_lookups(index.match, mixed)
    base_s = _dict_baseline(baseline, mixed)
    high_conf_miss = [r for r in unlisted if r.confidence >= 0.9][:50_000]
    miss_s = timed_lookups(index.match, high_conf_miss)
    low = [r for r in unlisted if r.confidence < (config.fuzzy_indel_below_confidence or 0)][:5_000]
    fuzzy_s = timed_lookups(index.match, low, repeat=1) if low else 0.0
    share_low = sum(1 for r in mixed if r.confidence < (config.fuzzy_indel_below_confidence or 0)) / len(mixed)

    del baseline
    # Traffic for the whole-pipeline figure: 0.5% of vehicles are listed.
    vehicles = [rng.choice(listed_plates) if rng.random() < 0.005 else p for p in other_plates[args.reads :]]
    vehicles = vehicles or other_plates
    traffic = simulate_traffic(args.traffic, vehicles, noise)
    analytics = analytics_throughput(index, traffic)
    del traffic

    ungated: dict[str, Any] | None = None
    if not args.no_ungated:
        loose = MatchingConfig(same_kind_substitution_below_confidence=1.0)
        ungated = evaluate(WatchlistIndex.from_entries(entries, loose), listed, unlisted, indel)

    result: dict[str, Any] = {
        "entries": len(index),
        "reads_per_set": args.reads,
        "seed": args.seed,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "config": config.model_dump(mode="json"),
        "noise_model": {
            "conditions": {"good": 0.8, "poor": 0.2},
            "confusion_p": {"good": 0.02, "poor": 0.10},
            "max_confusions": 2,
            "confidence": {"good": [0.88, 0.99], "poor": [0.55, 0.85], "per_confusion": [-0.12, -0.03]},
        },
        "build_s": round(build_s, 3),
        "build_us_per_entry": round(build_s / len(index) * 1e6, 3),
        "index_rss_mb": round(index_mb, 1),
        "bytes_per_entry": round(index_mb * 1e6 / len(index), 1),
        "baseline_dict": {"build_s": round(base_build_s, 3), "rss_mb": round(base_mb, 1),
                          "lookup_us": round(base_s * 1e6, 3)},
        "lookup_us_stream_1pct_listed": round(lookup_s * 1e6, 3),
        "lookups_per_s_stream": round(1 / lookup_s),
        "lookup_us_high_conf_miss": round(miss_s * 1e6, 3),
        "lookup_us_low_conf_miss_fuzzy": round(fuzzy_s * 1e6, 3),
        "share_of_reads_on_fuzzy_path": round(share_low, 4),
        "ratio_lookup_vs_dict_get": round(lookup_s / base_s, 2),
        "gated": quality,
        "ungated_same_kind_any_confidence": ungated,
        "analytics": analytics,
        "targets": {"recall_min": 0.99, "false_hit_rate_max": 0.001},
        "generate_s": round(gen_s, 2),
        "evaluate_s": round(eval_s, 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    _print(result)
    return result


def _print(r: dict[str, Any]) -> None:
    g = r["gated"]
    print(f"watchlist entries           {r['entries']:,}")
    print(f"build                       {r['build_s']:.2f} s ({r['build_us_per_entry']:.2f} us/entry); "
          f"dict baseline {r['baseline_dict']['build_s']:.2f} s")
    print(f"memory                      {r['index_rss_mb']:.0f} MB RSS ({r['bytes_per_entry']:.0f} B/entry); "
          f"dict baseline {r['baseline_dict']['rss_mb']:.0f} MB (entry tuples excluded from both)")
    print(f"lookup (1% listed)          {r['lookup_us_stream_1pct_listed']:.2f} us = {r['lookups_per_s_stream']:,}/s; "
          f"dict.get baseline {r['baseline_dict']['lookup_us']:.2f} us; ratio {r['ratio_lookup_vs_dict_get']}x")
    print(f"lookup high-conf miss       {r['lookup_us_high_conf_miss']:.2f} us")
    print(f"lookup low-conf miss        {r['lookup_us_low_conf_miss_fuzzy']:.1f} us (fuzzy path; "
          f"{r['share_of_reads_on_fuzzy_path']:.1%} of reads below the fuzzy threshold)")
    for name, q in (("gated (default)", g), ("ungated", r["ungated_same_kind_any_confidence"])):
        if q is None:
            continue
        print(f"[{name}] recall {q['recall']:.4%}  false hits {q['false_hit_rate']:.4%} {q['false_hits_by_kind']}  "
              f"by confusions {({k: round(v, 4) for k, v in q['recall_by_confusions'].items()})}")
        print(f"[{name}] missed {q['missed_by_cause']}  wrong-entry {q['wrong_entry_matches']}  "
              f"indel recall all {q['indel_recall_all']:.2%}, low-conf {q['indel_recall_low_confidence']:.2%}")
    a = r["analytics"]
    print(f"PlateAnalytics.process      {a['gc_default']['us_per_read']:.1f} us/read (GC default), "
          f"{a['gc_frozen']['us_per_read']:.1f} us/read = {a['gc_frozen']['reads_per_s']:,}/s (gc.freeze after load); "
          f"{a['reads']:,} simulated reads over {a['event_time_span_s']:.0f} s; "
          f"baseline loop {a['baseline_loop_dict_get_us']} us, ratio {a['ratio_vs_baseline']}x")
    print(f"                            findings {a['gc_frozen']['findings']}")
    ok_r = g["recall"] >= r["targets"]["recall_min"]
    ok_f = g["false_hit_rate"] <= r["targets"]["false_hit_rate_max"]
    print(f"targets: recall >= 99% {'MET' if ok_r else 'MISSED'}; false hits <= 0.1% {'MET' if ok_f else 'MISSED'}")


if __name__ == "__main__":
    main()
