"""Synthetic CCTV scenes with exact ground truth, for unit tests and the benchmark.

A scene is a textured static background (with fixed objects present from the first frame),
people drawn as simple figures walking along piecewise-linear paths, bags that are dropped and
possibly picked up again, optional lighting changes, sensor noise and tamper effects.
Frames are generated lazily, so long scenes cost no memory.

>>> scene = make_scene("bag_left", unattended_after_s=10)
>>> scene.truth.unattended_from_s, scene.truth.item_box
(12.0, (150, 168, 24, 20))
>>> next(iter(scene.frames())).shape
(240, 320, 3)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

Box = tuple[int, int, int, int]
SCENES = (
    "bag_left", "bag_picked_up", "bag_removed_after_alarm", "bag_left_occluded", "bag_left_light_switch",
    "person_standing",
    "lighting_change", "noise", "initial_objects", "passers_by",
)


@dataclass(frozen=True, slots=True)
class Person:
    """A walking figure: ``path`` is ``[(t, x_foot, y_foot), ...]``, visible between its first and last time."""

    path: tuple[tuple[float, float, float], ...]
    height: int = 64
    shade: int = 40

    def at(self, t: float) -> tuple[float, float] | None:
        """Foot position at ``t`` or None when not in the scene."""
        if t < self.path[0][0] or t > self.path[-1][0]:
            return None
        for (t0, x0, y0), (t1, x1, y1) in zip(self.path, self.path[1:], strict=False):
            if t0 <= t <= t1:
                k = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                return x0 + k * (x1 - x0), y0 + k * (y1 - y0)
        return self.path[-1][1], self.path[-1][2]


@dataclass(frozen=True, slots=True)
class Bag:
    """A bag on the floor at ``box`` from ``t_drop`` until ``t_pick`` (None: stays)."""

    box: Box
    t_drop: float
    t_pick: float | None = None
    shade: int = 25


@dataclass(frozen=True, slots=True)
class SceneTruth:
    """What a correct detector must report.

    ``unattended_from_s`` is when the owner had left the item (the clock starts);
    ``alarm_at_s`` = that + the unattended time, or None when no alarm is expected;
    ``cleared_at_s`` is when the item was removed after an alarm.
    """

    fps: float
    n_frames: int
    unattended_from_s: float | None = None
    alarm_at_s: float | None = None
    item_box: Box | None = None
    cleared_at_s: float | None = None


@dataclass
class Scene:
    """A synthetic scene: call :meth:`frames` for BGR frames (uint8, ``size`` = (h, w))."""

    truth: SceneTruth
    size: tuple[int, int] = (240, 320)
    people: list[Person] = field(default_factory=list)
    bags: list[Bag] = field(default_factory=list)
    fixed: list[Box] = field(default_factory=list)
    noise_sigma: float = 2.0
    light: list[tuple[float, float]] = field(default_factory=lambda: [(0.0, 1.0)])
    """Piecewise-linear brightness gain over time: ``[(t, gain), ...]``."""
    seed: int = 0

    def background(self) -> np.ndarray:
        """The empty scene: floor tiles, a wall, fixed objects (bench, bin) present from frame 0."""
        h, w = self.size
        rng = np.random.default_rng(self.seed)
        bg = np.full((h, w, 3), (150, 155, 160), np.uint8)
        cv2.rectangle(bg, (0, 0), (w, h // 4), (110, 100, 95), -1)  # wall
        for x in range(0, w, 32):  # tile joints give the floor texture edges
            cv2.line(bg, (x, h // 4), (x, h), (128, 132, 138), 1)
        for y in range(h // 4, h, 24):
            cv2.line(bg, (0, y), (w, y), (128, 132, 138), 1)
        blotches = cv2.GaussianBlur(rng.normal(0, 12, (h, w)).astype(np.float32), (0, 0), 3)
        bg = np.clip(bg.astype(np.float32) + blotches[..., None], 0, 255).astype(np.uint8)
        for x, y, bw, bh in self.fixed:
            cv2.rectangle(bg, (x, y), (x + bw, y + bh), (60, 70, 90), -1)
            cv2.rectangle(bg, (x + 3, y + 3), (x + bw - 3, y + 6), (200, 200, 210), -1)
        return bg

    def frames(self, start: int = 0) -> Iterator[np.ndarray]:
        """Yield the scene's frames from ``start``."""
        bg = self.background()
        rng = np.random.default_rng(self.seed + 1)
        fps = self.truth.fps
        times, gains = zip(*self.light, strict=True)
        for i in range(start, self.truth.n_frames):
            t = i / fps
            img = bg.copy()
            for bag in self.bags:
                if bag.t_drop <= t and (bag.t_pick is None or t < bag.t_pick):
                    _draw_bag(img, bag)
            # Draw people far-to-near so nearer ones occlude.
            placed = [(p, p.at(t)) for p in self.people]
            for p, pos in sorted((q for q in placed if q[1] is not None), key=lambda q: q[1][1]):  # type: ignore[index]
                assert pos is not None
                _draw_person(img, pos, p, t)
            gain = float(np.interp(t, times, gains))
            out = img.astype(np.float32) * gain
            if self.noise_sigma > 0:
                out += rng.normal(0, self.noise_sigma, (self.size[0], self.size[1], 1)).astype(np.float32)
            yield np.clip(out, 0, 255).astype(np.uint8)


def _draw_bag(img: np.ndarray, bag: Bag) -> None:
    x, y, w, h = bag.box
    cv2.rectangle(img, (x, y + 3), (x + w - 1, y + h - 1), (bag.shade,) * 3, -1)
    cv2.rectangle(img, (x + 4, y), (x + w - 5, y + 4), (bag.shade + 15,) * 3, 2)  # handle
    cv2.line(img, (x + 2, y + h // 2), (x + w - 3, y + h // 2), (bag.shade + 40,) * 3, 1)


def _draw_person(img: np.ndarray, pos: tuple[float, float], p: Person, t: float) -> None:
    x, y = round(pos[0]), round(pos[1])
    hgt = p.height
    sway = round(np.sin(t * 7.0 + x) * 1.5)  # limbs move even when standing
    body = (p.shade, p.shade + 20, p.shade + 60)
    legs = (p.shade + 10, p.shade + 10, p.shade + 30)
    cv2.line(img, (x - 4, y), (x - 2 + sway, y - hgt // 2), legs, 5)
    cv2.line(img, (x + 4, y), (x + 2 - sway, y - hgt // 2), legs, 5)
    cv2.ellipse(img, (x, y - hgt * 5 // 8), (hgt // 7, hgt // 5), 0, 0, 360, body, -1)
    cv2.line(img, (x - hgt // 7, y - hgt * 3 // 4), (x - hgt // 6 - sway, y - hgt * 2 // 5), body, 4)
    cv2.circle(img, (x, y - hgt * 7 // 8), hgt // 10, (90, 110, 150), -1)


def make_scene(
    kind: str, *, fps: float = 10.0, unattended_after_s: float = 10.0, size: tuple[int, int] = (240, 320),
    seed: int = 0,
) -> Scene:
    """Build one of the :data:`SCENES` with its truth.

    Scenes are laid out for a 320x240 frame and scaled to ``size``. The owner in bag scenes drops
    the bag at t=6 s, stays by it until 10 s and walks out; the clock starts when they are more than
    about three bag sizes away (t=12 s, i.e. the owner has gone).
    """
    if kind not in SCENES:
        raise ValueError(f"unknown scene {kind!r}; choose from {', '.join(SCENES)}")
    sx, sy = size[1] / 320, size[0] / 240

    def P(path: Sequence[tuple[float, float, float]], height: int = 64, shade: int = 40) -> Person:
        return Person(tuple((t, x * sx, y * sy) for t, x, y in path), round(height * sy), shade)

    def B(box: Box, t_drop: float, t_pick: float | None = None) -> Bag:
        x, y, w, h = box
        return Bag((round(x * sx), round(y * sy), round(w * sx), round(h * sy)), t_drop, t_pick)

    bag_box: Box = (150, 168, 24, 20)
    # Owner walks in from the left, stops beside the bag spot, puts it down, stays, walks out right.
    # Walking speed ~53 px/s, i.e. ~1.4 m/s for a 64 px (1.7 m) person.
    owner = [(3.0, -20, 190), (6.0, 140, 190), (10.0, 140, 190), (14.2, 360, 205)]
    leaves_at = 12.0  # the owner is then more than ~3 bag sizes away from the bag
    seconds = leaves_at + unattended_after_s + 8.0
    people: list[Person] = [P(owner)]
    bags: list[Bag] = [B(bag_box, 6.0)]
    fixed: list[Box] = []
    light = [(0.0, 1.0)]
    noise = 2.0
    truth: dict[str, object] = {}
    scaled_box = (round(bag_box[0] * sx), round(bag_box[1] * sy), round(bag_box[2] * sx), round(bag_box[3] * sy))

    if kind == "bag_left":
        truth = {"unattended_from_s": leaves_at, "alarm_at_s": leaves_at + unattended_after_s, "item_box": scaled_box}
    elif kind == "bag_left_occluded":
        # Passers-by walk right in front of the bag while it is unattended: no effect on the clock.
        t1, t2 = leaves_at + 1.0, leaves_at + 1.0 + 0.45 * unattended_after_s
        people += [P([(t1, -20, 200), (t1 + 6.5, 340, 200)], shade=70),
                   P([(t2, 340, 185), (t2 + 6.5, -20, 185)], shade=20)]
        truth = {"unattended_from_s": leaves_at, "alarm_at_s": leaves_at + unattended_after_s, "item_box": scaled_box}
    elif kind == "bag_left_light_switch":
        # The lights dim at once while the bag is unattended: the clock and the item survive.
        t1 = leaves_at + 0.4 * unattended_after_s
        light = [(0.0, 1.0), (t1, 1.0), (t1 + 0.1, 0.6), (t1 + 60.0, 0.6)]
        truth = {"unattended_from_s": leaves_at, "alarm_at_s": leaves_at + unattended_after_s, "item_box": scaled_box}
    elif kind == "bag_picked_up":
        # The owner walks off but comes back and takes the bag before the unattended time ends.
        back = leaves_at + unattended_after_s * 0.5
        owner2 = [(back, 360, 195), (back + 4.0, 140, 190), (back + 7.0, 140, 190), (back + 10.0, -20, 190)]
        people = [P(owner), P(owner2)]
        bags = [B(bag_box, 6.0, back + 6.0)]
    elif kind == "bag_removed_after_alarm":
        back = leaves_at + unattended_after_s + 4.0
        owner2 = [(back, 360, 195), (back + 4.0, 140, 190), (back + 7.0, 140, 190), (back + 10.0, -20, 190)]
        people = [P(owner), P(owner2)]
        bags = [B(bag_box, 6.0, back + 6.0)]
        seconds = back + 14.0
        truth = {"unattended_from_s": leaves_at, "alarm_at_s": leaves_at + unattended_after_s,
                 "item_box": scaled_box, "cleared_at_s": back + 6.0}
    elif kind == "person_standing":
        # Somebody walks in and stands still (swaying slightly) far longer than the unattended time.
        stand = unattended_after_s * 2.5
        people = [P([(3.0, -20, 190), (7.0, 150, 190), (7.0 + stand, 150, 190), (11.0 + stand, 340, 195)])]
        bags = []
        seconds = 13.0 + stand
    elif kind == "lighting_change":
        # No items: the lights dim gradually, then switch back up at once, while people pass.
        people = [P([(3.0, -20, 200), (12.0, 340, 200)]), P([(15.0, 340, 180), (24.0, -20, 180)])]
        bags = []
        light = [(0.0, 1.0), (8.0, 1.0), (11.0, 0.7), (18.0, 0.7), (18.1, 1.05), (30.0, 1.05)]
        seconds = 30.0 + unattended_after_s
    elif kind == "noise":
        people = [P([(3.0, -20, 200), (12.0, 340, 200)])]
        bags = []
        noise = 8.0
        seconds = 15.0 + unattended_after_s * 1.5
    elif kind == "initial_objects":
        # Objects present from the first frame never alarm, nor does a bag-sized thing at start.
        fixed = [(40, 150, 30, 24), (230, 120, 40, 18)]
        people = [P([(3.0, -20, 200), (12.0, 340, 200)])]
        bags = [B(bag_box, 0.0)]
        seconds = 15.0 + unattended_after_s * 1.5
    elif kind == "passers_by":
        # People walk past one another and cross, nobody leaves anything.
        people = [
            P([(2.5 + 3 * k, -20 if k % 2 else 340, 175 + 8 * k), (11.5 + 3 * k, 340 if k % 2 else -20, 185 + 5 * k)],
              shade=20 + 15 * k)
            for k in range(5)
        ]
        bags = []
        seconds = 30.0 + unattended_after_s

    n = round(seconds * fps)
    return Scene(
        truth=SceneTruth(fps=fps, n_frames=n, **truth),  # type: ignore[arg-type]
        size=size, people=people, bags=bags, fixed=[
            (round(x * sx), round(y * sy), round(w * sx), round(h * sy)) for x, y, w, h in fixed
        ], noise_sigma=noise, light=light, seed=seed,
    )
