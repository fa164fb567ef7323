"""Strict configuration for the scene rules: zones and rule thresholds.

Both models are frozen and reject unknown keys, so a typo in the YAML file fails at start-up
with the offending path instead of silently disabling a rule.

>>> zone = ZoneConfig(id="atm", name="ATM lobby", camera_id="cam-1",
...                   polygon=[(0, 0), (100, 0), (100, 100), (0, 100)],
...                   kinds=["loitering"], loiter_limit_s=60)
>>> zone.is_active(0.0)
True
>>> SceneRulesConfig().unattended_after_s
30.0
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from detectors.findings import Severity

ZoneKind = Literal["loitering", "restricted", "crowd", "general"]
"""What a zone is for. ``general`` zones only label findings (their ids appear in details)."""

Coordinate = Annotated[float, Field(ge=-100_000, le=100_000, allow_inf_nan=False)]
Point = tuple[Coordinate, Coordinate]
ClassName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_\-]+$")]

_WINDOW_RE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_ID_PATTERN = r"^[A-Za-z0-9_.:\-]+$"


def parse_window(text: str) -> tuple[int, int]:
    """Parse ``"HH:MM-HH:MM"`` into ``(start_minute, end_minute)`` of the local day.

    The end may be ``24:00``; a window whose end is before its start crosses midnight.

    >>> parse_window("22:00-06:30")
    (1320, 390)
    """
    match = _WINDOW_RE.match(text)
    if match is None:
        raise ValueError(f"active window {text!r} is not 'HH:MM-HH:MM'")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(f"active window {text!r} has an invalid time")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"active window {text!r} is empty; use '00:00-24:00' for all day")
    return start, end


def _segments_cross(p1: Point, p2: Point, q1: Point, q2: Point) -> bool:
    """True when segments p1p2 and q1q2 properly cross (touching ends do not count)."""

    def orient(a: Point, b: Point, c: Point) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4)


class ZoneConfig(BaseModel):
    """A polygon on one camera's image and the rules armed in it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64, pattern=_ID_PATTERN,
                    description="Stable zone id; appears in findings and alert details.")
    name: str = Field(min_length=1, max_length=128, description="Human name shown to operators.")
    camera_id: str = Field(min_length=1, max_length=128, description="Camera whose image the polygon is on.")
    polygon: tuple[Point, ...] = Field(
        min_length=3, max_length=64,
        description="Vertices [x, y] in the camera's pixels, in drawing order (not closed). "
        "An object is in the zone when the bottom-centre of its box is inside or on the edge.",
    )
    kinds: tuple[ZoneKind, ...] = Field(
        min_length=1, max_length=4,
        description="Rules armed in this zone: loitering, restricted (intrusion), crowd; "
        "general = label only.",
    )
    loiter_limit_s: float | None = Field(
        default=None, gt=0, le=86_400,
        description="Dwell time (s) after which a tracked object in a loitering zone is reported. "
        "Required when kinds has 'loitering'.",
    )
    crowd_limit: int | None = Field(
        default=None, ge=1, le=500,
        description="Reported when more than this many objects are in the zone at once. "
        "Required when kinds has 'crowd'.",
    )
    active_hours: tuple[str, ...] = Field(
        default=(), max_length=16,
        description="Local-time windows 'HH:MM-HH:MM' when the zone's rules are armed "
        "(a window may cross midnight, e.g. '22:00-06:00'). Empty means always armed.",
    )
    timezone: str = Field(
        default="UTC", min_length=1, max_length=64,
        description="IANA time zone of active_hours, e.g. 'Europe/London' (handles DST).",
    )
    classes: tuple[ClassName, ...] | None = Field(
        default=None, min_length=1, max_length=32,
        description="Object classes the zone's rules count; default: SceneRulesConfig.person_classes.",
    )
    severity: Severity | None = Field(
        default=None, description="Severity for this zone's findings; default: the rule's severity."
    )

    @field_validator("kinds")
    @classmethod
    def _unique_kinds(cls, kinds: tuple[ZoneKind, ...]) -> tuple[ZoneKind, ...]:
        if len(set(kinds)) != len(kinds):
            raise ValueError("kinds must not repeat")
        return kinds

    @field_validator("active_hours")
    @classmethod
    def _valid_windows(cls, windows: tuple[str, ...]) -> tuple[str, ...]:
        for window in windows:
            parse_window(window)
        return windows

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {name!r}") from exc
        return name

    @field_validator("polygon")
    @classmethod
    def _simple_polygon(cls, polygon: tuple[Point, ...]) -> tuple[Point, ...]:
        # Shoelace area: a zero-area zone can never contain anything, which is a config mistake.
        n = len(polygon)
        area2 = sum(polygon[i][0] * polygon[(i + 1) % n][1] - polygon[(i + 1) % n][0] * polygon[i][1]
                    for i in range(n))
        if abs(area2) / 2.0 < 1.0:
            raise ValueError("polygon has (almost) zero area")
        # A bow-tie is almost always a mis-ordered vertex list; reject it rather than guess.
        edges = [(polygon[i], polygon[(i + 1) % n]) for i in range(n)]
        for i in range(n):
            for j in range(i + 2, n):
                if i == 0 and j == n - 1:
                    continue  # adjacent through the closing edge
                if _segments_cross(*edges[i], *edges[j]):
                    raise ValueError(f"polygon edges {i} and {j} cross; list vertices in drawing order")
        return polygon

    @model_validator(mode="after")
    def _limits_for_kinds(self) -> ZoneConfig:
        if "loitering" in self.kinds and self.loiter_limit_s is None:
            raise ValueError("loiter_limit_s is required for a 'loitering' zone")
        if "crowd" in self.kinds and self.crowd_limit is None:
            raise ValueError("crowd_limit is required for a 'crowd' zone")
        return self

    @cached_property
    def _windows(self) -> tuple[tuple[int, int], ...]:
        return tuple(parse_window(w) for w in self.active_hours)

    @cached_property
    def _tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_active(self, t: float) -> bool:
        """Whether the zone's rules are armed at event time ``t`` (epoch seconds).

        >>> z = ZoneConfig(id="z", name="z", camera_id="c", polygon=[(0, 0), (9, 0), (0, 9)],
        ...                kinds=["restricted"], active_hours=["22:00-06:00"])
        >>> z.is_active(23 * 3600.0), z.is_active(12 * 3600.0)
        (True, False)
        """
        if not self.active_hours:
            return True
        local = datetime.fromtimestamp(t, tz=self._tz)
        minute = local.hour * 60 + local.minute
        for start, end in self._windows:
            if start < end:
                if start <= minute < end:
                    return True
            elif minute >= start or minute < end:  # crosses midnight
                return True
        return False


class SceneRulesConfig(BaseModel):
    """Thresholds shared by every camera's scene rules.

    Distances are in pixels of the source image, so they depend on camera height and lens;
    tune per deployment (a person is roughly 100-250 px tall on a typical 1080p lobby camera).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    person_classes: tuple[ClassName, ...] = Field(
        default=("person",), min_length=1, max_length=32,
        description="Classes that count as people (owners, loiterers, intruders, crowds).",
    )
    bag_classes: tuple[ClassName, ...] = Field(
        default=("bag", "backpack", "handbag", "suitcase"), min_length=1, max_length=32,
        description="Classes that can be unattended items.",
    )
    min_confidence: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Objects below this confidence are ignored entirely."
    )
    unattended_after_s: float = Field(
        default=30.0, gt=0, le=3600,
        description="An item stationary with no person within attended_radius_px for this long is "
        "reported (PETS 2006 uses 30 s, i-LIDS 60 s).",
    )
    attended_radius_px: float = Field(
        default=150.0, gt=0, le=10_000,
        description="A person whose box bottom-centre is within this distance of the item's "
        "keeps it attended.",
    )
    stationary_tolerance_px: float = Field(
        default=15.0, ge=0, le=1_000,
        description="Movement of the item's box centre up to this distance still counts as stationary "
        "(absorbs box jitter); moving further restarts the item's clock.",
    )
    require_seen_attended: bool = Field(
        default=False,
        description="Only report items that had a person near them at some point since they became "
        "stationary. Suppresses static scenery mislabelled as bags, but misses items abandoned "
        "before the worker started watching.",
    )
    track_expiry_s: float = Field(
        default=5.0, gt=0, le=600,
        description="A track not seen for this long is forgotten (ends its zone visits; clears its item).",
    )
    presence_window_s: float = Field(
        default=1.0, ge=0, le=60,
        description="A person seen within this many seconds still counts as present for crowd counts "
        "and attended checks (bridges missed detections and per-object messages).",
    )
    zone_exit_grace_s: float = Field(
        default=2.0, ge=0, le=600,
        description="A track seen outside a zone for less than this does not end its visit "
        "(stops boundary jitter from restarting dwell time and repeating alerts).",
    )
    crowd_hysteresis: int = Field(
        default=1, ge=0, le=100,
        description="A crowd episode ends only when the count drops to crowd_limit - "
        "crowd_hysteresis or below ...",
    )
    crowd_clear_s: float = Field(
        default=10.0, ge=0, le=3600, description="... and stays there for this many seconds."
    )
    max_tracks: int = Field(
        default=5000, ge=10, le=1_000_000,
        description="Memory bound per camera; beyond it the least recently seen tracks are dropped.",
    )
    loitering_severity: Severity = Field(default="medium", description="Severity of loitering findings.")
    intrusion_severity: Severity = Field(default="high", description="Severity of intrusion findings.")
    unattended_severity: Severity = Field(default="high", description="Severity of unattended_item findings.")
    crowd_severity: Severity = Field(default="medium", description="Severity of crowd_limit findings.")

    @model_validator(mode="after")
    def _windows_fit(self) -> SceneRulesConfig:
        if self.presence_window_s > self.track_expiry_s:
            raise ValueError("presence_window_s must not exceed track_expiry_s")
        if set(self.person_classes) & set(self.bag_classes):
            raise ValueError("person_classes and bag_classes overlap")
        return self
