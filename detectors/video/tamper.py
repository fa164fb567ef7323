"""Camera tamper and health checks on grey, reduced-resolution frames.

- **covered**: most grid blocks that had texture in the learned baseline are now flat
  (a hand, a bag, spray paint, a black picture).
- **defocused**: sharpness (mean absolute Laplacian) falls below a fraction of the learned
  baseline while the picture is not covered.
- **moved**: phase correlation against a reference view shows a large shift, or no match at all.
- **frozen**: consecutive frames are identical for ``frozen_after_s`` (an encoder or VMS stuck on
  the last picture; real sensors always have some noise).
- **feed lost**: no frame for ``feed_lost_after_s`` of event time (:meth:`TamperDetector.check_feed`).

Each condition is an episode: raised once after it has lasted its ``*_after_s``, cleared once
after the picture has been healthy for ``clear_after_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from detectors.video.config import TamperConfig

TamperRule = Literal["camera_covered", "camera_defocused", "camera_moved", "camera_frozen", "camera_feed_lost"]
RULES: tuple[TamperRule, ...] = (
    "camera_covered", "camera_defocused", "camera_moved", "camera_frozen", "camera_feed_lost",
)
_GRID = (6, 8)  # rows, cols of the texture grid


@dataclass(frozen=True, slots=True)
class TamperEvent:
    """A tamper episode started (``raised``) or ended (``cleared``)."""

    rule: TamperRule
    kind: Literal["raised", "cleared"]
    t: float
    details: dict[str, Any]


@dataclass(slots=True)
class _Episode:
    since: float | None = None  # condition true since
    healthy_since: float | None = None
    active: bool = False
    raised_at: float = 0.0


def _block_std(gray: np.ndarray) -> np.ndarray:
    """Grey-level standard deviation of each grid block."""
    gh, gw = _GRID
    h, w = gray.shape
    bh, bw = h // gh, w // gw
    b = gray[: bh * gh, : bw * gw].astype(np.float32).reshape(gh, bh, gw, bw)
    return np.asarray(b.std(axis=(1, 3)))


def _sharpness(gray: np.ndarray) -> float:
    return float(cv2.mean(cv2.convertScaleAbs(cv2.Laplacian(gray, cv2.CV_16S, ksize=3)))[0])


class TamperDetector:
    """Per-camera tamper/health state.

    >>> td = TamperDetector(TamperConfig())
    >>> td.update(np.zeros((90, 160), np.uint8), t=0.0)
    []
    """

    def __init__(self, config: TamperConfig) -> None:
        self.cfg = config
        self._t0: float | None = None
        self._last_frame_t: float | None = None
        self._prev: np.ndarray | None = None
        self._next_check = 0.0
        self._base_sharp = 0.0
        self._base_std: np.ndarray | None = None
        self._n_base = 0
        self._ref: np.ndarray | None = None
        self._window: np.ndarray | None = None
        self._frozen_since: float | None = None
        self.episodes: dict[TamperRule, _Episode] = {r: _Episode() for r in RULES}

    @property
    def active(self) -> set[str]:
        """Rules with an open episode."""
        return {r for r, e in self.episodes.items() if e.active}

    def reset_reference(self) -> None:
        """Accept the current view as the new normal (e.g. after an operator confirms a move)."""
        self._t0 = None
        self._n_base = 0
        self._ref = None

    def check_feed(self, now: float) -> list[TamperEvent]:
        """Raise ``camera_feed_lost`` when no frame arrived for ``feed_lost_after_s`` before ``now``."""
        if not self.cfg.enabled or self._last_frame_t is None:
            return []
        ep = self.episodes["camera_feed_lost"]
        gap = now - self._last_frame_t
        if not ep.active and gap >= self.cfg.feed_lost_after_s:
            ep.active, ep.raised_at = True, now
            return [TamperEvent("camera_feed_lost", "raised", now, {"last_frame_time": self._last_frame_t})]
        return []

    def update(self, gray: np.ndarray, t: float) -> list[TamperEvent]:
        """Feed one grey frame at event time ``t``; returns episodes raised or cleared."""
        if not self.cfg.enabled:
            return []
        cfg = self.cfg
        out: list[TamperEvent] = []
        lost = self.episodes["camera_feed_lost"]
        if lost.active:  # a frame arrived: the feed is back
            lost.active = False
            out.append(TamperEvent("camera_feed_lost", "cleared", t, {"gap_s": t - (self._last_frame_t or t)}))
        self._last_frame_t = t

        # Frozen: exact (or near-exact) repeats of the previous picture, checked every frame.
        if self._prev is not None and self._prev.shape == gray.shape:
            same = cv2.norm(gray, self._prev, cv2.NORM_INF) <= cfg.frozen_max_diff
            if same:
                self._frozen_since = self._frozen_since if self._frozen_since is not None else t
            else:
                self._frozen_since = None
        self._prev = gray.copy()
        # A covered lens also gives identical (flat) frames: report it once, as covered.
        frozen = (
            self._frozen_since is not None
            and t - self._frozen_since >= cfg.frozen_after_s
            and not self.episodes["camera_covered"].active
        )
        out += self._step("camera_frozen", frozen, t, 0.0, {})

        if t < self._next_check:
            return out
        self._next_check = t + 1.0 / cfg.check_hz
        if self._t0 is None:
            self._t0 = t
        stds = _block_std(gray)
        sharp = _sharpness(gray)
        small = gray.astype(np.float32)
        if self._window is None or self._window.shape != small.shape:
            self._window = cv2.createHanningWindow((small.shape[1], small.shape[0]), cv2.CV_32F)

        if t - self._t0 < cfg.warmup_s or self._base_std is None or self._ref is None:
            # Learn the healthy baseline: running means of texture and sharpness, last view as reference.
            self._n_base += 1
            k = 1.0 / self._n_base
            self._base_std = stds if self._base_std is None else (1 - k) * self._base_std + k * stds
            self._base_sharp = (1 - k) * self._base_sharp + k * sharp
            self._ref = small
            return out

        textured = self._base_std >= 2 * cfg.covered_block_std
        n_tex = int(textured.sum())
        flat = (stds < cfg.covered_block_std) & textured
        cover_frac = float(flat.sum()) / n_tex if n_tex >= 4 else 0.0
        covered = n_tex >= 4 and cover_frac >= cfg.covered_frac
        ratio = sharp / self._base_sharp if self._base_sharp > 1e-6 else 1.0
        defocused = not covered and ratio < cfg.defocus_ratio
        # phaseCorrelate windows its inputs in place: pass copies.
        (dx, dy), resp = cv2.phaseCorrelate(self._ref.copy(), small, self._window)
        shift = float(np.hypot(dx, dy))
        moved = not covered and not defocused and (
            shift > cfg.shift_frac * gray.shape[1] or resp < cfg.shift_min_response
        )

        moved_ep = self.episodes["camera_moved"]
        if moved and moved_ep.active and t - moved_ep.raised_at >= cfg.moved_accept_after_s:
            # It stays where it was knocked to: that is the view now. Re-learn and clear.
            self._ref = small
            self._base_std = stds
            self._base_sharp = sharp
            moved_ep.active, moved_ep.since, moved_ep.healthy_since = False, None, None
            out.append(TamperEvent("camera_moved", "cleared", t, {"accepted_new_view": True,
                                                                  "raised_at": moved_ep.raised_at}))
            return out
        out += self._step("camera_covered", covered, t, cfg.covered_after_s, {"covered_frac": round(cover_frac, 3)})
        out += self._step("camera_defocused", defocused, t, cfg.defocus_after_s, {"sharpness_ratio": round(ratio, 3)})
        out += self._step(
            "camera_moved", moved, t, cfg.shift_after_s,
            {"shift_px": [round(dx, 1), round(dy, 1)], "match": round(resp, 3)},
        )
        if not (covered or defocused or moved or self.active - {"camera_feed_lost", "camera_frozen"}):
            # Healthy: let the baseline follow slow changes (day/night, seasons).
            a = min(1.0, (1.0 / cfg.check_hz) / cfg.baseline_s)
            self._base_std = (1 - a) * self._base_std + a * stds
            self._base_sharp = (1 - a) * self._base_sharp + a * sharp
        return out

    def _step(self, rule: TamperRule, cond: bool, t: float, after: float, details: dict[str, Any]) -> list[TamperEvent]:
        ep = self.episodes[rule]
        if cond:
            ep.healthy_since = None
            if ep.since is None:
                ep.since = t
            if not ep.active and t - ep.since >= after:
                ep.active, ep.raised_at = True, t
                return [TamperEvent(rule, "raised", t, {**details, "since": ep.since})]
            return []
        ep.since = None
        if ep.active:
            if ep.healthy_since is None:
                ep.healthy_since = t
            if t - ep.healthy_since >= self.cfg.clear_after_s:
                ep.active = False
                return [TamperEvent(rule, "cleared", t, {**details, "raised_at": ep.raised_at})]
        return []
