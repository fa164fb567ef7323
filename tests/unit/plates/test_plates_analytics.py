"""The PlateAnalytics facade, configuration validation and privacy helpers."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pydantic import ValidationError

from detectors.findings import Finding
from detectors.plates.analytics import PlateAnalytics
from detectors.plates.config import CirclingSite, PlatesConfig
from detectors.plates.privacy import plate_hash, redact_finding
from detectors.plates.sighting import Sighting
from detectors.plates.watchlist import WatchlistEntry, WatchlistIndex
from tests.unit.plates.conftest import PLACES, sight

T0 = 1_700_000_000.0
KEY = b"0123456789abcdef0123456789abcdef"


def analytics(**entry: object) -> PlateAnalytics:
    wl = WatchlistIndex()
    wl.add(WatchlistEntry(**{"plate": "AB12CDE", "reason": "stolen", "category": "stolen",  # type: ignore[arg-type]
                             "priority": 1, "covert": True, "source": "pnc", **entry}))
    return PlateAnalytics(PlatesConfig(), wl)


@pytest.mark.parametrize(
    ("read", "confidence", "kind", "severity"),
    [
        ("AB12CDE", 0.97, "exact", "critical"),
        ("A812CDE", 0.97, "equivalent", "critical"),
        ("AB12CD", 0.50, "fuzzy", "high"),  # fuzzy matches are one level lower
    ],
)
def test_watchlist_hit_finding(read: str, confidence: float, kind: str, severity: str) -> None:
    (f,) = analytics().process([sight("r1", read, "lon-1", T0, confidence)], now=T0)
    assert (f.rule, f.subject, f.severity, f.first_evidence_id) == ("watchlist_hit", "AB12CDE", severity, "r1")
    assert (f.camera_id, f.site_id, f.event_time) == ("lon-1", "london", T0)
    d = f.details
    assert (d["plate"], d["listed_plate"], d["match_kind"], d["confidence"]) == (read, "AB12CDE", kind, confidence)
    assert (d["reason"], d["category"], d["priority"], d["covert"], d["source"]) == ("stolen", "stolen", 1, True, "pnc")
    assert isinstance(d["differences"], list) and len(d["differences"]) == (kind != "exact")


def test_expiry_uses_the_read_event_time() -> None:
    pa = analytics(expires_at=T0 + 10)
    assert pa.process([sight("r1", "AB12CDE", "lon-1", T0 + 9)], now=T0 + 100)
    assert not pa.process([sight("r2", "AB12CDE", "lon-1", T0 + 10)], now=T0 + 100)


def test_process_runs_every_rule_and_counts() -> None:
    pa = analytics()
    batch = [
        sight("a", "AB12CDE", "lon-1", T0),
        sight("b", "AB12CDE", "man-1", T0 + 600),
        sight("c", "XY99ZZZ", "ring-1", T0 + 700),
    ]
    found = pa.process(batch, now=T0 + 700)
    assert [(f.rule, f.first_evidence_id) for f in found] == [
        ("watchlist_hit", "a"), ("watchlist_hit", "b"), ("cloned_plate", "b"),
    ]
    c = pa.counters
    assert (c.reads, c.watchlist_hits, c.hits_by_kind["exact"]) == (3, 2, 2)
    assert c.findings_by_rule == {"watchlist_hit": 2, "cloned_plate": 1}


def test_convoy_with_a_listed_plate_is_high() -> None:
    pa = analytics(priority=3)
    batch = []
    for i, cam in enumerate(("ring-1", "ring-2", "ring-3")):
        batch += [sight(f"a{i}", "AB12CDE", cam, T0 + 120 * i), sight(f"b{i}", "XY99ZZZ", cam, T0 + 120 * i + 3)]
    convoys = [f for f in pa.process(batch, now=T0 + 300) if f.rule == "convoy"]
    assert [(f.subject, f.severity) for f in convoys] == [("AB12CDE+XY99ZZZ", "high")]


def test_a_site_needing_fewer_passes_than_the_default_is_checked_from_its_second_read() -> None:
    cfg = PlatesConfig.model_validate({"circling": {"passes": 6, "sites": {"ring": {"passes": 2, "window_s": 900}}}})
    pa = PlateAnalytics(cfg)
    found = pa.process([sight("a", "P", "ring-1", T0), sight("b", "P", "ring-2", T0 + 300)], now=T0 + 300)
    assert [(f.rule, f.site_id, f.first_evidence_id) for f in found] == [("circling", "ring", "b")]
    # at the mall the default of 6 passes holds
    assert pa.process([sight("c", "Q", "mall-in", T0), sight("d", "Q", "mall-out", T0 + 300)], now=T0 + 300) == []


def test_disabled_rules_do_not_run() -> None:
    cfg = PlatesConfig.model_validate({"cloned": {"enabled": False}, "convoy": {"enabled": False}})
    pa = PlateAnalytics(cfg)
    assert pa.cloned is None and pa.convoy is None and pa.circling is not None
    assert pa.process([sight("a", "P", "lon-1", T0), sight("b", "P", "man-1", T0 + 60)], now=T0 + 60) == []


def test_config_defaults_and_site_override() -> None:
    cfg = PlatesConfig.model_validate({"circling": {"sites": {"mall": {"passes": 6, "window_s": 600}}}})
    assert cfg.circling.for_site("mall") == CirclingSite(passes=6, window_s=600)
    assert cfg.circling.for_site("elsewhere").passes == cfg.circling.passes
    assert cfg.matching.equivalence_classes[0] == ("0", "O", "D", "Q")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"matching": {"max_equivalent_substitutions": 2, "typo": 1}}, "Extra inputs are not permitted"),
        ({"matching": {"max_equivalent_substitutions": 9}}, "less than or equal to 4"),
        ({"cloned": {"max_speed_kmh": 0}}, "greater than 0"),
        ({"convoy": {"min_cameras": 1}}, "greater than or equal to 2"),
        ({"retention": {"non_hit_read_retention_s": 3600}}, "exceeds retention.non_hit_read_retention_s"),
        ({"circling": {"sites": {"x": {"passes": 3}}}}, "window_s"),
    ],
)
def test_config_rejects(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PlatesConfig.model_validate(raw)


def test_config_is_frozen() -> None:
    cfg = PlatesConfig()
    with pytest.raises(ValidationError):
        cfg.cloned.max_speed_kmh = 10


# --------------------------------------------------------------------------------------- privacy


def test_plate_hash() -> None:
    h = plate_hash("AB12CDE", KEY)
    assert len(h) == 16 and int(h, 16) >= 0
    assert plate_hash("ab12 cde", KEY) == h
    assert plate_hash("AB12CDE", KEY[::-1]) != h
    assert plate_hash("AB12CDF", KEY) != h
    assert len(plate_hash("AB12CDE", KEY, length=32)) == 32
    with pytest.raises(ValueError, match="at least 16 bytes"):
        plate_hash("AB12CDE", b"short")


def test_redact_finding_removes_every_plate() -> None:
    pa = analytics()
    batch = [sight("a", "A812CDE", "lon-1", T0), sight("b", "AB12CDE", "man-1", T0 + 600)]
    findings: list[Finding] = pa.process(batch, now=T0 + 600)
    for f in findings:
        text = repr(redact_finding(f, KEY))
        assert "AB12CDE" not in text and "A812CDE" not in text
        assert plate_hash("AB12CDE", KEY) in text


def test_redelivered_batch_repeats_only_its_watchlist_hits_and_late_reads_still_hit() -> None:
    pa = analytics()
    batch = [sight("a", "AB12CDE", "lon-1", T0), sight("b", "AB12CDE", "man-1", T0 + 600)]
    first = pa.process(batch, now=T0 + 600)
    assert sorted(f.rule for f in first) == ["cloned_plate", "watchlist_hit", "watchlist_hit"]
    # At-least-once redelivery (e.g. the first sends failed): the rules stay quiet, but the hits come
    # again, identical, so a hit whose send was lost is not lost (alerting absorbs true repeats).
    again = pa.process(batch, now=T0 + 600)
    assert again == [f for f in first if f.rule == "watchlist_hit"]
    assert pa.reads.duplicates == 2
    pa.process([sight("c", "ZZ11ZZZ", "lon-1", T0 + 100_000)], now=T0 + 100_000)
    late = pa.process([sight("d", "AB12CDE", "lon-1", T0 + 50)], now=T0 + 100_000)
    assert [f.rule for f in late] == ["watchlist_hit"] and pa.reads.dropped_late == 1


def test_shared_store_holds_each_read_once_and_prunes_to_the_longest_window() -> None:
    pa = PlateAnalytics(PlatesConfig())
    pa.process([sight(f"r{i}", f"P{i % 50}", "ring-1", T0 + i) for i in range(200)], now=T0 + 200)
    assert len(pa.reads) == 200 and pa.reads.plates == 50
    horizon = PlatesConfig().cloned.window_s + PlatesConfig().retention.max_lateness_s
    assert pa.reads.horizon_s == horizon
    pa.prune(T0 + 200 + horizon)
    assert len(pa.reads) == 0 and pa.reads.plates == 0


def _mixed_traffic(seed: int) -> list[Sighting]:
    """Six hours of reads: vehicles at their home camera (a few elsewhere, some far off too soon), cars
    circling the mall (past another site in between), pairs driving the ring together; redelivered and
    late reads."""
    rng = random.Random(seed)
    cameras = list(PLACES)
    homes = {f"V{k:03d}": rng.choice(cameras) for k in range(300)}
    events: list[tuple[float, str, str]] = []
    for plate, home in homes.items():
        t = T0 + rng.uniform(0, 3600)
        while t < T0 + 6 * 3600:
            events.append((t, plate, home if rng.random() < 0.9 else rng.choice(cameras)))
            t += rng.expovariate(1 / 2400)
    for k in range(3):
        t = T0 + rng.uniform(0, 7200)
        for _ in range(rng.randrange(3, 8)):
            events.append((t, f"CIRCLE{k}", rng.choice(["mall-in", "mall-out"])))
            events.append((t + 120, f"CIRCLE{k}", "busy-1"))  # and past another site between passes
            t += rng.uniform(150, 500)
    for k in range(3):
        t = T0 + rng.uniform(0, 10_000)
        for camera in rng.sample(["ring-1", "ring-2", "ring-3", "ring-4"], rng.randrange(3, 5)):
            events.append((t, f"LEAD{k}", camera))
            events.append((t + rng.uniform(0, 8), f"TAIL{k}", camera))
            t += rng.uniform(200, 700)
    events.sort()
    reads = [sight(f"r{i}", plate, camera, t - (rng.uniform(0, 400) if rng.random() < 0.1 else 0.0))
             for i, (t, plate, camera) in enumerate(events)]
    for i in sorted(rng.sample(range(1, len(reads)), len(reads) // 20), reverse=True):
        reads.insert(i, reads[max(0, i - rng.randrange(1, 30))])  # redelivered
    return reads


FEWER_PASSES_AT_THE_RING = {"circling": {"passes": 3, "sites": {"ring": {"passes": 2, "window_s": 900}}},
                            "convoy": {"min_cameras": 2}}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("overrides", [{}, FEWER_PASSES_AT_THE_RING])
def test_rules_see_only_screened_reads_and_find_all_that_every_read_finds(seed: int, overrides: dict[str, Any]) -> None:
    """The store hands the rules only reads whose plate could complete a rule, with the history
    they need: the findings are those of evaluating every read with its whole history."""
    reads = _mixed_traffic(seed)
    screened, every_read = PlateAnalytics(PlatesConfig(**overrides)), PlateAnalytics(PlatesConfig(**overrides))
    every_read.reads.screen = None
    rng, start, got, want = random.Random(seed), 0, [], []
    while start < len(reads):
        batch = reads[start:start + rng.choice([1, 20, 300])]
        got += screened.process(batch)
        want += every_read.process(batch)
        start += len(batch)
    assert got == want
    assert {f.rule for f in got} == {"cloned_plate", "circling", "convoy"}
    assert screened.reads.duplicates == every_read.reads.duplicates > 0
