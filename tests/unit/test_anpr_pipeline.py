"""The ANPR pipeline between wire reads and alert candidates: covert hits, unusable reads, state rebuilds."""

from __future__ import annotations

import pytest

from detectors.plates.watchlist import WatchlistEntry, WatchlistIndex
from schemas.anpr import PlateReadRecord
from streams.anpr_pipeline import AnprPipeline
from streams.config import parse_config

CONFIG = parse_config({
    "sites": [{"id": "s", "name": "S", "lat": 51.5, "lon": -0.1}, {"id": "t", "name": "T", "lat": 51.6, "lon": -0.1}],
    "cameras": [{"id": f"c{i}", "name": f"C{i}", "site": "s", "lat": 51.5 + i * 0.01, "lon": -0.1}
                for i in range(3)],
}, env={})


def read(read_id: str, plate: str, camera: str = "c0", t: float = 1.7e9) -> PlateReadRecord:
    return PlateReadRecord(read_id=read_id, plate=plate, confidence=0.95, camera_id=camera, event_time=t)


def pipeline(*entries: WatchlistEntry) -> AnprPipeline:
    index = WatchlistIndex(CONFIG.anpr.matching)
    for entry in entries:
        index.add(entry)
    return AnprPipeline(CONFIG, index)


def test_covert_hit_is_restricted_and_carries_its_evidence() -> None:
    out = pipeline(WatchlistEntry(plate="AB12CDE", reason="covert op", covert=True)).process(
        [read("r1", "ab12 cde")])
    (candidate,) = out.candidates
    assert candidate.rule == "watchlist_hit" and candidate.restricted
    assert candidate.evidence[0].event_id == "r1" and candidate.details["camera_name"] == "C0"


def test_convoy_with_a_covert_plate_is_restricted() -> None:
    runner = pipeline(WatchlistEntry(plate="AB12CDE", reason="covert op", covert=True, priority=5))
    reads = []
    for step, camera in enumerate(("c0", "c1", "c2")):
        t = 1.7e9 + step * 300
        reads += [read(f"a{step}", "AB12CDE", camera, t), read(f"b{step}", "XY34ZZZ", camera, t + 2)]
    convoys = [c for c in runner.process(reads).candidates if c.rule == "convoy"]
    assert convoys and all(c.restricted for c in convoys)


def test_unusable_reads_are_reported_without_quoting_the_plate() -> None:
    out = pipeline().process([read("r1", "AB12CDE", camera="nowhere"), read("r2", "??")])
    reasons = dict((r.read_id, reason) for r, reason in out.unusable)
    assert "unknown camera" in reasons["r1"]
    assert "??" not in reasons["r2"] and "not a usable plate" in reasons["r2"]


def test_terminal_line_names_the_camera_and_how_it_matched() -> None:
    from streams.alerts_tail import format_alert
    from streams.codecs import decode_candidate, encode_candidate
    from streams.lifecycle import apply_candidate

    (candidate,) = pipeline(WatchlistEntry(plate="AB12CDE", reason="stolen")).process(
        [read("r1", "A812CDE")]).candidates  # an OCR 8-for-B confusion
    alert = apply_candidate(None, decode_candidate(encode_candidate(candidate), 1_048_576), 1.0, 300).alert
    assert alert is not None
    line = format_alert(alert)
    assert "at C0" in line and "(equivalent match)" in line and "stolen" in line


def test_stages_split_the_rules_around_the_plate_keyed_repartition() -> None:
    index = WatchlistIndex(CONFIG.anpr.matching)
    index.add(WatchlistEntry(plate="AB12CDE", reason="stolen"))
    # Listed plate at c0 then, 10 s later, 20 km away (site t): a hit and an impossible journey.
    far = CONFIG.model_copy(update={"cameras": [*CONFIG.cameras, CONFIG.cameras[0].model_copy(
        update={"id": "far", "site": "t", "lat": 51.7})]})
    reads = [read("r1", "AB12CDE", "c0", 1.7e9), read("r2", "AB12CDE", "far", 1.7e9 + 10)]

    def rules(stage: str) -> set[str]:
        return {c.rule for c in AnprPipeline(far, index, stage=stage).process(reads).candidates}  # type: ignore[arg-type]

    assert rules("all") == {"watchlist_hit", "cloned_plate"}
    assert rules("local") == {"watchlist_hit"}  # by camera: watchlist (and convoy)
    assert rules("journeys") == {"cloned_plate"}  # by plate: no second watchlist hit


def test_usable_reads_carry_their_normalised_plate_for_routing() -> None:
    out = pipeline().process([read("r1", "ab12 cde"), read("r2", "AB12CDE", camera="nowhere")])
    assert [(plate, r.read_id) for plate, r in zip(out.plates, out.usable, strict=True)] == [("AB12CDE", "r1")]


def test_held_reads_share_the_configured_camera_id_not_their_own_decoded_copy() -> None:
    """416 -> 353 bytes a held read (measured on 1M): at national scale the rules hold millions of reads."""
    decoded = "".join(["c", "1"])  # a string built at run time, as the JSON decoder builds one per read
    configured = next(camera.id for camera in CONFIG.cameras if camera.id == decoded)
    assert decoded is not configured
    p = pipeline()
    p.process([read("r1", "AB12CDE", camera=decoded)])
    (held,) = p.analytics.reads.history("AB12CDE")
    assert held.camera_id is configured


def test_a_plates_held_reads_come_back_with_its_one_plate_string_and_their_own_values() -> None:
    p = pipeline()
    first = read("r1", "AB12CDE", camera="c0", t=1.7e9)
    second = read("r2", "".join(["AB12", "CDE"]), camera="c1", t=1.7e9 + 60)
    second.confidence = 0.9512345678901234
    p.process([first])
    p.process([second])
    a, b = p.analytics.reads.history("AB12CDE")
    assert (a.read_id, b.read_id, a.camera_id, b.camera_id) == ("r1", "r2", "c0", "c1")
    assert b.plate is a.plate and b.plate == "AB12CDE"
    assert (a.confidence, b.confidence, a.t, b.t) == (first.confidence, 0.9512345678901234, 1.7e9, 1.7e9 + 60)


def test_held_reads_count_each_read_once_whatever_rules_use_it() -> None:
    p = pipeline()
    p.process([read("r1", "AB12CDE"), read("r2", "CD34EFG", t=1.7e9 + 5)])
    p.process([read("r1", "AB12CDE"), read("r3", "AB12CDE", camera="c1", t=1.7e9 + 60)])  # r1 redelivered
    assert p.held_reads == 3


def test_forwarded_batches_keep_every_read_within_the_message_size_limit() -> None:
    from streams.anpr_consumer import _batches
    from streams.codecs import JSON_ENCODER, decode_plate_reads

    reads = [read(f"r{i}", "AB12CDE", t=1.7e9 + i) for i in range(300)]
    messages = list(_batches([JSON_ENCODER.encode(r) for r in reads], limit=4096))
    assert len(messages) > 1 and all(len(m) <= 4096 for m in messages)
    assert [r for m in messages for r in decode_plate_reads(m, 4096)[0]] == reads  # all of them, in order


def test_rebuilt_state_spans_a_restart_and_raises_nothing_twice() -> None:
    """What a worker taking over a partition gets from replaying it (``AnprPipeline.rebuild``)."""
    listed = WatchlistEntry(plate="AB12CDE", reason="stolen")
    t0 = 1.7e9
    passes = CONFIG.anpr.circling.passes
    # Before the restart: a listed plate at c0, and another car passing the site often enough to circle.
    handled = [read("hit-1", "AB12CDE", "c0", t0)] + [
        read(f"pass-{i}", "CI12RCL", ("c0", "c1")[i % 2], t0 + 120 * i) for i in range(passes)]
    first_owner = pipeline(listed)
    assert {c.rule for c in first_owner.process(handled).candidates} == {"watchlist_hit", "circling"}

    next_owner = pipeline(listed)
    next_owner.rebuild(handled)
    assert next_owner.analytics.counters.reads == 0  # replayed reads are not counted again
    # After the restart: the listed plate 2.2 km away 10 s later, and one more pass of the circling car.
    out = next_owner.process([read("hit-2", "AB12CDE", "c2", t0 + 10),
                              read(f"pass-{passes}", "CI12RCL", "c1", t0 + 120 * passes)])
    by_rule = {c.rule: c for c in out.candidates}
    assert set(by_rule) == {"watchlist_hit", "cloned_plate"}  # the circling episode was already raised
    assert [e.event_id for e in by_rule["watchlist_hit"].evidence] == ["hit-2"]  # hit-1 is not raised again
    assert {e.event_id for e in by_rule["cloned_plate"].evidence} == {"hit-1", "hit-2"}


def test_a_rebuild_pass_that_fails_leaves_a_gap_instead_of_stopping_the_consumer(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from types import SimpleNamespace

    from streams.anpr_consumer import AnprReadsConsumer

    runner = pipeline()
    consumer = AnprReadsConsumer(SimpleNamespace(config=CONFIG), runner)  # type: ignore[arg-type]
    assert consumer._rebuild_pass([read("r1", "AB12CDE")]) == 1

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("AB12CDE")  # a bug whose message quotes a plate

    monkeypatch.setattr(runner.analytics, "process", broken)
    assert consumer._rebuild_pass([read("r2", "AB12CDE")]) == 0
    assert "KeyError while rebuilding ANPR rule state; 1 reads left out" in caplog.text
    assert "AB12CDE" not in caplog.text


def test_after_a_failure_the_consumer_rebuilds_so_uncommitted_findings_fire_again() -> None:
    from types import SimpleNamespace

    from aiokafka import TopicPartition

    from streams.anpr_consumer import AnprReadsConsumer

    runner = pipeline()
    consumer = AnprReadsConsumer(SimpleNamespace(config=CONFIG), runner)  # type: ignore[arg-type]
    committed = [read("clone-1", "CL11ONE", "c0", 1.7e9)]
    uncommitted = [read("clone-2", "CL11ONE", "c2", 1.7e9 + 10)]  # 2.2 km in 10 s
    runner.process(committed)
    assert {c.rule for c in runner.process(uncommitted).candidates} == {"cloned_plate"}  # ...whose send failed
    consumer.handled[TopicPartition("anpr.reads", 0)] = 2
    assert runner.process(uncommitted).candidates == []  # redelivered as is: a duplicate, silent

    consumer.reset()  # what the consumer does before it rejoins after the failure
    assert consumer.handled == {} and len(runner.analytics.reads) == 0
    runner.rebuild(committed)  # the rebuild replays up to the commit...
    assert {c.rule for c in runner.process(uncommitted).candidates} == {"cloned_plate"}  # ...and it fires again


def test_candidates_are_logged_at_debug_only_and_by_keyed_hash(caplog: pytest.LogCaptureFixture) -> None:
    from detectors.plates.privacy import plate_hash

    runner = pipeline(WatchlistEntry(plate="AB12CDE", reason="stolen"))
    with caplog.at_level("INFO", logger="streams.anpr_pipeline"):
        assert runner.process([read("r1", "AB12CDE")]).candidates
    assert not caplog.records  # a line a candidate would be hundreds a second at a national feed
    with caplog.at_level("DEBUG", logger="streams.anpr_pipeline"):
        assert runner.process([read("r2", "AB12CDE", t=1.7e9 + 60)]).candidates
    assert "AB12CDE" not in caplog.text
    assert plate_hash("AB12CDE", CONFIG.privacy.plate_hash_key()) in caplog.text
