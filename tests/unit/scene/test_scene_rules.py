"""SceneAnalyzer rules on synthetic tracks: loitering, intrusion, unattended item, crowd limit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from detectors.findings import Finding
from detectors.scene.config import SceneRulesConfig, ZoneConfig
from detectors.scene.rules import SceneAnalyzer
from detectors.scene.types import SceneFrame, SceneObject

CAM = "cam-1"
ZONE_POLY = [(0, 0), (100, 0), (100, 100), (0, 100)]
IN, OUT = (50.0, 50.0), (300.0, 300.0)  # anchor positions inside / outside ZONE_POLY


def person(track: str, at: tuple[float, float], cls: str = "person", conf: float = 0.9) -> SceneObject:
    """A 20x60 box whose bottom-centre (anchor) is ``at``."""
    x, y = at
    return SceneObject(track, cls, conf, (x - 10, y - 60, 20, 60))


def bag(track: str, at: tuple[float, float], cls: str = "backpack") -> SceneObject:
    """A 40x40 box whose bottom-centre is ``at``."""
    x, y = at
    return SceneObject(track, cls, 0.8, (x - 20, y - 40, 40, 40))


def frame(t: float, *objects: SceneObject, cam: str = CAM) -> SceneFrame:
    return SceneFrame(f"{cam}@{t:g}", cam, t, objects)


def zone(**overrides: Any) -> ZoneConfig:
    fields: dict[str, Any] = {"id": "z1", "name": "Zone 1", "camera_id": CAM, "polygon": ZONE_POLY,
                              "kinds": ["general"]}
    fields.update(overrides)
    return ZoneConfig.model_validate(fields)


def rules(**overrides: Any) -> SceneRulesConfig:
    return SceneRulesConfig.model_validate(overrides)


def run(analyzer: SceneAnalyzer, frames: Iterable[SceneFrame]) -> list[Finding]:
    return [f for fr in frames for f in analyzer.process(fr)]


def timeline(positions: Sequence[tuple[float, float] | None], *, track: str = "p1", step: float = 1.0,
             start: float = 0.0) -> list[SceneFrame]:
    """One frame per step; ``None`` = the person is not in that frame."""
    return [frame(start + i * step, *([person(track, p)] if p else [])) for i, p in enumerate(positions)]


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# --- loitering ---------------------------------------------------------------------------------

LOITER = {"kinds": ["loitering"], "loiter_limit_s": 10}


@pytest.mark.parametrize(
    ("positions", "expected_times"),
    [
        ([IN] * 10, []),  # 9 s of dwell: below the limit
        ([IN] * 11, [10.0]),  # exactly the limit
        ([IN] * 60, [10.0]),  # once per episode, however long they stay
        ([OUT] * 30, []),
        ([IN] * 5 + [OUT] * 4 + [IN] * 11, [19.0]),  # left for > grace: dwell restarts at 9
        ([IN] * 5 + [OUT] * 1 + [IN] * 5, [10.0]),  # 1 s outside (< 2 s grace): dwell continues
        ([IN] * 11 + [OUT] * 4 + [IN] * 11, [10.0, 25.0]),  # second episode, second finding
        ([IN] * 3 + [None] * 6 + [IN] * 2, []),  # unseen > expiry (5 s): track forgotten, restarts
        ([IN] * 3 + [None] * 4 + [IN] * 4, [10.0]),  # unseen < expiry: dwell continues
    ],
)
def test_loitering(positions: list[tuple[float, float] | None], expected_times: list[float]) -> None:
    analyzer = SceneAnalyzer(CAM, [zone(**LOITER)], rules())
    findings = run(analyzer, timeline(positions))
    assert [f.event_time for f in findings] == expected_times
    assert all(f.rule == "loitering" for f in findings)


def test_loitering_finding_contents() -> None:
    analyzer = SceneAnalyzer(CAM, [zone(**LOITER)], rules(), site_id="site-9")
    (finding,) = run(analyzer, timeline([OUT, IN] + [IN] * 12))
    assert finding.subject == f"{CAM}/z1/p1"
    assert finding.severity == "medium"
    assert finding.first_evidence_id == f"{CAM}@1"  # the frame where the visit started
    assert finding.evidence_ids == (f"{CAM}@1", f"{CAM}@11")
    assert (finding.camera_id, finding.site_id) == (CAM, "site-9")
    assert finding.box == (40, -10, 20, 60)
    assert finding.details["zone_id"] == "z1" and finding.details["dwell_s"] == 10.0
    assert finding.details["limit_s"] == 10 and finding.details["entered_at"] == 1.0


def test_loitering_ignores_other_classes_unless_zone_says_so() -> None:
    frames = [frame(t, person("v1", IN, cls="vehicle")) for t in range(12)]
    assert run(SceneAnalyzer(CAM, [zone(**LOITER)], rules()), frames) == []
    vehicles = zone(**LOITER, classes=["vehicle"])
    assert [f.rule for f in run(SceneAnalyzer(CAM, [vehicles], rules()), frames)] == ["loitering"]


def test_loitering_two_zones_give_two_findings() -> None:
    zones = [zone(**LOITER), zone(**LOITER, id="z2", polygon=[(0, 0), (200, 0), (200, 200), (0, 200)])]
    findings = run(SceneAnalyzer(CAM, zones, rules()), timeline([IN] * 11))
    assert sorted(f.subject for f in findings) == [f"{CAM}/z1/p1", f"{CAM}/z2/p1"]


def test_loitering_waits_for_active_hours() -> None:
    night = zone(**LOITER, active_hours=["22:00-06:00"])
    start = utc("2024-06-01T21:59:50")
    findings = run(SceneAnalyzer(CAM, [night], rules()), timeline([IN] * 40, start=start))
    # Dwell is counted from entry (21:59:50) but only reported once armed at 22:00:00.
    assert [f.event_time - start for f in findings] == [10.0]
    assert findings[0].details["dwell_s"] == 10.0


def test_zones_of_other_cameras_are_ignored() -> None:
    analyzer = SceneAnalyzer(CAM, [zone(**LOITER, camera_id="cam-2")], rules())
    assert analyzer.zones == ()
    assert run(analyzer, timeline([IN] * 20)) == []


# --- intrusion ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "positions", "expected_offsets"),
    [
        ("2024-06-01T23:00:00", [OUT, IN, IN, IN], [1.0]),  # enters while armed: once
        ("2024-06-01T12:00:00", [OUT, IN, IN, IN], []),  # daytime: not armed
        ("2024-06-01T21:59:58", [IN, IN, IN, IN], [2.0]),  # already inside when armed at 22:00
        ("2024-06-01T05:59:58", [IN, IN, IN, IN], [0.0]),  # armed until 06:00 exclusive
        ("2024-06-01T23:00:00", [IN, OUT, OUT, OUT, IN], [0.0, 4.0]),  # left > grace, re-entered
        ("2024-06-01T23:00:00", [IN, OUT, IN, IN], [0.0]),  # 1 s out (< grace): same visit
    ],
)
def test_intrusion(start: str, positions: list[tuple[float, float]], expected_offsets: list[float]) -> None:
    restricted = zone(kinds=["restricted"], active_hours=["22:00-06:00"])
    t0 = utc(start)
    findings = run(SceneAnalyzer(CAM, [restricted], rules()), timeline(positions, start=t0))
    assert [f.event_time - t0 for f in findings] == expected_offsets
    assert all(f.rule == "intrusion" and f.severity == "high" for f in findings)


def test_intrusion_respects_zone_timezone_and_severity() -> None:
    london = zone(kinds=["restricted"], active_hours=["22:00-06:00"], timezone="Europe/London",
                  severity="critical")
    t0 = utc("2024-06-01T21:30:00")  # 22:30 BST
    (finding,) = run(SceneAnalyzer(CAM, [london], rules()), timeline([IN], start=t0))
    assert finding.severity == "critical"
    assert finding.first_evidence_id == f"{CAM}@{t0:g}"
    assert finding.details["timezone"] == "Europe/London"


def test_intrusion_always_armed_without_hours() -> None:
    findings = run(SceneAnalyzer(CAM, [zone(kinds=["restricted"])], rules()), timeline([IN]))
    assert [f.rule for f in findings] == ["intrusion"]


# --- unattended item ---------------------------------------------------------------------------

BAG_AT = (200.0, 200.0)
NEAR = (260.0, 200.0)  # 60 px from the bag: attended with the default 150 px radius
FAR = (600.0, 200.0)


def bag_scene(seconds: int, owner: dict[int, tuple[float, float]] | None = None,
              bag_pos: dict[int, tuple[float, float] | None] | None = None) -> list[SceneFrame]:
    """Frames t=0..seconds-1: the bag at BAG_AT (or ``bag_pos[t]``), the owner at ``owner[t]``."""
    frames = []
    for t in range(seconds):
        objs = []
        pos = (bag_pos or {}).get(t, BAG_AT)
        if pos is not None:
            objs.append(bag("b1", pos))
        if owner and t in owner:
            objs.append(person("p1", owner[t]))
        frames.append(frame(float(t), *objs))
    return frames


def owner_until(t_leave: int) -> dict[int, tuple[float, float]]:
    return {t: NEAR for t in range(t_leave)}


@pytest.mark.parametrize(
    ("config", "frames", "expected_times"),
    [
        # Owner beside it until t=9, counted present for 1 s more (presence window), so the item
        # is unattended from t=11: alarm at t=41, exactly 30 s later.
        ({}, bag_scene(60, owner_until(10)), [41.0]),
        ({}, bag_scene(41, owner_until(10)), []),  # t=40: 29 s, not yet
        ({}, bag_scene(42, owner_until(10)), [41.0]),  # exactly 30 s
        ({}, bag_scene(100, owner_until(100)), []),  # owner never leaves
        ({}, bag_scene(100, {t: FAR for t in range(100)}), [30.0]),  # person far away all along
        ({}, bag_scene(60), [30.0]),  # nobody ever: counts from when it came to rest
        ({"require_seen_attended": True}, bag_scene(60), []),  # scenery mislabelled as a bag
        ({"require_seen_attended": True}, bag_scene(60, owner_until(10)), [41.0]),
        # A passer-by at t=25 (present until 26) resets the clock: 30 s from t=27.
        ({}, bag_scene(80, {**owner_until(10), 25: NEAR}), [57.0]),
        # Box jitter within tolerance is still stationary.
        ({}, bag_scene(60, owner_until(10), {t: (200.0 + (t % 3) * 4, 200.0) for t in range(60)}), [41.0]),
        # Carried around (moves every second): never stationary.
        ({}, bag_scene(60, None, {t: (100.0 + t * 20, 200.0) for t in range(60)}), []),
        # Disappears at t=20 (picked up / occluded beyond expiry): cleared, no alarm.
        ({}, bag_scene(60, owner_until(10), {t: None for t in range(20, 60)}), []),
        ({"unattended_after_s": 10}, bag_scene(30, owner_until(10)), [21.0]),
        ({"attended_radius_px": 50}, bag_scene(60, owner_until(60)), [30.0]),  # owner at 60 px is too far
    ],
)
def test_unattended_item(config: dict[str, Any], frames: list[SceneFrame], expected_times: list[float]) -> None:
    analyzer = SceneAnalyzer(CAM, [], rules(**config))
    findings = run(analyzer, frames)
    assert [f.event_time for f in findings] == expected_times
    assert all(f.rule == "unattended_item" for f in findings)


def test_unattended_finding_contents() -> None:
    general = zone(id="concourse", polygon=[(0, 0), (400, 0), (400, 400), (0, 400)])
    analyzer = SceneAnalyzer(CAM, [general], rules())
    (finding,) = run(analyzer, bag_scene(60, owner_until(10)))
    assert finding.subject == f"{CAM}/b1"
    assert finding.severity == "high"
    assert finding.first_evidence_id == f"{CAM}@0"  # when it came to rest
    assert finding.evidence_ids == (f"{CAM}@0", f"{CAM}@11", f"{CAM}@41")
    assert finding.box == (180, 160, 40, 40)
    assert finding.details["unattended_s"] == 30.0 and finding.details["stationary_s"] == 41.0
    assert finding.details["zone_ids"] == ["concourse"]
    assert finding.details["nearest_person_px"] is None


def test_unattended_item_moved_after_alarm_alarms_again() -> None:
    positions: dict[int, tuple[float, float] | None] = {t: (500.0, 200.0) for t in range(50, 100)}
    findings = run(SceneAnalyzer(CAM, [], rules()), bag_scene(100, None, positions))
    assert [f.event_time for f in findings] == [30.0, 80.0]
    assert findings[0].first_evidence_id != findings[1].first_evidence_id


def test_unattended_person_seen_in_separate_message_still_attends() -> None:
    # DeepStream sends one message per object: the person arrives in its own frame at the same t.
    analyzer = SceneAnalyzer(CAM, [], rules())
    frames = []
    for t in range(60):
        frames.append(frame(float(t), bag("b1", BAG_AT)))
        frames.append(frame(float(t), person("p1", NEAR)))
    assert run(analyzer, frames) == []


def test_unattended_relabelled_item_is_dropped() -> None:
    frames = bag_scene(20) + [frame(float(t), person("b1", BAG_AT, cls="person")) for t in range(20, 25)]
    frames += [frame(float(t), bag("b1", BAG_AT)) for t in range(25, 50)]
    findings = run(SceneAnalyzer(CAM, [], rules()), frames)
    assert [f.event_time for f in findings] == []  # clock restarted at 25: alarm would be at 55


# --- crowd limit -------------------------------------------------------------------------------


def crowd_frames(counts: Sequence[int]) -> list[SceneFrame]:
    """Frame t has ``counts[t]`` people in the zone (tracks c0..cN) plus one outside."""
    return [
        frame(float(t), *[person(f"c{i}", (10.0 + i * 5, 50.0)) for i in range(n)], person("out", OUT))
        for t, n in enumerate(counts)
    ]


CROWD_RULES = {"presence_window_s": 0.5, "crowd_hysteresis": 1, "crowd_clear_s": 10}


@pytest.mark.parametrize(
    ("counts", "expected_times"),
    [
        ([3] * 20, []),  # at the limit is fine
        ([4], [0.0]),
        ([2, 3, 4, 4, 4], [2.0]),
        ([4, 4, 3, 4, 3, 4], [0.0]),  # hovering at the limit: one episode
        ([4] + [2] * 5 + [4], [0.0]),  # low for 5 s < 10 s clear time: same episode
        ([4] + [2] * 11 + [4], [0.0, 12.0]),  # low for 10 s: episode over, new one
        ([4] + [3] * 20 + [4], [0.0]),  # 3 is not <= limit - hysteresis (2)
    ],
)
def test_crowd_limit(counts: list[int], expected_times: list[float]) -> None:
    crowd = zone(kinds=["crowd"], crowd_limit=3)
    findings = run(SceneAnalyzer(CAM, [crowd], rules(**CROWD_RULES)), crowd_frames(counts))
    assert [f.event_time for f in findings] == expected_times
    assert all(f.rule == "crowd_limit" for f in findings)


def test_crowd_finding_contents() -> None:
    crowd = zone(kinds=["crowd"], crowd_limit=3)
    (finding,) = run(SceneAnalyzer(CAM, [crowd], rules(**CROWD_RULES)), crowd_frames([4]))
    assert finding.subject == f"{CAM}/z1"
    assert finding.details["count"] == 4 and finding.details["limit"] == 3
    assert finding.details["track_ids"] == ["c0", "c1", "c2", "c3"]
    assert finding.box == (0, -10, 35, 60)  # union of the four people's boxes
    assert finding.first_evidence_id == f"{CAM}@0"


def test_crowd_counts_per_object_messages() -> None:
    crowd = zone(kinds=["crowd"], crowd_limit=3)
    analyzer = SceneAnalyzer(CAM, [crowd], rules(**CROWD_RULES))
    parts = [frame(5.0, person(f"c{i}", (10.0 + i * 5, 50.0))) for i in range(4)]
    per_part = [len(analyzer.process(p)) for p in parts]
    assert per_part == [0, 0, 0, 1]  # the fourth message of the same frame completes the crowd


def test_crowd_not_armed_outside_hours() -> None:
    crowd = zone(kinds=["crowd"], crowd_limit=3, active_hours=["08:00-09:00"])
    t0 = utc("2024-06-01T12:00:00")
    frames = [SceneFrame(f"f{i}", CAM, t0 + i, fr.objects) for i, fr in enumerate(crowd_frames([5] * 5))]
    assert run(SceneAnalyzer(CAM, [crowd], rules(**CROWD_RULES)), frames) == []


# --- robustness --------------------------------------------------------------------------------


def test_out_of_order_frames_are_ignored_and_counted() -> None:
    analyzer = SceneAnalyzer(CAM, [zone(**LOITER)], rules())
    frames = timeline([IN] * 6)
    run(analyzer, frames)
    assert analyzer.process(frame(2.0, person("p1", IN))) == []
    assert analyzer.stats.frames_out_of_order == 1
    assert analyzer.last_event_time == 5.0
    # Same time as the newest frame is not "older": it is processed.
    analyzer.process(frame(5.0))
    assert (analyzer.stats.frames_processed, analyzer.stats.frames_out_of_order) == (7, 1)


def test_late_frame_does_not_rewind_dwell() -> None:
    analyzer = SceneAnalyzer(CAM, [zone(**LOITER)], rules())
    frames = timeline([IN] * 11)
    frames.insert(5, frame(-100.0, person("p1", IN)))  # a very old frame in the middle
    assert [f.event_time for f in run(analyzer, frames)] == [10.0]


@pytest.mark.parametrize(
    ("bad_frame", "message"),
    [
        (SceneFrame("x", "cam-2", 1.0, ()), "is for camera 'cam-2'"),
        (SceneFrame("x", CAM, float("nan"), ()), "non-finite"),
    ],
)
def test_bad_frames_raise(bad_frame: SceneFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SceneAnalyzer(CAM, [], rules()).process(bad_frame)


def test_tracks_expire_and_are_bounded() -> None:
    analyzer = SceneAnalyzer(CAM, [], rules(max_tracks=10, track_expiry_s=5))
    analyzer.process(frame(0.0, *[person(f"p{i}", OUT) for i in range(25)]))
    assert analyzer.track_count == 10 and analyzer.stats.tracks_evicted == 15
    analyzer.process(frame(4.0, person("p24", OUT)))
    assert analyzer.track_count == 10
    analyzer.process(frame(5.5))
    assert analyzer.track_count == 1 and analyzer.stats.tracks_expired == 9
    assert analyzer.expire(100.0) == 1 and analyzer.track_count == 0


def test_low_confidence_objects_are_ignored() -> None:
    analyzer = SceneAnalyzer(CAM, [zone(kinds=["restricted"])], rules(min_confidence=0.5))
    assert analyzer.process(frame(0.0, person("p1", IN, conf=0.3))) == []
    assert analyzer.stats.objects_ignored_low_confidence == 1
    assert len(analyzer.process(frame(1.0, person("p1", IN, conf=0.6)))) == 1


def test_replay_is_deterministic() -> None:
    zones = [zone(**LOITER), zone(id="r", kinds=["restricted"]), zone(id="c", kinds=["crowd"], crowd_limit=1)]
    frames = bag_scene(50, owner_until(10))
    frames += [frame(50.0 + t, person("p1", IN), person("p2", IN)) for t in range(20)]
    first = run(SceneAnalyzer(CAM, zones, rules()), frames)
    second = run(SceneAnalyzer(CAM, zones, rules()), frames)
    assert first == second
    assert {f.rule for f in first} == {"loitering", "intrusion", "crowd_limit", "unattended_item"}
