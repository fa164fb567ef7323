"""Strict configuration for the ANPR detectors (embedded in the main config under ``anpr:``).

Every model forbids unknown keys and is frozen, so a typo in the YAML fails at start-up with
the offending path instead of silently falling back to a default.

>>> cfg = PlatesConfig()
>>> cfg.matching.max_equivalent_substitutions
2
>>> cfg.circling.for_site("car-park-1").passes
4
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_DEFAULT_CLASSES: tuple[tuple[str, ...], ...] = (
    ("0", "O", "D", "Q"),
    ("1", "I", "L"),
    ("2", "Z"),
    ("5", "S"),
    ("8", "B"),
    ("6", "G"),
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MatchingConfig(_Strict):
    """How tolerant watchlist matching is of OCR confusions."""

    equivalence_classes: tuple[tuple[str, ...], ...] = Field(
        default=_DEFAULT_CLASSES,
        description="Groups of characters the OCR confuses with one another (e.g. 0/O/D/Q). "
        "A read matches a listed plate when they are equal after collapsing each group to one character.",
    )
    max_equivalent_substitutions: int = Field(
        default=2,
        ge=0,
        le=4,
        description="Most character positions that may differ (within an equivalence class) for a match.",
    )
    same_kind_substitution_below_confidence: float = Field(
        default=0.9,
        ge=0.0,
        le=1.0,
        description="A letter-for-letter or digit-for-digit substitution (O/D/Q, I/L) turns one valid plate "
        "into another real one, so it is accepted only for reads with confidence below this. "
        "Letter-for-digit substitutions (O/0, B/8, S/5) are accepted at any confidence. "
        "1.0 accepts same-kind substitutions for every read below full confidence.",
    )
    fuzzy_indel_below_confidence: float | None = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="Reads with confidence below this may also match with one character inserted or "
        "dropped by the OCR. None disables fuzzy matching.",
    )
    fuzzy_max_equivalent_substitutions: int = Field(
        default=1,
        ge=0,
        le=2,
        description="Equivalent substitutions allowed on top of the one insert/drop of a fuzzy match.",
    )
    gb_unissued_letters_are_misreads: bool = Field(
        default=True,
        description="When the listed plate is a current-format GB plate (AA00AAA), a read letter that is "
        "never issued at that position (I, Q or Z in the first two, I or Q in the last three) is "
        "certainly a misread, so its same-kind substitution is accepted at any confidence.",
    )

    @field_validator("equivalence_classes")
    @classmethod
    def _classes_are_disjoint_alnum(cls, value: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        seen: set[str] = set()
        out: list[tuple[str, ...]] = []
        for group in value:
            if len(group) < 2:
                raise ValueError(f"equivalence class {list(group)} needs at least two characters")
            norm = tuple(ch.upper() for ch in group)
            for ch in norm:
                if len(ch) != 1 or not (ch.isascii() and ch.isalnum()):
                    raise ValueError(f"equivalence class member {ch!r} must be one character A-Z or 0-9")
                if ch in seen:
                    raise ValueError(f"character {ch!r} appears in more than one equivalence class")
                seen.add(ch)
            out.append(norm)
        return tuple(out)


class ClonedPlateConfig(_Strict):
    """Same plate at two places too far apart for the time between the reads."""

    enabled: bool = True
    max_speed_kmh: float = Field(
        default=250.0, gt=0, le=2000, description="Implied speeds above this flag a cloned plate."
    )
    min_time_gap_s: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="Time gaps shorter than this are treated as this long: tolerance for camera clock skew.",
    )
    min_distance_m: float = Field(
        default=500.0,
        ge=0,
        le=100_000,
        description="Pairs of cameras closer than this are never compared (positions are approximate).",
    )
    window_s: float = Field(
        default=4 * 3600.0,
        gt=0,
        le=7 * 86400,
        description="How far apart in event time two reads may be and still be compared.",
    )


class CirclingSite(_Strict):
    """Per-site override of the circling thresholds."""

    passes: int = Field(ge=2, le=100, description="Passes within the window that count as circling.")
    window_s: float = Field(gt=0, le=86400, description="Window length, event-time seconds.")


class CirclingConfig(_Strict):
    """Same plate passing the cameras of one site again and again."""

    enabled: bool = True
    passes: int = Field(
        default=4, ge=2, le=100, description="Passes within the window that count as circling."
    )
    window_s: float = Field(default=1800.0, gt=0, le=86400, description="Window length, event-time seconds.")
    pass_merge_s: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="Reads at the site within this many seconds of a pass's first read belong to that "
        "pass (e.g. the entry and exit cameras of one drive-by).",
    )
    sites: dict[str, CirclingSite] = Field(
        default_factory=dict, description="Overrides by site id, e.g. a busy car park needs more passes."
    )

    def for_site(self, site_id: str) -> CirclingSite:
        """The thresholds that apply at ``site_id`` (the override, else the defaults)."""
        override = self.sites.get(site_id)
        return override if override is not None else CirclingSite(passes=self.passes, window_s=self.window_s)

    @property
    def max_window_s(self) -> float:
        return max([self.window_s, *(s.window_s for s in self.sites.values())])

    @property
    def min_passes(self) -> int:
        """The fewest passes that count as circling at any site."""
        return min([self.passes, *(s.passes for s in self.sites.values())])


class ConvoyConfig(_Strict):
    """Plates travelling together past several cameras."""

    enabled: bool = True
    max_gap_s: float = Field(
        default=10.0, gt=0, le=600, description="Two reads at one camera this close in time are 'together'."
    )
    min_cameras: int = Field(
        default=3, ge=2, le=50, description="Distinct cameras where they must be together."
    )
    window_s: float = Field(
        default=1800.0, gt=0, le=86400, description="All those co-occurrences within this event-time window."
    )
    min_plates: int = Field(
        default=2,
        ge=2,
        le=2,
        description="Plates in the group. Only pairs (2) are detected today; a larger convoy shows up as "
        "one finding per pair, which the alert correlator can merge.",
    )
    max_partners_per_read: int = Field(
        default=16,
        ge=1,
        le=1000,
        description="At a busy camera only the nearest-in-time reads are paired (of plates read at least "
        "min_cameras times), which bounds the cost per read and the state.",
    )


class RetentionConfig(_Strict):
    """How long reads that hit nothing may be kept (plates are personal data)."""

    non_hit_read_retention_s: float = Field(
        default=86400.0,
        gt=0,
        le=366 * 86400,
        description="Reads that produced no finding are dropped from detector state after this long "
        "(event time). Every rule window must fit inside it.",
    )
    max_lateness_s: float = Field(
        default=300.0,
        ge=0,
        le=86400,
        description="Reads older than the newest event time minus window minus this are ignored as too late.",
    )


class PlatesConfig(_Strict):
    """All ANPR detector settings (``anpr:`` in the main YAML)."""

    matching: MatchingConfig = MatchingConfig()
    cloned: ClonedPlateConfig = ClonedPlateConfig()
    circling: CirclingConfig = CirclingConfig()
    convoy: ConvoyConfig = ConvoyConfig()
    retention: RetentionConfig = RetentionConfig()

    @model_validator(mode="after")
    def _windows_fit_retention(self) -> PlatesConfig:
        # Why: a rule window longer than retention would keep non-hit reads past the legal limit.
        limit = self.retention.non_hit_read_retention_s
        windows = {
            "cloned.window_s": self.cloned.window_s,
            "circling.window_s (incl. site overrides)": self.circling.max_window_s,
            "convoy.window_s": self.convoy.window_s,
        }
        for name, value in windows.items():
            if value + self.retention.max_lateness_s > limit:
                raise ValueError(
                    f"{name} ({value:g} s) plus retention.max_lateness_s ({self.retention.max_lateness_s:g} s) "
                    f"exceeds retention.non_hit_read_retention_s ({limit:g} s)"
                )
        return self
