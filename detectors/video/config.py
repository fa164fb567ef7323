"""Settings for the video detectors (unattended item, camera tamper/health).

Every knob has a description and bounds; unknown keys are errors. The main config object embeds
:class:`VideoDetectorsConfig` under ``video:``.

>>> VideoDetectorsConfig().unattended.unattended_after_s
30.0
>>> VideoDetectorsConfig.model_validate({"work_width": 200}).work_width
200
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnattendedItemConfig(_Strict):
    """Unattended (abandoned) item detection, PETS 2006 / i-LIDS style.

    Distances are expressed relative to the item itself (``owner_radius_item_sizes``) because a
    bag's size in pixels tells us the local scale at its depth; a floor in pixels of the frame
    width stops tiny items getting a tiny radius. Sizes are fractions of the frame area so one
    setting works for any resolution.
    """

    enabled: bool = Field(True, description="Run the unattended-item detector.")
    unattended_after_s: float = Field(
        30.0, ge=1.0, le=3600.0,
        description="Seconds an item must stay with nobody near it before the alarm (PETS: 30, i-LIDS: 60).",
    )
    owner_radius_item_sizes: float = Field(
        3.0, ge=0.5, le=20.0,
        description="Attended radius around the item, in multiples of the item's larger side "
        "(a ~0.5 m bag -> 3 is ~1.5-2 m).",
    )
    owner_radius_min_frac: float = Field(
        0.06, ge=0.0, le=0.5, description="Lower bound of the attended radius, as a fraction of the frame width."
    )
    attend_min_s: float = Field(
        5.0, ge=0.0, le=120.0,
        description="Once the owner has left, somebody must stay near the item this long to attend it "
        "again; passers-by that walk past do not restart the clock.",
    )
    owner_gone_grace_s: float = Field(
        1.0, ge=0.0, le=30.0, description="Gaps in the owner's presence shorter than this are ignored."
    )
    static_after_s: float = Field(
        3.0, ge=0.2, le=60.0, description="A new foreground region must stay still this long to become an item."
    )
    min_item_frac: float = Field(
        0.0015, gt=0.0, le=0.5, description="Smallest item, as a fraction of the frame area."
    )
    max_item_frac: float = Field(
        0.04, gt=0.0, le=0.9, description="Largest item, as a fraction of the frame area."
    )
    person_aspect: float = Field(
        1.7, ge=1.0, le=10.0,
        description="Static blobs at least this many times taller than wide are taken as standing people.",
    )
    max_internal_motion: float = Field(
        0.06, ge=0.0, le=1.0,
        description="Mean fraction of an item's pixels that move per frame while it is not occluded; "
        "more than this means it is alive (a person), not an item.",
    )
    same_surface_ncc: float = Field(
        0.5, ge=0.0, le=1.0,
        description="A still blob whose pattern correlates with the background above this is the same "
        "surface under changed light (reflection, shadow, exposure), not an item.",
    )
    diff_threshold: int = Field(
        22, ge=3, le=128, description="Grey-level difference to the background that counts as foreground."
    )
    warmup_s: float = Field(
        2.0, ge=0.0, le=600.0, description="Seconds to learn the initial scene; nothing present then alarms."
    )
    bg_adapt_s: float = Field(
        10.0, ge=0.1, le=600.0, description="Time constant of the long-term background on background pixels."
    )
    absorb_s: float = Field(
        900.0, ge=10.0, le=86400.0,
        description="Time constant with which foreground is absorbed into the long-term background; "
        "must be well above unattended_after_s.",
    )
    short_term_s: float = Field(
        0.7, ge=0.05, le=30.0, description="Time constant of the short-term model that tells moving from still."
    )
    global_change_frac: float = Field(
        0.45, ge=0.05, le=1.0,
        description="If more than this fraction of the frame is foreground, treat it as a lighting or "
        "scene change and re-learn the background instead of looking for items.",
    )
    clear_after_s: float = Field(
        2.0, ge=0.1, le=600.0, description="An alarmed item must be gone this long before the alarm clears."
    )
    analysis_hz: float = Field(
        6.0, ge=0.5, le=60.0, description="How often per second blobs are extracted and items updated."
    )
    hog_check: bool = Field(
        True, description="Before alarming, run OpenCV's HOG people detector on the item's surroundings."
    )

    @model_validator(mode="after")
    def _sizes_ordered(self) -> UnattendedItemConfig:
        if self.min_item_frac >= self.max_item_frac:
            raise ValueError("min_item_frac must be below max_item_frac")
        return self


class TamperConfig(_Strict):
    """Camera tamper and health checks (covered, defocused, moved, frozen, feed lost)."""

    enabled: bool = Field(True, description="Run the tamper/health detector.")
    warmup_s: float = Field(
        3.0, ge=0.0, le=600.0, description="Seconds to learn the baseline (sharpness, texture, reference view)."
    )
    check_hz: float = Field(5.0, ge=0.2, le=60.0, description="How often per second the checks run.")
    baseline_s: float = Field(
        120.0, ge=1.0, le=86400.0, description="Time constant of the healthy baseline (sharpness, texture)."
    )
    covered_block_std: float = Field(
        6.0, ge=0.0, le=64.0, description="A grid block whose grey-level spread is below this looks covered."
    )
    covered_frac: float = Field(
        0.65, ge=0.1, le=1.0,
        description="Fraction of the textured blocks of the baseline that must look covered.",
    )
    covered_after_s: float = Field(2.0, ge=0.0, le=600.0, description="How long covering must last.")
    defocus_ratio: float = Field(
        0.45, ge=0.01, le=0.99, description="Sharpness below this fraction of the baseline counts as defocused."
    )
    defocus_after_s: float = Field(3.0, ge=0.0, le=600.0, description="How long defocus must last.")
    shift_frac: float = Field(
        0.03, ge=0.005, le=0.5, description="A view shift larger than this fraction of the frame width is a move."
    )
    shift_min_response: float = Field(
        0.05, ge=0.0, le=1.0, description="Phase-correlation peak below this means 'no match' (view changed)."
    )
    shift_after_s: float = Field(2.0, ge=0.0, le=600.0, description="How long the shift must last.")
    moved_accept_after_s: float = Field(
        120.0, ge=1.0, le=86400.0,
        description="A camera that stays moved this long after the alarm: accept the new view as the "
        "reference (the alarm clears) so the other detectors work again.",
    )
    frozen_max_diff: int = Field(
        0, ge=0, le=32, description="Consecutive frames whose largest pixel difference is at most this are identical."
    )
    frozen_after_s: float = Field(10.0, ge=0.5, le=3600.0, description="Identical frames for this long: frozen.")
    feed_lost_after_s: float = Field(10.0, ge=0.5, le=3600.0, description="No frame for this long: feed lost.")
    clear_after_s: float = Field(2.0, ge=0.0, le=600.0, description="How long the picture must be healthy to clear.")


class VideoDetectorsConfig(_Strict):
    """All video detector settings of one deployment (per-camera overrides can reuse it)."""

    work_width: int = Field(
        160, ge=64, le=1920,
        description="Internal processing width in pixels; frames are reduced to it (never enlarged).",
    )
    snapshot_quality: int = Field(80, ge=10, le=100, description="JPEG quality of alarm snapshots.")
    unattended: UnattendedItemConfig = Field(
        default_factory=lambda: UnattendedItemConfig.model_validate({}), description="Unattended-item detector."
    )
    tamper: TamperConfig = Field(
        default_factory=lambda: TamperConfig.model_validate({}), description="Camera tamper/health checks."
    )
