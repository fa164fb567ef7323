"""Plate normalisation: one spelling for matching, state keys and hashes."""

from __future__ import annotations

import pytest

from detectors.plates.normalise import normalise_plate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AB12CDE", "AB12CDE"),
        ("ab12cde", "AB12CDE"),
        (" AB12 CDE ", "AB12CDE"),
        ("AB12-CDE", "AB12CDE"),
        ("ab.12.cde", "AB12CDE"),
        ("AB·12·CDE", "AB12CDE"),
        ("AB–12—CDE", "AB12CDE"),
        ("AB_12/CDE", "AB12CDE"),
        ("AB\u00a012\tCDE", "AB12CDE"),
        ("ＡＢ１２ＣＤＥ", "AB12CDE"),  # full-width OCR output folds under NFKC
        ("7", "7"),
        ("1234567890ABCDEF", "1234567890ABCDEF"),
        ("B-MW 1234", "BMW1234"),
    ],
)
def test_normalises(text: str, expected: str) -> None:
    assert normalise_plate(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "has no letters or digits"),
        ("   ", "has no letters or digits"),
        ("-.-", "has no letters or digits"),
        ("AB12*CDE", "characters other than A-Z/0-9"),
        ("AB12ÇDE", "characters other than A-Z/0-9"),
        ("AB€12", "characters other than A-Z/0-9"),
        ("A" * 17, "longer than 16"),
    ],
)
def test_rejects_garbage_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalise_plate(text)


def test_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        normalise_plate(123)  # type: ignore[arg-type]
