"""Point-in-polygon and anchor tests for detectors.scene.zones."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.scene.zones import PolygonZone, anchors_of, centres_of, zone_membership

SQUARE = [(0, 0), (10, 0), (10, 10), (0, 10)]
TRIANGLE = [(0, 0), (10, 0), (5, 10)]
# A "U": the notch x in (3, 7), y in (0, 7) is outside.
U_SHAPE = [(0, 0), (3, 0), (3, 7), (7, 7), (7, 0), (10, 0), (10, 10), (0, 10)]


@pytest.mark.parametrize(
    ("polygon", "point", "expected"),
    [
        (SQUARE, (5, 5), True),
        (SQUARE, (0, 0), True),  # vertex
        (SQUARE, (10, 10), True),  # opposite vertex
        (SQUARE, (10, 5), True),  # right edge
        (SQUARE, (5, 0), True),  # bottom edge (horizontal)
        (SQUARE, (0, 5), True),  # left edge
        (SQUARE, (10.001, 5), False),  # just outside
        (SQUARE, (-0.5, 5), False),
        (SQUARE, (5, 10.5), False),
        (SQUARE, (20, 0), False),  # on the line of an edge, beyond it
        (TRIANGLE, (5, 9.9), True),  # near the apex
        (TRIANGLE, (5, 10), True),  # apex
        (TRIANGLE, (1, 9), False),  # beside the apex
        (TRIANGLE, (2.5, 5), True),  # on the sloped edge
        (U_SHAPE, (5, 3), False),  # in the notch
        (U_SHAPE, (5, 7), True),  # on the notch floor edge
        (U_SHAPE, (5, 8), True),  # above the notch
        (U_SHAPE, (1, 1), True),  # left leg
        (U_SHAPE, (8, 5), True),  # right leg
        (U_SHAPE, (3, 3), True),  # on the notch wall
        (U_SHAPE, (1, 7), True),  # ray passes through vertex (3, 7): counted once
    ],
)
def test_contains_single_point(polygon: list[tuple[float, float]], point: tuple[float, float],
                               expected: bool) -> None:
    assert PolygonZone(polygon).contains(np.array([point])).tolist() == [expected]


def test_contains_is_vectorised_and_keeps_order() -> None:
    points = np.array([[5, 5], [50, 50], [0, 0], [-1, -1]])
    assert PolygonZone(SQUARE).contains(points).tolist() == [True, False, True, False]


def test_contains_empty_input() -> None:
    assert PolygonZone(SQUARE).contains(np.zeros((0, 2))).shape == (0,)


def test_clockwise_and_anticlockwise_agree() -> None:
    rng = np.random.default_rng(7)
    points = rng.uniform(-2, 12, size=(500, 2))
    cw, ccw = PolygonZone(U_SHAPE), PolygonZone(U_SHAPE[::-1])
    assert np.array_equal(cw.contains(points), ccw.contains(points))


@pytest.mark.parametrize(
    ("box", "anchor", "centre"),
    [
        ((10, 20, 30, 40), (25, 60), (25, 40)),
        ((0, 0, 0, 0), (0, 0), (0, 0)),
        ((-10, -10, 10, 10), (-5, 0), (-5, -5)),
    ],
)
def test_anchor_and_centre(box: tuple[float, float, float, float], anchor: tuple[float, float],
                           centre: tuple[float, float]) -> None:
    assert anchors_of([box]).tolist() == [list(anchor)]
    assert centres_of([box]).tolist() == [list(centre)]


def test_contains_boxes_uses_bottom_centre() -> None:
    floor = PolygonZone([(0, 100), (100, 100), (100, 200), (0, 200)])
    # A tall person standing above the zone: box overlaps it but the feet are outside.
    standing_outside = (40, 0, 20, 95)
    standing_inside = (40, 60, 20, 80)
    assert floor.contains_boxes([standing_outside, standing_inside]).tolist() == [False, True]


def test_zone_membership_matrix() -> None:
    zones = [PolygonZone(SQUARE), PolygonZone(TRIANGLE)]
    matrix = zone_membership(zones, [[5, 5], [1, 9], [50, 50]])
    assert matrix.shape == (2, 3)
    assert matrix.tolist() == [[True, True, False], [True, False, False]]
    assert zone_membership([], [[1, 1]]).shape == (0, 1)


@pytest.mark.parametrize(
    "polygon",
    [[(0, 0), (1, 1)], [(0, 0, 0), (1, 1, 1), (2, 2, 2)], [(0, 0), (1, float("nan")), (2, 0)]],
)
def test_invalid_polygon_rejected(polygon: list[tuple[float, ...]]) -> None:
    with pytest.raises(ValueError):
        PolygonZone(polygon)
