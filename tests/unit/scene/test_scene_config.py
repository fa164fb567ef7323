"""Validation of ZoneConfig / SceneRulesConfig and active-hours evaluation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from detectors.scene.config import SceneRulesConfig, ZoneConfig, parse_window

SQUARE = [(0, 0), (100, 0), (100, 100), (0, 100)]


def zone(**overrides: Any) -> ZoneConfig:
    fields: dict[str, Any] = {"id": "z1", "name": "Zone 1", "camera_id": "cam-1", "polygon": SQUARE,
                              "kinds": ["general"]}
    fields.update(overrides)
    return ZoneConfig.model_validate(fields)


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=datetime.fromisoformat(text).tzinfo or UTC).timestamp()


def test_valid_zone_round_trips() -> None:
    z = zone(kinds=["loitering", "crowd"], loiter_limit_s=60, crowd_limit=5)
    assert ZoneConfig.model_validate(z.model_dump()) == z


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"polygon": [(0, 0), (1, 1)]}, "at least 3"),
        ({"polygon": [(0, 0), (5, 5), (10, 10)]}, "zero area"),
        ({"polygon": [(0, 0), (10, 10), (10, 0), (0, 20)]}, "cross"),  # bow-tie
        ({"polygon": [(0, 0), (1e9, 0), (0, 10)]}, "less than or equal"),
        ({"kinds": []}, "at least 1"),
        ({"kinds": ["loitering"]}, "loiter_limit_s is required"),
        ({"kinds": ["crowd"]}, "crowd_limit is required"),
        ({"kinds": ["general", "general"]}, "must not repeat"),
        ({"kinds": ["parking"]}, "Input should be"),
        ({"loiter_limit_s": 0}, "greater than 0"),
        ({"crowd_limit": 0}, "greater than or equal to 1"),
        ({"active_hours": ["9:00-17:00"]}, "HH:MM-HH:MM"),
        ({"active_hours": ["25:00-06:00"]}, "invalid time"),
        ({"active_hours": ["10:00-10:00"]}, "empty"),
        ({"timezone": "Mars/Olympus_Mons"}, "unknown IANA time zone"),
        ({"id": "has space"}, "String should match pattern"),
        ({"classes": ["Person"]}, "String should match pattern"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_zone_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        zone(**overrides)


def test_zone_is_frozen() -> None:
    z = zone()
    with pytest.raises(ValidationError):
        z.name = "other"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("00:00-24:00", (0, 1440)), ("22:00-06:30", (1320, 390)), ("08:15-17:45", (495, 1065))],
)
def test_parse_window(text: str, expected: tuple[int, int]) -> None:
    assert parse_window(text) == expected


@pytest.mark.parametrize(
    ("windows", "timezone", "when", "expected"),
    [
        ((), "UTC", "2024-06-01T03:00:00+00:00", True),  # no windows: always armed
        (("22:00-06:00",), "UTC", "2024-06-01T23:30:00+00:00", True),
        (("22:00-06:00",), "UTC", "2024-06-01T05:59:00+00:00", True),
        (("22:00-06:00",), "UTC", "2024-06-01T06:00:00+00:00", False),  # end is exclusive
        (("22:00-06:00",), "UTC", "2024-06-01T22:00:00+00:00", True),  # start is inclusive
        (("22:00-06:00",), "UTC", "2024-06-01T12:00:00+00:00", False),
        (("09:00-12:00", "13:00-17:00"), "UTC", "2024-06-01T12:30:00+00:00", False),
        (("09:00-12:00", "13:00-17:00"), "UTC", "2024-06-01T13:00:00+00:00", True),
        (("00:00-24:00",), "UTC", "2024-06-01T23:59:59+00:00", True),
        # British Summer Time: 21:30 UTC is 22:30 in London.
        (("22:00-06:00",), "Europe/London", "2024-06-01T21:30:00+00:00", True),
        # In winter London is on UTC.
        (("22:00-06:00",), "Europe/London", "2024-01-15T21:30:00+00:00", False),
    ],
)
def test_is_active(windows: tuple[str, ...], timezone: str, when: str, expected: bool) -> None:
    z = zone(active_hours=windows, timezone=timezone)
    assert z.is_active(epoch(when)) is expected


def test_rules_defaults() -> None:
    cfg = SceneRulesConfig()
    assert cfg.unattended_after_s == 30.0
    assert "person" in cfg.person_classes and "backpack" in cfg.bag_classes


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"unattended_after_s": 0}, "greater than 0"),
        ({"attended_radius_px": -1}, "greater than 0"),
        ({"presence_window_s": 10, "track_expiry_s": 5}, "must not exceed"),
        ({"person_classes": ["person"], "bag_classes": ["person"]}, "overlap"),
        ({"min_confidence": 1.5}, "less than or equal"),
        ({"bag_classes": []}, "at least 1"),
        ({"unattended_severity": "urgent"}, "Input should be"),
        ({"unattended_secs": 30}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_rules_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SceneRulesConfig.model_validate(overrides)
