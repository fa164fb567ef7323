"""Unattended (abandoned) item detection on a grey, reduced-resolution frame sequence.

How it works (details and limits in ``docs/video.md``):

1. **Two background models.** A long-term background ``bg`` (selective update: background
   pixels adapt in seconds, foreground pixels are absorbed only over ``absorb_s``) and a
   short-term model ``st`` (adapts in under a second). Pixels that differ from ``bg`` but not from
   ``st`` are *still foreground*; per-pixel we accumulate for how long (occlusion by something
   moving holds the count, returning to background resets it).
2. **Items.** Blobs that have been still for ``static_after_s`` become candidates. A candidate is
   dropped if it is a *ghost* (the background had the contour's edges, the current frame does not:
   something present when learning left), if its size is outside the item range, or if it is
   shaped like a standing person. The initial scene is learned during ``warmup_s``.
3. **Owner.** Whoever is near the item when it appears is its owner. The clock starts when nobody
   has been within the attended radius for ``owner_gone_grace_s``. Afterwards only somebody who
   stays near it for ``attend_min_s`` attends it again, so passers-by do not restart the clock.
4. **Alarm** after ``unattended_after_s`` of being unattended and nobody right at it, unless a
   last look finds the same surface under changed light or a ghost, or the item shows internal
   motion or OpenCV's HOG people detector finds a person on it (then it is looked at again in 5 s).
   The alarm clears when the item has been gone for ``clear_after_s``.

Everything here is pure: frames and event times come in, :class:`ItemEvent` values go out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from detectors.video.config import UnattendedItemConfig

Box = tuple[int, int, int, int]

_K3 = np.ones((3, 3), np.uint8)
_K5 = np.ones((5, 5), np.uint8)
_MAX_DT = 1.0  # a gap in the feed must not make the models jump
_PERSON_RECHECK_S = 5.0  # how long a "person" verdict stands before the item is looked at again


@dataclass(frozen=True, slots=True)
class ItemEvent:
    """An unattended item was raised or cleared. ``box`` is in analysis (work) pixels."""

    kind: Literal["raised", "cleared"]
    item_id: int
    box: Box
    t: float
    first_evidence_id: str
    static_since: float
    unattended_since: float


@dataclass(slots=True)
class _Item:
    item_id: int
    box: Box
    created: float
    static_since: float
    evidence_id: str
    last_seen: float
    attended: bool
    last_near: float
    unattended_since: float = math.nan
    near_since: float | None = None
    alarmed: bool = False
    is_person: bool = False
    """Judged a person at the last check; checked again at ``recheck_at``."""
    recheck_at: float = 0.0
    motion: float = 0.0
    """Recent (EMA over ~5 s) fraction of the item's pixels that move while nobody is near."""

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]


def _alpha(dt: float, tau: float) -> float:
    """EMA weight for a time step ``dt`` with time constant ``tau`` (frame-rate independent)."""
    return 1.0 - math.exp(-dt / tau) if tau > 0 else 1.0


def _inter(a: Box, b: Box) -> int:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


class UnattendedItemDetector:
    """Per-camera unattended-item state machine over grey frames of one fixed size.

    >>> det = UnattendedItemDetector((90, 160), UnattendedItemConfig())
    >>> det.update(np.zeros((90, 160), np.uint8), t=0.0, evidence_id="f0")
    []
    """

    def __init__(self, shape: tuple[int, int], config: UnattendedItemConfig) -> None:
        self.shape = shape
        self.cfg = config
        h, w = shape
        area = h * w
        self._min_px = max(4, round(config.min_item_frac * area))
        self._max_px = max(self._min_px + 1, round(config.max_item_frac * area))
        self._radius_min = config.owner_radius_min_frac * w
        self._bg = np.zeros(shape, np.float32)
        self._st = np.zeros(shape, np.float32)
        self._acc = np.zeros(shape, np.float32)  # seconds each pixel has been still foreground
        self._fg = np.zeros(shape, np.uint8)
        self._mov = np.zeros(shape, np.uint8)
        self._t0: float | None = None
        self._last_t = 0.0
        self._next_analysis = 0.0
        self._next_id = 1
        self.items: dict[int, _Item] = {}
        self.hog_frame: np.ndarray | None = None
        """Optional higher-resolution frame for the HOG check (set by the pipeline)."""
        self.hog_scale = 1.0
        """Pixels of ``hog_frame`` per analysis pixel."""
        self._hog: cv2.HOGDescriptor | None = None

    # ------------------------------------------------------------------ public
    def reset(self) -> None:
        """Forget the scene (camera moved): re-learn from the next frame. Open alarms are kept."""
        self._t0 = None
        self._acc[:] = 0

    def update(self, gray: np.ndarray, t: float, evidence_id: str) -> list[ItemEvent]:
        """Feed one grey frame (``shape``, uint8) at event time ``t`` seconds."""
        f = cv2.GaussianBlur(gray, (3, 3), 0).astype(np.float32)
        if self._t0 is None:
            self._t0 = t
            self._last_t = t
            self._bg[:] = f
            self._st[:] = f
            self._acc[:] = 0
            self._next_analysis = t
            return []
        dt = min(max(t - self._last_t, 0.0), _MAX_DT)
        self._last_t = t
        cfg = self.cfg
        thr = float(cfg.diff_threshold)

        # Global gain compensation: a light switching or auto-exposure moves every pixel a bit.
        bgmask = (self._fg == 0).view(np.uint8)
        mf = cv2.mean(f, bgmask)[0]
        mb = cv2.mean(self._bg, bgmask)[0]
        gain = mf / mb if mb > 1.0 else 1.0
        diff_l = cv2.absdiff(f, self._bg * np.float32(gain))
        fg = (diff_l > thr).astype(np.uint8)
        mov = (cv2.absdiff(f, self._st) > thr).astype(np.uint8)
        cv2.accumulateWeighted(f, self._st, _alpha(dt, cfg.short_term_s))
        fg_frac = float(fg.mean())

        warming = t - self._t0 < cfg.warmup_s
        if warming or fg_frac > cfg.global_change_frac:
            # Learn the initial scene / re-learn after a scene-wide change: whatever is there now
            # is background, except items we already track (their pixels keep the old model).
            keep = self._items_mask()
            old = self._bg * np.float32(gain)
            a = _alpha(dt, 0.3) if warming else 1.0
            cv2.accumulateWeighted(f, self._bg, a)
            self._bg[keep > 0] = old[keep > 0]
            self._acc[keep == 0] = 0
            self._fg = np.zeros_like(fg)
            self._mov = mov
            return []

        # Selective update: the halo around foreground counts as foreground too, otherwise an
        # item's fuzzy edge is learned pixel by pixel and the item erodes into the background.
        fg_halo = cv2.dilate(fg, _K5)
        cv2.accumulateWeighted(f, self._bg, _alpha(dt, cfg.bg_adapt_s), (fg_halo == 0).view(np.uint8))
        cv2.accumulateWeighted(f, self._bg, _alpha(dt, cfg.absorb_s), fg_halo)
        # Still foreground accumulates; moving foreground (possible occlusion) holds; background resets.
        still = (fg > 0) & (mov == 0)
        self._acc[still] += dt
        self._acc[fg == 0] = 0
        self._fg = fg
        self._mov = mov

        if t < self._next_analysis:
            return []
        self._next_analysis = t + 1.0 / cfg.analysis_hz
        return self._analyse(f, t, evidence_id)

    # ---------------------------------------------------------------- analysis
    def _items_mask(self) -> np.ndarray:
        m = np.zeros(self.shape, np.uint8)
        for it in self.items.values():
            x, y, w, h = it.box
            m[y : y + h, x : x + w] = 1
        return m

    def _analyse(self, f: np.ndarray, t: float, evidence_id: str) -> list[ItemEvent]:
        cfg = self.cfg
        still = (self._acc >= cfg.static_after_s).astype(np.uint8)
        static = cv2.morphologyEx(still, cv2.MORPH_CLOSE, _K3)
        fg_clean = cv2.morphologyEx(self._fg, cv2.MORPH_OPEN, _K3)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(static, connectivity=8)

        comps: list[tuple[int, Box, int]] = []
        for lab in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[lab])
            if area >= max(3, self._min_px // 2):
                comps.append((lab, (x, y, w, h), area))
        # Match blobs to known items: an item is seen while a still blob covers most of it
        # (the blob may be larger when somebody stands by or over it).
        matched: dict[int, int] = {}  # item id -> blob label
        for it in self.items.values():
            best, best_ov = -1, 0.0
            for lab, box, _area in comps:
                ov = _inter(it.box, box) / max(1, it.area)
                if ov > best_ov:
                    best, best_ov = lab, ov
            if best_ov >= 0.4:
                it.last_seen = t
                matched[it.item_id] = best
                bb, barea = next((b, a) for lab, b, a in comps if lab == best)
                if self._item_shaped(bb, barea) and bb != it.box:
                    self._follow(it, bb, t)

        # "People" near an item = moving foreground, and still blobs shaped like people or groups.
        # Item-shaped still blobs are things (a bag beside a bag does not attend it), and still
        # specks smaller than the smallest item (a flickering lamp, a sign) are nobody either.
        people = fg_clean
        lone = [lab for lab, box, area in comps if self._item_shaped(box, area)]
        lone += [lab for lab in range(1, n) if stats[lab, cv2.CC_STAT_AREA] < self._min_px]
        if lone:
            people = fg_clean.copy()
            people[np.isin(labels, lone)] = 0
        # A person is one sizeable blob, not the sum of fringes and flicker: label them once.
        _, plabels, pstats, _ = cv2.connectedComponentsWithStats(people, connectivity=8)
        blobs = (plabels, pstats[:, cv2.CC_STAT_AREA])

        events: list[ItemEvent] = []
        used = set(matched.values())
        for lab, box, area in comps:
            if lab in used:
                continue
            if self._is_ghost(f, labels, lab, box):
                # Something that was in the learned background has left: absorb what is there now.
                sel = labels == lab
                self._bg[sel] = f[sel]
                self._acc[sel] = 0
                continue
            if not self._item_shaped(box, area):
                continue
            item = _Item(
                item_id=self._next_id, box=box, created=t,
                static_since=t - float(self._acc[labels == lab].max()),
                evidence_id=evidence_id, last_seen=t, attended=True, last_near=t,
            )
            if not self._presence(blobs, box):
                # Nobody by it when it settled: the owner left before; start the clock now.
                item.attended = False
                item.unattended_since = t
            self.items[self._next_id] = item
            matched[item.item_id] = lab
            self._next_id += 1

        for it in list(self.items.values()):
            gone_for = t - it.last_seen
            if gone_for > 0:
                if it.alarmed and gone_for >= cfg.clear_after_s:
                    events.append(self._event("cleared", it, t))
                    del self.items[it.item_id]
                elif not it.alarmed and gone_for >= min(cfg.clear_after_s, 1.0):
                    del self.items[it.item_id]
                continue
            self._update_owner(it, self._presence(blobs, it.box), t)
            if it.attended or it.alarmed or t < it.recheck_at:
                continue
            if self._presence(blobs, it.box, max(it.box[2], it.box[3])):
                continue  # never alarm while somebody is right at the item: it may be the owner back
            if t - it.unattended_since >= cfg.unattended_after_s:
                lab = matched[it.item_id]
                lab_box = (int(stats[lab, 0]), int(stats[lab, 1]), int(stats[lab, 2]), int(stats[lab, 3]))
                if self._same_surface(f, it.box) or self._is_ghost(f, labels, lab, lab_box):
                    # Last look before alarming: the light changed on a surface, or what we see is
                    # the hole left by something that was there when the background was learned.
                    x, y, w, h = it.box
                    self._bg[y : y + h, x : x + w] = f[y : y + h, x : x + w]
                    self._acc[y : y + h, x : x + w] = 0
                    del self.items[it.item_id]
                    continue
                it.is_person = self._looks_like_person(it)
                if it.is_person:
                    it.recheck_at = t + _PERSON_RECHECK_S  # people move on; bags that tipped settle
                    continue
                it.alarmed = True
                events.append(self._event("raised", it, t))
        return events

    def _follow(self, it: _Item, bb: Box, t: float) -> None:
        """Follow an item's blob as it settles or tips over.

        When the blob shrinks a lot, something still (the owner standing by it) has detached
        from it: that someone was with the item until now, so the owner clock restarts.
        """
        new_area = bb[2] * bb[3]
        inter = _inter(it.box, bb)
        iou = inter / max(1, it.area + new_area - inter)
        if not it.alarmed and new_area < 0.6 * it.area and iou < 0.5:
            it.box = bb
            it.attended, it.last_near, it.near_since = True, t, None
            it.unattended_since = math.nan
            it.motion = 0.0
        elif inter >= 0.3 * max(it.area, new_area):
            it.box = bb

    def _update_owner(self, it: _Item, present: bool, t: float) -> None:
        cfg = self.cfg
        x, y, w, h = it.box
        if not present:
            # Nobody near: the item is not occluded, so motion inside it is its own.
            moving = int(self._mov[y : y + h, x : x + w].sum()) / max(1, it.area)
            a = 1.0 / (cfg.analysis_hz * _PERSON_RECHECK_S)
            it.motion += a * (moving - it.motion)
        if it.attended:
            if present:
                it.last_near = t
            elif t - it.last_near > cfg.owner_gone_grace_s:
                it.attended = False
                it.unattended_since = it.last_near
                it.near_since = None
            return
        if present:
            if it.near_since is None:
                it.near_since = t
            if t - it.near_since >= cfg.attend_min_s and not it.alarmed:
                it.attended = True  # somebody stayed with it: attended again
                it.last_near = t
        else:
            it.near_since = None

    def _item_shaped(self, box: Box, area: int) -> bool:
        """Size within the item range and not shaped like a standing person or a thin streak."""
        w, h = box[2], box[3]
        if not (self._min_px <= area <= self._max_px) or area < 0.3 * w * h:
            return False
        return not (h >= self.cfg.person_aspect * w or w > 5 * h)

    def _radius(self, box: Box) -> int:
        return round(max(self.cfg.owner_radius_item_sizes * max(box[2], box[3]), self._radius_min))

    def _presence(
        self, blobs: tuple[np.ndarray, np.ndarray], box: Box, radius: int | None = None
    ) -> bool:
        """Is somebody within ``radius`` (default: the attended radius) of the item?

        Somebody = one foreground blob at least half the item's area (and no smaller than the
        smallest item) with a quarter of the item's area inside the radius, outside the item's
        own box: fringes of the item and scattered flicker do not add up to a person.
        """
        labels, areas = blobs
        hh, ww = self.shape
        x, y, w, h = box
        r = self._radius(box) if radius is None else radius
        x0, y0, x1, y1 = max(0, x - r), max(0, y - r), min(ww, x + w + r), min(hh, y + h + r)
        ring = labels[y0:y1, x0:x1].copy()
        m = max(2, max(w, h) // 6)  # the item's own fuzzy edge (shadow, halo) is not a person
        ring[max(0, y - m - y0) : y + h + m - y0, max(0, x - m - x0) : x + w + m - x0] = 0
        inside = np.bincount(ring.ravel(), minlength=len(areas))
        inside[0] = 0
        need_total = max(self._min_px, 0.5 * w * h)
        need_inside = max(4, 0.25 * w * h)
        return bool(np.any((inside >= need_inside) & (areas >= need_total)))

    def _is_ghost(self, f: np.ndarray, labels: np.ndarray, lab: int, box: Box) -> bool:
        """True when the blob is a hole left by something the background had learned.

        Two cues must agree: the contour's edges are in the background, not in the frame; and
        what the frame shows inside looks like its surroundings (revealed floor), while what the
        background holds there does not.
        """
        hh, ww = self.shape
        x, y, w, h = box
        p = max(3, max(w, h) // 3)
        x0, y0, x1, y1 = max(0, x - p), max(0, y - p), min(ww, x + w + p), min(hh, y + h + p)
        m = (labels[y0:y1, x0:x1] == lab).astype(np.uint8)
        band = (cv2.dilate(m, _K3) - cv2.erode(m, _K3)) > 0
        ring = (cv2.dilate(m, _K5, iterations=2) > 0) & (m == 0) & (self._fg[y0:y1, x0:x1] == 0)
        inside = m > 0
        if not band.any() or ring.sum() < 4:
            return False
        fc, bc = f[y0:y1, x0:x1], self._bg[y0:y1, x0:x1]

        def edge(img: np.ndarray) -> float:
            gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
            gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
            return float(np.abs(gx)[band].mean() + np.abs(gy)[band].mean())

        around = float(np.median(fc[ring]))
        d_cur = abs(float(np.median(fc[inside])) - around)
        d_bg = abs(float(np.median(bc[inside])) - around)
        return edge(bc) > edge(fc) and d_cur < 0.5 * d_bg

    def _same_surface(self, f: np.ndarray, box: Box) -> bool:
        """True when the frame and the background show the same pattern under different light.

        Zero-mean normalised correlation of the two patches: a new object replaces the pattern
        (low), a lighting or exposure change on a textured surface keeps it (high).
        """
        hh, ww = self.shape
        x, y, w, h = box
        x0, y0, x1, y1 = max(0, x - 2), max(0, y - 2), min(ww, x + w + 2), min(hh, y + h + 2)
        a = f[y0:y1, x0:x1] - f[y0:y1, x0:x1].mean()
        b = self._bg[y0:y1, x0:x1] - self._bg[y0:y1, x0:x1].mean()
        sa, sb = float(a.std()), float(b.std())
        if sa < 4.0 and sb < 4.0:
            return True  # flat then and flat now: a plain surface whose brightness changed
        if sa < 4.0 or sb < 4.0:
            return False  # texture appeared or vanished: something is (or was) there
        return float((a * b).mean()) / (sa * sb) > self.cfg.same_surface_ncc

    def _looks_like_person(self, it: _Item) -> bool:
        if it.motion > self.cfg.max_internal_motion:
            return True
        if not self.cfg.hog_check or self.hog_frame is None:
            return False
        return self._hog_person(it.box)

    def _hog_person(self, box: Box) -> bool:
        """Run the HOG people detector on the item's surroundings (once per item, so cheap)."""
        img = self.hog_frame
        if img is None:
            return False
        if self._hog is None:
            self._hog = cv2.HOGDescriptor()
            self._hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), np.float32))
        s = self.hog_scale
        x, y, w, h = (v * s for v in box)
        side = max(w, h)
        # A person whose still part is the "item" extends above it: look at a tall window.
        cx = x + w / 2
        X0, X1 = int(max(0, cx - 1.5 * side)), int(min(img.shape[1], cx + 1.5 * side))
        Y0, Y1 = int(max(0, y + h - 5 * side)), int(min(img.shape[0], y + h + 0.5 * side))
        crop = img[Y0:Y1, X0:X1]
        if crop.shape[0] < 16 or crop.shape[1] < 8:
            return False
        k = 160.0 / crop.shape[0]
        crop = cv2.resize(crop, (max(64, round(crop.shape[1] * k)), 160))
        if crop.shape[1] < 64:
            return False
        rects, weights = self._hog.detectMultiScale(crop, winStride=(8, 8), padding=(8, 8), scale=1.1)
        icx, icy = (cx - X0) * k, (y + h / 2 - Y0) * k
        for (rx, ry, rw, rh), wgt in zip(rects, np.ravel(weights), strict=False):
            if wgt > 0.5 and rx <= icx <= rx + rw and ry <= icy <= ry + rh:
                return True
        return False

    def _event(self, kind: Literal["raised", "cleared"], it: _Item, t: float) -> ItemEvent:
        return ItemEvent(
            kind=kind, item_id=it.item_id, box=it.box, t=t, first_evidence_id=it.evidence_id,
            static_since=it.static_since, unattended_since=it.unattended_since,
        )
