"""OCR-tolerant watchlist (hotlist) matching that stays small and fast at a million entries.

How a read is matched (see ``docs/anpr.md``):

1. Every listed plate is stored under its *canonical key*: each OCR equivalence class
   (``0/O/D/Q``, ``1/I/L``, ...) collapsed to one character. ``AB12CDE`` -> ``A812C0E``.
2. A read is collapsed the same way and looked up with one dict probe. Candidates under that key
   differ from the read only inside equivalence classes; the match is accepted when at most
   ``max_equivalent_substitutions`` positions differ (``exact`` when none do, else ``equivalent``).
   Same-kind substitutions (letter for letter, digit for digit) can turn one real plate into another,
   so they are accepted only for reads below ``same_kind_substitution_below_confidence``, or when
   the read letter is never issued at that position of a current-format GB plate (then it cannot
   be another real plate of that format).
3. Only for low-confidence reads, one inserted or dropped character is tolerated (``fuzzy``): the
   candidate keys are generated from the *read* (delete each position; insert each canonical
   character at each position), so the index holds exactly one key per entry.

Entries are stored column-wise (a list of plates plus compact arrays and an interned string pool)
rather than as one Python object per entry: 1M entries take ~230 MB. ``WatchlistEntry`` objects
are rebuilt only for ``get`` and for matches.

>>> from detectors.plates.config import MatchingConfig
>>> wl = WatchlistIndex(MatchingConfig())
>>> wl.add(WatchlistEntry(plate="AB12CDE", reason="stolen", category="stolen", priority=2))
>>> m = wl.match("A812CDE", confidence=0.95, now=0.0)
>>> (m.kind, m.differences)
('equivalent', ((1, '8', 'B'),))
>>> wl.match("AB12CDE", 0.99, 0.0).kind
'exact'
"""

from __future__ import annotations

import gc
import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from detectors.plates.config import MatchingConfig
from detectors.plates.keyfilter import KeyFilter
from detectors.plates.normalise import MAX_PLATE_LEN, normalise_plate

MatchKind = Literal["exact", "equivalent", "fuzzy"]
_NO_EXPIRY = math.inf

#: Letters the DVLA never issues at each position of a current-format GB plate (AA00AAA):
#: the memory tag has no I, Q or Z, the three random letters no I or Q.
_GB_UNISSUED = ("IQZ", "IQZ", "", "", "IQ", "IQ", "IQ")
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset("0123456789")


def is_current_gb_format(plate: str) -> bool:
    """``AA00AAA`` with letters the DVLA issues there.

    >>> is_current_gb_format("AB12CDE"), is_current_gb_format("AQ12CDE"), is_current_gb_format("A123BCD")
    (True, False, False)
    """
    return (len(plate) == 7 and plate[2] in _DIGITS and plate[3] in _DIGITS
            and all(c in _LETTERS and c not in _GB_UNISSUED[i] for i, c in enumerate(plate) if i not in (2, 3)))


@dataclass(frozen=True, slots=True)
class WatchlistEntry:
    """A listed plate (normalised) and why it is listed. ``priority`` 1 is the most urgent.

    >>> WatchlistEntry(plate="AB12CDE", reason="stolen").priority
    3
    """

    plate: str
    reason: str
    category: str = "general"
    priority: int = 3
    expires_at: float | None = None
    covert: bool = False
    source: str = "manual"
    added_by: str = ""
    added_at: float = 0.0


class EntryLike(Protocol):
    """Anything with the watchlist fields, e.g. ``schemas.watchlist.WatchlistEntry``."""

    @property
    def plate(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def expires_at(self) -> float | None: ...
    @property
    def covert(self) -> bool: ...
    @property
    def source(self) -> str: ...
    @property
    def added_by(self) -> str: ...
    @property
    def added_at(self) -> float: ...


Difference = tuple[int, str, str]
"""``(position, read_char, listed_char)``. For a fuzzy match one side of the insert/drop is ``""``."""


@dataclass(frozen=True, slots=True)
class Match:
    """How a read matched a watchlist entry."""

    kind: MatchKind
    entry: WatchlistEntry
    read_plate: str
    differences: tuple[Difference, ...] = ()
    """Positions where read and listed plate differ; position indexes the read (for a dropped
    character, the read position where it is missing)."""


class WatchlistIndex:
    """Watchlist keyed by OCR-canonical plate; see the module docstring for the algorithm.

    Not thread-safe; one per worker process (a Faust agent is single-threaded).
    """

    def __init__(self, config: MatchingConfig | None = None) -> None:
        self.config = config or MatchingConfig()
        src, dst = bytearray(), bytearray()
        alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        for group in self.config.equivalence_classes:
            canon = group[0]
            for ch in group:
                src.append(ord(ch))
                dst.append(ord(canon))
                alphabet.discard(ch)
            alphabet.add(canon)
        # Why bytes: bytes.translate is ~4x faster than str.translate and a bytes key is 16 B smaller.
        self._canon = bytes.maketrans(bytes(src), bytes(dst))
        self._alphabet: tuple[bytes, ...] = tuple(ch.encode() for ch in sorted(alphabet))
        # key -> slot, or list of slots when several listed plates share a canonical key (rare).
        self._by_key: dict[bytes, int | list[int]] = {}
        # Answers "not listed" for almost every read without touching _by_key (see keyfilter).
        self._filter = KeyFilter()
        # Entries per key length (index = length), so fuzzy lookups skip lengths nobody has.
        self._key_lengths = [0] * (MAX_PLATE_LEN + 2)
        # Columns, one row per slot. Freed slots are reused.
        self._plates: list[str | None] = []
        self._expires = array("d")
        self._added_at = array("d")
        self._priority = bytearray()
        self._covert = bytearray()
        self._reason = array("I")
        self._category = array("I")
        self._source = array("I")
        self._added_by = array("I")
        self._strings: list[str] = []
        self._string_ids: dict[str, int] = {}
        self._free: list[int] = []
        self._len = 0
        self._max_subs = self.config.max_equivalent_substitutions
        self._same_kind_below = self.config.same_kind_substitution_below_confidence
        self._fuzzy_below = self.config.fuzzy_indel_below_confidence
        self._fuzzy_subs = self.config.fuzzy_max_equivalent_substitutions
        self._gb_misreads = self.config.gb_unissued_letters_are_misreads

    # ----------------------------------------------------------------- building

    @classmethod
    def from_entries(
        cls, entries: Iterable[EntryLike], config: MatchingConfig | None = None
    ) -> WatchlistIndex:
        """Build an index from many entries (later duplicates of a plate replace earlier ones)."""
        index = cls(config)
        add = index.add
        # Why: a million small allocations trigger repeated full GC passes that scan everything
        # already built (quadratic-ish); nothing here creates reference cycles.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            for entry in entries:
                add(entry)
        finally:
            if was_enabled:
                gc.enable()
        return index

    def canonical_key(self, plate: str) -> bytes:
        """The OCR-canonical form of a normalised plate.

        >>> WatchlistIndex().canonical_key("ODI1LSB")
        b'0011158'
        """
        return plate.encode().translate(self._canon)

    def _intern(self, text: str) -> int:
        # setdefault: one dict operation for the common case of an already-seen string.
        n = len(self._strings)
        sid = self._string_ids.setdefault(text, n)
        if sid == n:
            self._strings.append(text)
        return sid

    def add(self, entry: EntryLike) -> None:
        """Add or replace the entry for ``entry.plate`` (normalised on the way in)."""
        plate = normalise_plate(entry.plate)
        priority = entry.priority
        if not 1 <= priority <= 5:
            raise ValueError(f"watchlist priority must be 1..5, got {priority} for an entry")
        key = plate.encode().translate(self._canon)
        existing = self._by_key.get(key)
        slot = None if existing is None else self._slot_in(plate, existing)
        intern = self._intern
        expires = _NO_EXPIRY if entry.expires_at is None else float(entry.expires_at)
        if slot is None:
            if self._free:
                slot = self._free.pop()
                self._plates[slot] = plate
                self._expires[slot] = expires
                self._added_at[slot] = entry.added_at
                self._priority[slot] = priority
                self._covert[slot] = 1 if entry.covert else 0
                self._reason[slot] = intern(entry.reason)
                self._category[slot] = intern(entry.category)
                self._source[slot] = intern(entry.source)
                self._added_by[slot] = intern(entry.added_by)
            else:
                # Hot path of a bulk build: plain appends.
                slot = len(self._plates)
                self._plates.append(plate)
                self._expires.append(expires)
                self._added_at.append(entry.added_at)
                self._priority.append(priority)
                self._covert.append(1 if entry.covert else 0)
                self._reason.append(intern(entry.reason))
                self._category.append(intern(entry.category))
                self._source.append(intern(entry.source))
                self._added_by.append(intern(entry.added_by))
            if existing is None:
                self._by_key[key] = slot
                self._filter.add(key)
                self._refilter_if_stale()
            elif isinstance(existing, int):
                self._by_key[key] = [existing, slot]
            else:
                existing.append(slot)
            self._key_lengths[len(key)] += 1
            self._len += 1
            return
        self._expires[slot] = expires
        self._added_at[slot] = entry.added_at
        self._priority[slot] = priority
        self._covert[slot] = 1 if entry.covert else 0
        self._reason[slot] = intern(entry.reason)
        self._category[slot] = intern(entry.category)
        self._source[slot] = intern(entry.source)
        self._added_by[slot] = intern(entry.added_by)

    def _refilter_if_stale(self) -> None:
        """Rebuild the key filter from the index once growth or removals have worn it."""
        if self._filter.stale:
            self._filter.rebuild(self._by_key)

    def remove(self, plate: str) -> bool:
        """Remove a listed plate; return whether it was listed (text that is no plate never is)."""
        try:
            plate = normalise_plate(plate)
        except ValueError:
            return False
        key = plate.encode().translate(self._canon)
        ref = self._by_key.get(key)
        if ref is None:
            return False
        slots = [ref] if isinstance(ref, int) else ref
        for slot in slots:
            if self._plates[slot] == plate:
                break
        else:
            return False
        if isinstance(ref, int):
            del self._by_key[key]
            self._filter.note_removed()
            self._refilter_if_stale()
        else:
            ref.remove(slot)
            if len(ref) == 1:
                self._by_key[key] = ref[0]
        self._plates[slot] = None
        self._free.append(slot)
        self._key_lengths[len(key)] -= 1
        self._len -= 1
        return True

    def purge_expired(self, now: float) -> int:
        """Remove every entry whose expiry is at or before ``now``; return how many."""
        expired = [p for s, p in enumerate(self._plates) if p is not None and self._expires[s] <= now]
        for plate in expired:
            self.remove(plate)
        return len(expired)

    # ----------------------------------------------------------------- reading

    def __len__(self) -> int:
        return self._len

    def __contains__(self, plate: object) -> bool:
        return isinstance(plate, str) and self._find_slot(plate) is not None

    def _find_slot(self, plate: str) -> int | None:
        ref = self._by_key.get(plate.encode().translate(self._canon))
        return None if ref is None else self._slot_in(plate, ref)

    def _slot_in(self, plate: str, ref: int | list[int]) -> int | None:
        if isinstance(ref, int):
            return ref if self._plates[ref] == plate else None
        for slot in ref:
            if self._plates[slot] == plate:
                return slot
        return None

    def _entry(self, slot: int) -> WatchlistEntry:
        expires = self._expires[slot]
        strings = self._strings
        plate = self._plates[slot]
        assert plate is not None
        return WatchlistEntry(
            plate=plate,
            reason=strings[self._reason[slot]],
            category=strings[self._category[slot]],
            priority=self._priority[slot],
            expires_at=None if expires == _NO_EXPIRY else expires,
            covert=bool(self._covert[slot]),
            source=strings[self._source[slot]],
            added_by=strings[self._added_by[slot]],
            added_at=self._added_at[slot],
        )

    def get(self, plate: str) -> WatchlistEntry | None:
        """The entry listed for exactly this (normalised) plate, expired or not."""
        slot = self._find_slot(plate)
        return None if slot is None else self._entry(slot)

    def is_listed(self, plate: str, now: float) -> bool:
        """Whether exactly this plate is listed and not expired at ``now``."""
        slot = self._find_slot(plate)
        return slot is not None and self._expires[slot] > now

    def match(self, plate: str, confidence: float, now: float) -> Match | None:
        """Match a normalised read against the list at event time ``now``.

        Preference: exact, then equivalent with fewest differences, then fuzzy; ties go to the
        most urgent priority, then the alphabetically first plate (deterministic).

        >>> wl = WatchlistIndex()
        >>> wl.add(WatchlistEntry(plate="AB12CDE", reason="wanted", expires_at=100.0))
        >>> wl.match("AB12CDE", 0.9, now=99.0).kind
        'exact'
        >>> wl.match("AB12CDE", 0.9, now=100.0) is None
        True
        """
        key = plate.encode().translate(self._canon)
        return self._match_key(plate, key, self._by_key.get(key), confidence, now)

    def _match_key(self, plate: str, key: bytes, ref: int | list[int] | None, confidence: float, now: float
                   ) -> Match | None:
        """``match`` once the read's canonical key is known and looked up (``ref``)."""
        if ref is not None:
            found = self._best_aligned(plate, ref, confidence, now, self._max_subs, -1, "")
            if found is not None:
                return found
        if self._fuzzy_below is not None and confidence < self._fuzzy_below:
            return self._match_fuzzy(plate, key, confidence, now)
        return None

    def match_many(self, plates: Sequence[str], confidences: Sequence[float], times: Sequence[float]
                   ) -> dict[int, Match]:
        """``match`` for many normalised reads at once: the matches by index in ``plates``.

        Why: almost every read hits nothing, and for those the canonical keys and the key filter
        (both in C) answer for the whole batch without touching the million-key dict; only
        keys the filter lets through are looked up, and only those that exist, or low-confidence
        reads (fuzzy), take the per-read path.
        """
        joined = "\n".join(plates).encode().translate(self._canon)
        get = self._by_key.get
        refs: dict[int, int | list[int]] = {}
        keys: dict[int, bytes] = {}
        for i, key in self._filter.maybe_joined(joined):
            if (ref := get(key)) is not None:
                refs[i], keys[i] = ref, key
        candidates: Iterable[int] = refs
        fuzzy_below = self._fuzzy_below
        if fuzzy_below is not None:
            low = np.flatnonzero(np.asarray(confidences, dtype=np.float64) < fuzzy_below).tolist()
            candidates = sorted({*refs, *low})
        out: dict[int, Match] = {}
        for i in candidates:
            key = keys[i] if i in keys else plates[i].encode().translate(self._canon)
            found = self._match_key(plates[i], key, refs.get(i), confidences[i], times[i])
            if found is not None:
                out[i] = found
        return out

    def _best_aligned(
        self,
        plate: str,
        ref: int | list[int],
        confidence: float,
        now: float,
        max_subs: int,
        indel_pos: int,
        indel_kind: str,
    ) -> Match | None:
        """Best candidate among ``ref`` slots; ``indel_pos >= 0`` means fuzzy with that insert/drop.

        ``indel_kind`` ``"extra"``: the read has an extra char at ``indel_pos``; ``"missing"``: the
        read lacks the listed plate's char at ``indel_pos``.
        """
        slots = (ref,) if isinstance(ref, int) else ref
        best: tuple[int, int, str] | None = None
        best_match: Match | None = None
        allow_same_kind = confidence < self._same_kind_below
        gb_misreads = self._gb_misreads and not allow_same_kind and indel_kind == ""
        for slot in slots:
            if self._expires[slot] <= now:
                continue
            listed = self._plates[slot]
            assert listed is not None
            if indel_kind == "":
                if listed == plate:
                    return Match("exact", self._entry(slot), plate)
                read_cmp, listed_cmp = plate, listed
            elif indel_kind == "extra":
                read_cmp, listed_cmp = plate[:indel_pos] + plate[indel_pos + 1 :], listed
            else:
                read_cmp, listed_cmp = plate, listed[:indel_pos] + listed[indel_pos + 1 :]
            diffs: list[Difference] = []
            ok = True
            for i, (a, b) in enumerate(zip(read_cmp, listed_cmp, strict=True)):
                if a != b:
                    if not allow_same_kind and a.isdigit() == b.isdigit() and not (
                            gb_misreads and a in _GB_UNISSUED[i] and len(listed) == 7
                            and is_current_gb_format(listed)):
                        ok = False
                        break
                    # Report positions in read coordinates.
                    pos = i + 1 if indel_kind == "extra" and i >= indel_pos else i
                    diffs.append((pos, a, b))
                    if len(diffs) > max_subs:
                        ok = False
                        break
            if not ok:
                continue
            rank = (len(diffs), self._priority[slot], listed)
            if best is None or rank < best:
                best = rank
                if indel_kind == "extra":
                    diffs.append((indel_pos, plate[indel_pos], ""))
                elif indel_kind == "missing":
                    diffs.append((indel_pos, "", listed[indel_pos]))
                diffs.sort()
                kind: MatchKind = "equivalent" if indel_kind == "" else "fuzzy"
                best_match = Match(kind, self._entry(slot), plate, tuple(diffs))
        return best_match

    def _match_fuzzy(self, plate: str, key: bytes, confidence: float, now: float) -> Match | None:
        by_key = self._by_key
        n = len(key)
        found: list[Match] = []
        if n > 1 and self._key_lengths[n - 1] > 0:
            # Read has one extra character: delete each position in turn (skip repeats: same key).
            extra = {key[:i] + key[i + 1 :]: i for i in range(n - 1, -1, -1)}
            for cand in by_key.keys() & extra.keys():
                m = self._best_aligned(
                    plate, by_key[cand], confidence, now, self._fuzzy_subs, extra[cand], "extra"
                )
                if m is not None:
                    found.append(m)
        if n + 1 < len(self._key_lengths) and self._key_lengths[n + 1] > 0:
            # Read dropped a character: insert each canonical character at each position. Inserting
            # the character already at i-1 gives the same key as inserting it at i-1, so skip it.
            missing: dict[bytes, int] = {}
            for i in range(n + 1):
                head, tail, prev = key[:i], key[i:], key[i - 1 : i]
                for ch in self._alphabet:
                    if ch != prev:
                        missing[head + ch + tail] = i
            # Why set intersection: the membership tests run in C, ~3x faster than a Python loop.
            for cand in by_key.keys() & missing.keys():
                m = self._best_aligned(
                    plate, by_key[cand], confidence, now, self._fuzzy_subs, missing[cand], "missing"
                )
                if m is not None:
                    found.append(m)
        if not found:
            return None
        return min(found, key=lambda m: (len(m.differences), m.entry.priority, m.entry.plate))
