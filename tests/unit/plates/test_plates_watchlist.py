"""Watchlist matching: exact, OCR-equivalent, fuzzy (insert/drop), expiry, bookkeeping."""

from __future__ import annotations

import pytest

from detectors.plates.config import MatchingConfig
from detectors.plates.watchlist import WatchlistEntry, WatchlistIndex
from schemas.watchlist import WatchlistEntry as WireEntry

LISTED = "AB12CDE"


def index(*plates: str, config: MatchingConfig | None = None, **fields: object) -> WatchlistIndex:
    wl = WatchlistIndex(config or MatchingConfig())
    for plate in plates:
        wl.add(WatchlistEntry(plate=plate, reason="test", **fields))  # type: ignore[arg-type]
    return wl


# (read, confidence, expected kind or None, expected differences)
MATCH_CASES = [
    ("AB12CDE", 0.99, "exact", ()),
    ("A812CDE", 0.99, "equivalent", ((1, "8", "B"),)),  # letter read as digit: any confidence
    ("AB12C0E", 0.99, "equivalent", ((5, "0", "D"),)),
    ("A8I2CDE", 0.99, "equivalent", ((1, "8", "B"), (2, "I", "1"))),  # two substitutions
    ("A8I2C0E", 0.50, None, ()),  # three substitutions: never
    ("ABI2C0E", 0.99, "equivalent", ((2, "I", "1"), (5, "0", "D"))),
    ("AB12COE", 0.99, None, ()),  # D->O is letter for letter: could be another real plate
    ("AB12COE", 0.80, "equivalent", ((5, "O", "D"),)),  # ... so only for low-confidence reads
    ("AB12CQE", 0.80, "equivalent", ((5, "Q", "D"),)),
    # Q is never issued among a GB plate's last three letters: certainly a misread of D.
    ("AB12CQE", 0.99, "equivalent", ((5, "Q", "D"),)),
    ("AB12CDF", 0.10, None, ()),  # E/F is not an equivalence class
    ("AB13CDE", 0.10, None, ()),  # neither is 2/3
    ("AB12CD", 0.60, "fuzzy", ((6, "", "E"),)),  # dropped last character, low confidence
    ("AB12CD", 0.95, None, ()),  # ... not at high confidence
    ("B12CDE", 0.60, "fuzzy", ((0, "", "A"),)),  # dropped first character
    ("AB12CDEE", 0.60, "fuzzy", ((6, "E", ""),)),  # extra character (first of the repeat)
    ("AB112CDE", 0.60, "fuzzy", ((2, "1", ""),)),
    ("A812CD", 0.60, "fuzzy", ((1, "8", "B"), (6, "", "E"))),  # one drop + one equivalent substitution
    ("A8I2CD", 0.60, None, ()),  # one drop + two substitutions: too far
    ("XY99ZZZ", 0.10, None, ()),
]


@pytest.mark.parametrize(("read", "confidence", "kind", "differences"), MATCH_CASES)
def test_match(read: str, confidence: float, kind: str | None, differences: tuple[object, ...]) -> None:
    m = index(LISTED).match(read, confidence, now=0.0)
    if kind is None:
        assert m is None
        return
    assert m is not None
    assert (m.kind, m.differences, m.entry.plate, m.read_plate) == (kind, differences, LISTED, read)


@pytest.mark.parametrize(
    ("listed", "read", "gb_rule", "matches"),
    [
        ("AB12CDE", "AB12CQE", True, True),  # Q unissued in the random letters
        ("AL12CDE", "AI12CDE", True, True),  # I unissued in the memory tag
        ("AB12CDE", "AB12CQE", False, False),  # rule off: the confidence gate applies
        ("AB12CDE", "AB12COE", True, False),  # O is issued there: could be another real plate
        ("ABC123D", "ABC123Q", True, False),  # not the current GB format: no format knowledge
    ],
)
def test_letters_never_issued_in_gb_plates_are_misreads(listed: str, read: str, gb_rule: bool,
                                                        matches: bool) -> None:
    wl = index(listed, config=MatchingConfig(gb_unissued_letters_are_misreads=gb_rule))
    assert (wl.match(read, 0.99, 0.0) is not None) is matches


@pytest.mark.parametrize(
    ("max_subs", "read", "matches"),
    [(0, "A812CDE", False), (0, "AB12CDE", True), (1, "A812CDE", True), (1, "A8I2CDE", False), (3, "A8I2C0E", True)],
)
def test_max_equivalent_substitutions(max_subs: int, read: str, matches: bool) -> None:
    wl = index(LISTED, config=MatchingConfig(max_equivalent_substitutions=max_subs))
    assert (wl.match(read, 0.99, 0.0) is not None) is matches


def test_fuzzy_can_be_disabled() -> None:
    wl = index(LISTED, config=MatchingConfig(fuzzy_indel_below_confidence=None))
    assert wl.match("AB12CD", 0.1, 0.0) is None


@pytest.mark.parametrize(
    ("expires_at", "now", "matches"),
    [(None, 1e12, True), (100.0, 99.999, True), (100.0, 100.0, False), (100.0, 101.0, False)],
)
def test_expired_entries_stop_matching_at_their_expiry(expires_at: float | None, now: float, matches: bool) -> None:
    wl = index(LISTED, expires_at=expires_at)
    assert (wl.match(LISTED, 0.99, now) is not None) is matches
    assert (wl.match("A812CDE", 0.99, now) is not None) is matches
    assert wl.is_listed(LISTED, now) is matches
    assert wl.get(LISTED) is not None  # still listed until purged


def test_purge_expired() -> None:
    wl = WatchlistIndex()
    wl.add(WatchlistEntry(plate="AAA111", reason="r", expires_at=10.0))
    wl.add(WatchlistEntry(plate="BBB222", reason="r", expires_at=20.0))
    wl.add(WatchlistEntry(plate="CCC333", reason="r"))
    assert wl.purge_expired(15.0) == 1
    assert len(wl) == 2 and "AAA111" not in wl and "BBB222" in wl


def test_exact_wins_over_equivalent_and_priority_breaks_ties() -> None:
    wl = WatchlistIndex()
    wl.add(WatchlistEntry(plate="AB12CDE", reason="low", priority=5))
    wl.add(WatchlistEntry(plate="A812CDE", reason="other", priority=4))
    wl.add(WatchlistEntry(plate="AB12COE", reason="urgent", priority=1))
    assert wl.match("A812CDE", 0.99, 0.0).entry.reason == "other"  # type: ignore[union-attr]
    assert wl.match("AB12CDE", 0.99, 0.0).kind == "exact"  # type: ignore[union-attr]
    # AB12C0E is one cross-kind substitution from both AB12CDE and AB12COE: most urgent wins.
    m = wl.match("AB12C0E", 0.99, 0.0)
    assert m is not None and m.entry.reason == "urgent"
    # Fewer differences beat priority.
    m = wl.match("A8I2CDE", 0.99, 0.0)
    assert m is not None and m.entry.plate == "A812CDE" and len(m.differences) == 1


def test_add_get_replace_remove() -> None:
    wl = WatchlistIndex()
    wl.add(WatchlistEntry(plate="ab12 cde", reason="first", category="stolen", priority=2, covert=True,
                          source="pnc", added_by="sgt", added_at=5.0, expires_at=99.0))
    assert len(wl) == 1 and "AB12CDE" in wl
    assert wl.get("AB12CDE") == WatchlistEntry(
        plate="AB12CDE", reason="first", category="stolen", priority=2, expires_at=99.0, covert=True,
        source="pnc", added_by="sgt", added_at=5.0,
    )
    wl.add(WatchlistEntry(plate="AB12CDE", reason="second"))
    assert len(wl) == 1 and wl.get("AB12CDE").reason == "second"  # type: ignore[union-attr]
    wl.add(WatchlistEntry(plate="A812CDE", reason="same key"))  # shares the canonical key
    assert len(wl) == 2
    assert wl.remove("AB12CDE") and not wl.remove("AB12CDE")
    assert wl.get("AB12CDE") is None and wl.get("A812CDE") is not None
    assert wl.match("AB12CDE", 0.99, 0.0).entry.plate == "A812CDE"  # type: ignore[union-attr]
    assert not wl.remove("??")  # not a plate: never listed
    wl.add(WatchlistEntry(plate="ZZ99ZZZ", reason="reuses the freed slot"))
    assert len(wl) == 2 and wl.get("ZZ99ZZZ").reason == "reuses the freed slot"  # type: ignore[union-attr]


def test_accepts_wire_entries_and_validates_priority() -> None:
    wire = WireEntry(plate="AB12CDE", reason="stolen", priority=1, added_by="x", added_at=1.0)
    wl = WatchlistIndex.from_entries([wire])
    assert wl.get("AB12CDE").priority == 1  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="priority"):
        wl.add(WatchlistEntry(plate="AB12CDE", reason="r", priority=9))
    with pytest.raises(ValueError, match="no letters or digits"):
        wl.add(WatchlistEntry(plate="--", reason="r"))


def test_custom_equivalence_classes() -> None:
    cfg = MatchingConfig(equivalence_classes=(("M", "N"),))
    wl = index("MN1", config=cfg)
    assert wl.match("NN1", 0.5, 0.0) is not None
    assert wl.match("0N1", 0.5, 0.0) is None


@pytest.mark.parametrize(
    ("classes", "message"),
    [((("0",),), "at least two"), ((("0", "O"), ("O", "Q")), "more than one"), ((("0", "*"),), "A-Z or 0-9")],
)
def test_bad_equivalence_classes_are_rejected(classes: tuple[tuple[str, ...], ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MatchingConfig(equivalence_classes=classes)
