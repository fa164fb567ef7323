"""Polygon zones answered for all detections at once (numpy, after supervision's PolygonZone).

An object is in a zone when its *anchor*, the bottom-centre of its box (where it touches the
floor), lies inside the polygon or on its edge. Anchors rather than box overlap, because a tall
person standing just outside a floor zone overlaps it on the image.

>>> zone = PolygonZone([(0, 0), (10, 0), (10, 10), (0, 10)])
>>> zone.contains(np.array([[5, 5], [10, 5], [11, 5]])).tolist()
[True, True, False]
>>> anchors_of(np.array([[0, 0, 4, 6]])).tolist()
[[2.0, 6.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Points within this many pixels of an edge count as on it (absorbs float rounding only).
EDGE_EPS_PX = 1e-6


def anchors_of(boxes_xywh: npt.ArrayLike) -> FloatArray:
    """Bottom-centre points ``(N, 2)`` of boxes ``(N, 4)`` given as ``[x, y, w, h]``.

    >>> anchors_of([[10, 20, 30, 40]]).tolist()
    [[25.0, 60.0]]
    """
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    return np.stack([boxes[:, 0] + boxes[:, 2] / 2.0, boxes[:, 1] + boxes[:, 3]], axis=1)


def centres_of(boxes_xywh: npt.ArrayLike) -> FloatArray:
    """Centre points ``(N, 2)`` of boxes ``(N, 4)`` given as ``[x, y, w, h]``.

    >>> centres_of([[10, 20, 30, 40]]).tolist()
    [[25.0, 40.0]]
    """
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    return np.stack([boxes[:, 0] + boxes[:, 2] / 2.0, boxes[:, 1] + boxes[:, 3] / 2.0], axis=1)


class PolygonZone:
    """A simple polygon that tests many points at once.

    Even-odd ray casting for the interior plus an explicit on-edge test, so the result is
    exact and symmetric on edges and vertices (ray casting alone is not).
    """

    __slots__ = ("_a", "_b", "polygon")

    def __init__(self, polygon: Sequence[Sequence[float]] | npt.ArrayLike) -> None:
        pts = np.asarray(polygon, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 3:
            raise ValueError("polygon must be a sequence of at least 3 [x, y] points")
        if not np.all(np.isfinite(pts)):
            raise ValueError("polygon coordinates must be finite")
        self.polygon: FloatArray = pts
        self._a: FloatArray = pts  # edge starts (E, 2)
        self._b: FloatArray = np.roll(pts, -1, axis=0)  # edge ends (E, 2)

    def contains(self, points: npt.ArrayLike) -> BoolArray:
        """Boolean mask ``(N,)``: which of ``points`` ``(N, 2)`` are inside or on the edge."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if p.shape[0] == 0:
            return np.zeros(0, dtype=bool)
        px, py = p[:, 0:1], p[:, 1:2]  # (N, 1) against edges (1, E)
        ax, ay = self._a[None, :, 0], self._a[None, :, 1]
        bx, by = self._b[None, :, 0], self._b[None, :, 1]

        # Even-odd rule: count edges that straddle the horizontal line through the point
        # and cross it to the point's right. Half-open (ay > py) != (by > py) counts a vertex once.
        straddles = (ay > py) != (by > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = ax + (py - ay) * (bx - ax) / (by - ay)
        crossings = np.count_nonzero(straddles & (px < x_cross), axis=1)
        inside = (crossings % 2) == 1

        # On-edge: collinear with the edge (cross product ~ 0) and within its extent.
        cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
        length = np.hypot(bx - ax, by - ay)
        near_line = np.abs(cross) <= EDGE_EPS_PX * np.maximum(length, 1.0)
        within = (
            (px >= np.minimum(ax, bx) - EDGE_EPS_PX) & (px <= np.maximum(ax, bx) + EDGE_EPS_PX)
            & (py >= np.minimum(ay, by) - EDGE_EPS_PX) & (py <= np.maximum(ay, by) + EDGE_EPS_PX)
        )
        on_edge = np.any(near_line & within, axis=1)
        result: BoolArray = inside | on_edge
        return result

    def contains_boxes(self, boxes_xywh: npt.ArrayLike) -> BoolArray:
        """Which boxes ``(N, 4)`` ``[x, y, w, h]`` have their anchor (bottom-centre) in the zone."""
        return self.contains(anchors_of(boxes_xywh))


def zone_membership(zones: Sequence[PolygonZone], points: npt.ArrayLike) -> BoolArray:
    """Membership matrix ``(Z, N)``: ``[i, j]`` is True when point ``j`` is in zone ``i``.

    >>> square = PolygonZone([(0, 0), (10, 0), (10, 10), (0, 10)])
    >>> zone_membership([square], [[1, 1], [20, 20]]).tolist()
    [[True, False]]
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if not zones:
        return np.zeros((0, p.shape[0]), dtype=bool)
    return np.stack([zone.contains(p) for zone in zones], axis=0)
