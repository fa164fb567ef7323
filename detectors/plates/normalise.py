"""Plate text normalisation: the one spelling used for matching, state keys and hashes.

>>> normalise_plate(" ab12-cde ")
'AB12CDE'
>>> normalise_plate("ab·12 cde")
'AB12CDE'
"""

from __future__ import annotations

import unicodedata

MAX_PLATE_LEN = 16

# Separators integrators and OCR engines put inside plates. Removed, never matched on.
_SEPARATORS = " \t\r\n-_.,:;/\\|'\"`·•‐‑‒–—―−\u00a0\u2009\u202f\u3000"
_DELETE = str.maketrans("", "", _SEPARATORS)


def normalise_plate(text: str) -> str:
    """Uppercase ``text`` and strip separators; raise ``ValueError`` if no valid plate is left.

    The result contains only ``A-Z`` and ``0-9`` and is 1..16 characters long.

    >>> normalise_plate("WP 66 ZXC")
    'WP66ZXC'
    >>> normalise_plate("--")
    Traceback (most recent call last):
    ...
    ValueError: plate text '--' has no letters or digits
    """
    # Fast path (the common case): already plain ASCII letters/digits.
    if isinstance(text, str) and text.isascii() and text.isalnum() and len(text) <= MAX_PLATE_LEN:
        return text.upper()
    if not isinstance(text, str):
        raise ValueError(f"plate text must be a string, not {type(text).__name__}")
    original = text
    if not text.isascii():
        # Why: full-width or styled characters from some OCR engines fold to ASCII under NFKC.
        text = unicodedata.normalize("NFKC", text)
    plate = text.translate(_DELETE).upper()
    if not plate:
        raise ValueError(f"plate text {original!r} has no letters or digits")
    if not (plate.isascii() and plate.isalnum()):
        bad = sorted({ch for ch in plate if not (ch.isascii() and ch.isalnum())})
        raise ValueError(
            f"plate text {original!r} contains characters other than A-Z/0-9 and separators: {''.join(bad)!r}"
        )
    if len(plate) > MAX_PLATE_LEN:
        raise ValueError(f"plate text {original!r} is longer than {MAX_PLATE_LEN} characters once normalised")
    return plate


def normalise_plates(texts: list[str]) -> list[str | None]:
    """``normalise_plate`` over many reads at once; None where it would raise.

    (On the ANPR hot path, plain ``A-Za-z0-9`` plates are upper-cased in C as a batch's columns
    are built, ``sighting.read_columns``; only the others come here.)

    >>> normalise_plates(["ab12cde", "WP66ZXC"]), normalise_plates(["ab 12", "--"])
    (['AB12CDE', 'WP66ZXC'], ['AB12', None])
    """
    out: list[str | None] = []
    for text in texts:
        try:
            out.append(normalise_plate(text))
        except ValueError:
            out.append(None)
    return out
