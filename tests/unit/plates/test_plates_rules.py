"""Cloned-plate, circling and convoy rules on event-time sequences (incl. late and duplicate reads)."""

from __future__ import annotations

import itertools
import random

import pytest

from detectors.findings import Finding
from detectors.plates.circling import CirclingRule
from detectors.plates.cloned import ClonedPlateRule
from detectors.plates.config import (
    CirclingConfig,
    CirclingSite,
    ClonedPlateConfig,
    ConvoyConfig,
    RetentionConfig,
)
from detectors.plates.convoy import ConvoyRule
from detectors.plates.sighting import Sighting
from tests.unit.plates.conftest import sight

T0 = 1_700_000_000.0
Rule = ClonedPlateRule | CirclingRule | ConvoyRule


def run(rule: Rule, sightings: list[Sighting]) -> list[Finding]:
    out: list[Finding] = []
    for s in sightings:
        out.extend(rule.observe(s))
    return out


def ids(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.rule, f.subject, f.first_evidence_id) for f in findings]


# --------------------------------------------------------------------------------------- cloned

# (reads as (id, camera, seconds after T0), expected first_evidence_ids)
CLONED_CASES = [
    pytest.param([("a", "lon-1", 0), ("b", "man-1", 600)], ["b"], id="262km-in-10min"),
    pytest.param([("a", "lon-1", 0), ("b", "man-1", 3 * 3600)], [], id="262km-in-3h-is-plausible"),
    pytest.param([("a", "lon-1", 0), ("b", "lon-1", 1)], [], id="same-camera"),
    pytest.param([("a", "mall-in", 0), ("b", "mall-out", 1)], [], id="cameras-closer-than-min-distance"),
    pytest.param([("b", "man-1", 600), ("a", "lon-1", 0)], ["b"], id="out-of-order-same-finding"),
    pytest.param([("a", "lon-1", 0), ("b", "man-1", 600), ("b", "man-1", 600)], ["b"], id="duplicate-read"),
    pytest.param([("a", "lon-1", 0), ("b", "man-1", 5 * 3600)], [], id="beyond-window"),
    pytest.param(
        [("a", "lon-1", 0), ("b", "man-1", 600), ("c", "lon-1", 1200)], ["b", "c"], id="clone-seen-again"
    ),
]


@pytest.mark.parametrize(("reads", "expected"), CLONED_CASES)
def test_cloned(reads: list[tuple[str, str, float]], expected: list[str]) -> None:
    rule = ClonedPlateRule(ClonedPlateConfig(window_s=4 * 3600))
    found = run(rule, [sight(r, "AB12CDE", cam, T0 + dt) for r, cam, dt in reads])
    assert [f.first_evidence_id for f in found] == expected
    for f in found:
        assert f.rule == "cloned_plate" and f.subject == "AB12CDE" and f.severity == "high"
        assert f.details["speed_kmh"] > 250 and len(f.evidence_ids) == 2


def test_cloned_finding_carries_both_reads_speeds_and_cameras() -> None:
    rule = ClonedPlateRule(ClonedPlateConfig())
    (f,) = run(rule, [sight("b", "AB12CDE", "man-1", T0 + 600), sight("a", "AB12CDE", "lon-1", T0)])
    assert f.evidence_ids == ("a", "b") and f.first_evidence_id == "b" and f.event_time == T0 + 600
    assert f.details["cameras"] == ["lon-1", "man-1"] and f.details["read_ids"] == ["a", "b"]
    assert f.details["distance_km"] == pytest.approx(262, abs=1)
    assert f.details["speed_kmh"] == pytest.approx(262 / (600 / 3600), rel=0.01)
    assert rule.duplicates == 0


def test_cloned_clock_skew_tolerance() -> None:
    # 2 km in 2 s would be 3600 km/h, but gaps under min_time_gap_s count as min_time_gap_s.
    cfg = ClonedPlateConfig(min_time_gap_s=60)
    found = run(ClonedPlateRule(cfg), [sight("a", "P1", "ring-1", T0), sight("b", "P1", "ring-2", T0 + 2)])
    assert found == []
    found = run(ClonedPlateRule(ClonedPlateConfig(min_time_gap_s=1)),
                [sight("a", "P1", "ring-1", T0), sight("b", "P1", "ring-2", T0 + 2)])
    assert len(found) == 1


def test_cloned_prunes_and_drops_too_late_reads() -> None:
    cfg = ClonedPlateConfig(window_s=600)
    rule = ClonedPlateRule(cfg, RetentionConfig(max_lateness_s=60))
    run(rule, [sight(f"r{i}", f"P{i}", "lon-1", T0 + i) for i in range(10)])
    assert len(rule) == 10
    run(rule, [sight("new", "Q", "lon-1", T0 + 10_000)])
    assert len(rule) == 1
    assert run(rule, [sight("late", "Q", "man-1", T0 + 10_000 - 700)]) == []
    assert rule.dropped_late == 1


# ------------------------------------------------------------------------------------- circling

CIRCLING = CirclingConfig(passes=3, window_s=900, pass_merge_s=60,
                          sites={"busy": CirclingSite(passes=5, window_s=900)})


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        pytest.param([("a", 0), ("b", 300), ("c", 600)], ["c"], id="three-passes"),
        pytest.param([("a", 0), ("b", 300), ("c", 600), ("d", 800), ("e", 1000)], ["c"], id="once-per-episode"),
        pytest.param([("a", 0), ("b", 500), ("c", 1000)], [], id="spread-beyond-window"),
        pytest.param([("a", 0), ("b", 20), ("c", 40), ("d", 300)], [], id="reads-within-merge-are-one-pass"),
        pytest.param([("c", 600), ("a", 0), ("b", 300)], ["c"], id="out-of-order"),
        pytest.param([("a", 0), ("a", 0), ("b", 300), ("b", 300)], [], id="duplicates-do-not-count"),
        pytest.param(
            [("a", 0), ("b", 300), ("c", 600), ("x", 5000), ("y", 5300), ("z", 5600)], ["c", "z"],
            id="new-episode-after-a-break",
        ),
        pytest.param([("a", 0), ("b", 70), ("c", 140)], ["c"], id="merge-measured-from-pass-start"),
    ],
)
def test_circling(reads: list[tuple[str, float]], expected: list[str]) -> None:
    cams = itertools.cycle(["mall-in", "mall-out"])
    found = run(CirclingRule(CIRCLING), [sight(r, "AB12CDE", next(cams), T0 + dt) for r, dt in reads])
    assert [f.first_evidence_id for f in found] == expected
    for f in found:
        assert f.rule == "circling" and f.subject == "AB12CDE" and f.site_id == "mall"
        assert len(f.evidence_ids) == 3 and f.evidence_ids[-1] == f.first_evidence_id


def test_circling_site_override_and_sites_are_independent() -> None:
    rule = CirclingRule(CIRCLING)
    busy = [sight(f"b{i}", "P1", "busy-1", T0 + 120 * i) for i in range(4)]
    assert run(rule, busy) == []  # "busy" needs 5 passes
    assert ids(run(rule, [sight("b4", "P1", "busy-1", T0 + 480)])) == [("circling", "P1", "b4")]
    # Two passes at two different sites never add up.
    other = [sight("m1", "P2", "mall-in", T0), sight("m2", "P2", "mall-in", T0 + 300),
             sight("r1", "P2", "ring-1", T0 + 400)]
    assert run(rule, other) == []


def test_circling_any_arrival_order_gives_the_same_finding() -> None:
    reads = [sight(f"r{i}", "AB12CDE", "mall-in", T0 + 200 * i) for i in range(3)]
    seen = set()
    for order in itertools.permutations(reads):
        found = run(CirclingRule(CIRCLING), list(order))
        assert len(found) == 1
        seen.add((found[0].first_evidence_id, found[0].evidence_ids))
    assert seen == {("r2", ("r0", "r1", "r2"))}


# --------------------------------------------------------------------------------------- convoy

CONVOY = ConvoyConfig(max_gap_s=10, min_cameras=3, window_s=1800)


def convoy_reads(gap: float = 4.0, cameras: tuple[str, ...] = ("ring-1", "ring-2", "ring-3"),
                 spacing: float = 120.0) -> list[Sighting]:
    reads = []
    for i, cam in enumerate(cameras):
        t = T0 + spacing * i
        reads.append(sight(f"a{i}", "AAA111", cam, t))
        reads.append(sight(f"b{i}", "BBB222", cam, t + gap))
    return reads


@pytest.mark.parametrize(
    ("reads", "expected"),
    [
        pytest.param(convoy_reads(), [("convoy", "AAA111+BBB222", "b2")], id="three-cameras"),
        pytest.param(convoy_reads(cameras=("ring-1", "ring-2")), [], id="two-cameras-only"),
        pytest.param(convoy_reads(gap=30), [], id="too-far-apart-in-time"),
        pytest.param(convoy_reads(spacing=1000), [], id="spread-beyond-window"),
        pytest.param(
            convoy_reads(cameras=("ring-1", "ring-2", "ring-3", "ring-4")), [("convoy", "AAA111+BBB222", "b2")],
            id="once-per-episode",
        ),
        pytest.param(convoy_reads()[::-1], [("convoy", "AAA111+BBB222", "b2")], id="reverse-order"),
        pytest.param(convoy_reads() + convoy_reads(), [("convoy", "AAA111+BBB222", "b2")], id="redelivered"),
    ],
)
def test_convoy(reads: list[Sighting], expected: list[tuple[str, str, str]]) -> None:
    assert ids(run(ConvoyRule(CONVOY), reads)) == expected


def test_convoy_found_at_busy_cameras_where_one_off_plates_pass_nearer_in_time() -> None:
    """Only the nearest few reads at a camera are paired (``max_partners_per_read``), but plates
    seen too few times to be in a convoy do not take those places."""
    reads = []
    for i, (a, b) in enumerate(zip(convoy_reads()[::2], convoy_reads()[1::2], strict=True)):
        reads.append(a)
        # Passers-by, each seen once, read between the pair: all nearer to the second than the first.
        reads += [sight(f"x{i}-{k}", f"ONE{i}{k}", a.camera_id, a.t + 1.0 + k * 0.5) for k in range(5)]
        reads.append(b)
    config = CONVOY.model_copy(update={"max_partners_per_read": 2})
    assert ids(run(ConvoyRule(config), reads)) == [("convoy", "AAA111+BBB222", "b2")]


def test_convoy_same_camera_revisits_do_not_count_as_distinct_cameras() -> None:
    reads = convoy_reads(cameras=("ring-1", "ring-2", "ring-1", "ring-2"))
    assert run(ConvoyRule(CONVOY), reads) == []


def test_convoy_severity_and_evidence() -> None:
    rule = ConvoyRule(CONVOY, is_watchlisted=lambda plate: plate == "BBB222")
    (f,) = run(rule, convoy_reads())
    assert f.severity == "high" and f.details["watchlisted"] == ["BBB222"]
    assert f.details["cameras"] == ["ring-1", "ring-2", "ring-3"] and f.camera_id == "ring-3"
    assert set(f.evidence_ids) == {"a0", "b0", "a1", "b1", "a2", "b2"}
    assert ConvoyRule(CONVOY).observe_many(convoy_reads())[0].severity == "medium"


def test_convoy_any_arrival_order_gives_the_same_finding() -> None:
    reads = convoy_reads()
    rng = random.Random(7)
    for _ in range(30):
        order = reads[:]
        rng.shuffle(order)
        assert ids(run(ConvoyRule(CONVOY), order)) == [("convoy", "AAA111+BBB222", "b2")]


def test_convoy_is_found_in_a_partition_drained_behind_the_others() -> None:
    """Catching up, a partition's reads arrive minutes behind the newest event time seen, beyond
    ``max_lateness_s``, in fetches interleaved with the partitions ahead of it."""
    behind = convoy_reads()
    ahead = [sight(f"far{i}", f"FAR{i}", "man-1", T0 + 400 + 320 * i) for i in range(len(behind))]
    interleaved = [read for pair in zip(ahead, behind, strict=True) for read in pair]
    rule = ConvoyRule(CONVOY)
    found = []
    for read in interleaved:  # each read its own fetch: the worker prunes after every pass
        found += rule.observe(read)
        rule.prune(read.t)
    assert ids(found) == [("convoy", "AAA111+BBB222", "b2")]
    assert rule.dropped_late == 0


def test_convoy_ignores_unrelated_traffic_and_prunes() -> None:
    rule = ConvoyRule(CONVOY, RetentionConfig(max_lateness_s=60))
    noise = [sight(f"n{i}", f"N{i}", f"ring-{1 + i % 4}", T0 + i * 3) for i in range(300)]
    assert run(rule, noise) == []
    assert len(rule) == 300
    run(rule, [sight("late-enough", "Z", "ring-1", T0 + 10_000)])
    assert len(rule) == 1
    assert run(rule, [sight("too-late", "Z", "ring-1", T0)]) == [] and rule.dropped_late == 1


def test_rules_are_deterministic_under_reprocessing() -> None:
    reads = [*convoy_reads(), sight("x", "AAA111", "man-1", T0 + 900)]
    def all_findings() -> list[Finding]:
        rules: list[Rule] = [ClonedPlateRule(ClonedPlateConfig()), CirclingRule(CIRCLING), ConvoyRule(CONVOY)]
        return [f for r in rules for f in run(r, reads)]
    first, second = all_findings(), all_findings()
    # (Three passes of the "ring" site inside 15 min also count as circling.)
    assert first == second and {f.rule for f in first} == {"cloned_plate", "circling", "convoy"}


def test_cloned_cost_is_bounded_for_plates_seen_all_day() -> None:
    # A bus read every 2 minutes along a route for 4 hours, then once 262 km away.
    rule = ClonedPlateRule(ClonedPlateConfig())
    route = [sight(f"r{i}", "BUS1", f"ring-{1 + i % 4}", T0 + 120 * i) for i in range(120)]
    assert run(rule, route) == []
    (f,) = rule.observe(sight("far", "BUS1", "man-1", T0 + 120 * 120))
    assert f.evidence_ids[1] == "far"


def test_recent_reads_dedupes_anywhere_in_the_history() -> None:
    from detectors.plates.recent import RecentReads

    store = RecentReads(horizon_s=3600)
    for rid, t in [("a", 10), ("b", 20), ("c", 20), ("d", 30)]:
        assert store.add(sight(rid, "P", "ring-1", T0 + t)) is not None
    assert store.add(sight("b", "P", "ring-1", T0 + 20)) is None  # an older read redelivered
    assert store.add(sight("a", "P", "ring-1", T0 + 10)) is None
    hist = store.add(sight("e", "P", "ring-2", T0 + 15))  # a late read, sorted into place
    assert hist is not None and [s.read_id for s in hist] == ["a", "e", "b", "c", "d"]
    assert (store.duplicates, len(store), store.plates) == (2, 5, 1)
