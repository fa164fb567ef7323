"""A pass's plate reads decoded straight into columns: the same columns and records as msgspec's decoder.

The compiled fast path (``_columns.decode_batch``) must never take a message the schema's decoder
would not, nor make anything of it other than what ``read_columns`` makes of the decoder's records.
"""

from __future__ import annotations

import json
import random
from typing import Any

import msgspec
import pytest

from detectors.plates import _columns  # type: ignore[attr-defined]
from detectors.plates.normalise import MAX_PLATE_LEN
from detectors.plates.sighting import CameraPosition, read_columns
from schemas.anpr import PLATE_READ_BATCH_DECODER, PLATE_READ_DECODER, PlateReadRecord
from streams.codecs import MSGSPEC_DECODE_ERRORS, Rejected
from streams.plate_reads import PlateReads

CAMERAS = {f"cam-{i}": CameraPosition(f"cam-{i}", f"site-{i % 3}", 51.5 + i / 100, -0.1) for i in range(5)}
MAX_BYTES = 1 << 20


def a_read(rng: random.Random, i: int) -> dict[str, Any]:
    read: dict[str, Any] = {
        "read_id": f"r-{i}-{rng.getrandbits(24):06x}",
        "plate": rng.choice(["AB12CDE", "ab12cde", "AB12 CDE", "XY9", "K1", "AB-12-CD", "0O0O0O0O0O0O0O0O"]),
        "confidence": rng.choice([round(rng.random(), 2), rng.random(), 0, 1, 0.5, 1.0]),
        "camera_id": rng.choice([*CAMERAS, "cam-unknown"]),
        "event_time": rng.choice([1.7e9 + rng.random() * 1e6, round(1.7e9 + rng.random() * 1e6, 3), 1_700_000_000,
                                  946_684_800, 4_102_444_800.0]),
    }
    for name, values in (("lane", [None, 0, 1, 32]), ("direction", [None, "towards", "away", "unknown"]),
                         ("country", [None, "GB", "DEU"]), ("image_ref", [None, "", "s3://bucket/plate.jpg"]),
                         ("schema_version", [1])):
        if rng.random() < 0.5:
            read[name] = rng.choice(values)
    return dict(rng.sample(list(read.items()), len(read)))  # any field order


def a_batch(rng: random.Random, reads: int) -> bytes:
    body: dict[str, Any] = {"reads": [a_read(rng, i) for i in range(reads)]}
    if rng.random() < 0.3:
        body = {"schema_version": 1, **body} if rng.random() < 0.5 else {**body, "schema_version": 1}
    return json.dumps(body, indent=rng.choice([None, None, 2])).encode()


def decode_fast(raw: bytes) -> Any:
    return _columns.decode_batch(raw, CAMERAS, MAX_PLATE_LEN)


def assert_same_as_msgspec(raw: bytes) -> bool:
    """If the fast path takes ``raw``: msgspec takes it too, with the same columns and records. Returns taken."""
    fast = decode_fast(raw)
    try:
        records = PLATE_READ_BATCH_DECODER.decode(raw).reads
    except MSGSPEC_DECODE_ERRORS:
        assert fast is None, f"the fast path took a message the schema rejects: {raw[:200]!r}"
        return False
    if fast is None:
        return False
    *columns, spans = fast
    assert tuple(columns) == read_columns(records, CAMERAS)
    reads = PlateReads(CAMERAS)
    assert reads.add_message(raw, MAX_BYTES) == (len(records), [])
    assert list(reads) == records and len(spans) == 16 * len(records)
    return True


def test_usual_batches_take_the_fast_path_with_the_decoders_columns_and_records() -> None:
    rng = random.Random(5)
    for _ in range(200):
        assert assert_same_as_msgspec(a_batch(rng, rng.randint(1, 40)))


@pytest.mark.parametrize("change", [
    ('"plate": "AB12CDE"', '"plate": "AB\\u0031\\u0032CDE"'),  # escapes: msgspec's to unescape
    ('"plate": "AB12CDE"', '"plate": "ÄB12CDE"'),
    ('"plate": "AB12CDE"', '"plate": "AB12CDEFGHIJKLMNO"'),  # 17 characters
    ('"plate": "AB12CDE"', '"plate": ""'),
    ('"read_id": "r1"', '"read_id": ""'),
    ('"read_id": "r1"', f'"read_id": "{"r" * 129}"'),
    ('"camera_id": "cam-1"', f'"camera_id": "{"c" * 65}"'),
    ('"country": "GB"', f'"country": "GB", "image_ref": "{"i" * 513}"'),
    ('"read_id": "r1"', '"read_id": "r1", "read_id": "r2"'),  # repeated field
    ('"read_id": "r1", ', ''),  # missing
    ('"read_id": "r1"', '"read_id": null'),
    ('"read_id": "r1"', '"read_id": 1'),
    ('"read_id": "r1"', '"read_id": "r1", "speed": 50'),  # unknown field
    ('"confidence": 0.9', '"confidence": 1.5'),
    ('"confidence": 0.9', '"confidence": -0.1'),
    ('"confidence": 0.9', '"confidence": "0.9"'),
    ('"confidence": 0.9', '"confidence": NaN'),
    ('"confidence": 0.9', '"confidence": .9'),
    ('"confidence": 0.9', '"confidence": 00.9'),
    ('"confidence": 0.9', '"confidence": 0.'),
    ('"confidence": 0.9', '"confidence": +0.9'),
    ('"event_time": 1700000000.5', '"event_time": 946684799.9'),
    ('"event_time": 1700000000.5', '"event_time": 1e400'),
    ('"event_time": 1700000000.5', '"event_time": true'),
    ('"lane": 2', '"lane": 33'),
    ('"lane": 2', '"lane": 2.0'),
    ('"lane": 2', '"lane": -1'),
    ('"direction": "away"', '"direction": "left"'),
    ('"country": "GB"', '"country": "G"'),
    ('"country": "GB"', '"country": "GBRX"'),
    ('"schema_version": 1', '"schema_version": 2'),
    ('"schema_version": 1', '"schema_version": 1.0'),
    ('{"reads": [', '{"reads": [], "x": ['),
    ('{"reads": [', '{"reads": 1, "reads": ['),
    (']}', ']} x'),
    (']}', ']'),
    ('"camera_id": "cam-1"', '"camera_id": "c\\"1"'),
    ('"camera_id": "cam-1"', '"camera_id": "cam\t1"'),
])
def test_what_the_fast_path_does_not_take_exactly_goes_to_the_decoder(change: tuple[str, str]) -> None:
    good = ('{"reads": [{"read_id": "r1", "plate": "AB12CDE", "confidence": 0.9, "camera_id": "cam-1", '
            '"event_time": 1700000000.5, "lane": 2, "direction": "away", "country": "GB", "schema_version": 1}]}')
    assert assert_same_as_msgspec(good.encode())
    old, new = change
    assert old in good
    raw = good.replace(old, new, 1).encode()
    assert decode_fast(raw) is None
    assert_same_as_msgspec(raw)


def test_the_fast_path_keeps_to_the_schemas_bounds() -> None:
    """Each bound of ``PlateReadRecord`` (read from the struct, so a changed schema is checked as it
    is): the value on the bound takes the fast path, the one past it is left to the decoder."""
    base = {"read_id": "r1", "plate": "AB12CDE", "confidence": 0.5, "camera_id": "cam-1", "event_time": 1.7e9}
    checked = 0
    for field in msgspec.inspect.type_info(PlateReadRecord).fields:
        kinds = field.type.types if isinstance(field.type, msgspec.inspect.UnionType) else (field.type,)
        for kind in kinds:
            cases: list[tuple[Any, bool]] = []
            if isinstance(kind, msgspec.inspect.StrType):
                cases += [("A" * kind.max_length, True), ("A" * (kind.max_length + 1), False)]
                if kind.min_length:
                    cases += [("A" * kind.min_length, True), ("A" * (kind.min_length - 1), False)]
            elif isinstance(kind, (msgspec.inspect.FloatType, msgspec.inspect.IntType)):
                step = 1 if isinstance(kind, msgspec.inspect.IntType) else 1e-3
                cases += [(kind.ge, True), (kind.ge - step, False), (kind.le, True), (kind.le + step, False)]
            elif isinstance(kind, msgspec.inspect.LiteralType):
                cases += [(value, True) for value in kind.values] + [(2 if 1 in kind.values else "other", False)]
            for value, taken in cases:
                read = base | {field.name: value}
                if field.name == "camera_id":
                    read["camera_id"] = value.replace("A", "c")  # an unknown camera: still a valid read
                raw = json.dumps({"reads": [read]}).encode()
                assert (decode_fast(raw) is not None) == taken, (field.name, value)
                assert assert_same_as_msgspec(raw) == taken
                checked += 1
    assert checked >= 30


def test_empty_and_oversized_batches_are_left_to_the_decoder() -> None:
    read = {"read_id": "r", "plate": "AB1", "confidence": 0.5, "camera_id": "cam-1", "event_time": 1.7e9}
    assert decode_fast(b'{"reads": []}') is None
    assert decode_fast(json.dumps({"reads": [read] * 5000}).encode()) is not None
    assert decode_fast(json.dumps({"reads": [read] * 5001}).encode()) is None  # MAX_BATCH_READS


def test_random_damage_never_makes_the_fast_path_take_what_the_decoder_would_not() -> None:
    rng = random.Random(11)
    taken = 0
    for _ in range(3000):
        raw = bytearray(a_batch(rng, rng.randint(1, 4)))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(raw))
            action = rng.random()
            if action < 0.4:
                raw[at] = rng.choice(b'{}[]:,"\\ .-+eE0123456789aznul\x00\x7f\xc3')
            elif action < 0.7:
                del raw[at]
            else:
                raw.insert(at, rng.choice(b'{}[]:," 0179.eE-'))
        taken += assert_same_as_msgspec(bytes(raw))
    assert taken > 100  # damage inside a string's text leaves a valid batch, which the fast path takes


def test_numbers_are_rounded_as_the_decoder_rounds_them() -> None:
    rng = random.Random(3)
    texts = ["0", "1", "0.1", "0.30000000000000004", "1700000000.123456", "946684800", "4102444800.0",
             "1.7e9", "17e8", "1.7E+9", "0.5e0", "123456789012345.6", "1234567890.12345678901234567890"]
    texts += [f"{rng.randint(946_684_800, 4_102_444_799)}.{rng.randint(0, 10 ** rng.randint(1, 9))}"
              for _ in range(2000)]
    texts += [repr(rng.uniform(946_684_800, 4_102_444_800)) for _ in range(3000)]  # time.time()'s 17 digits
    texts += [f"{rng.randint(946_684_800, 4_102_444_799)}.{rng.randint(0, 10 ** 9 - 1):09d}" for _ in range(3000)]
    for text in texts:
        value = float(text)
        raw = (f'{{"reads": [{{"read_id": "r", "plate": "AB1", "camera_id": "cam-1", "confidence": 0.5, '
               f'"event_time": {text}}}]}}').encode()
        fast = decode_fast(raw)
        if 946_684_800 <= value <= 4_102_444_800:
            assert fast is not None and fast[3] == [PLATE_READ_BATCH_DECODER.decode(raw).reads[0].event_time], text
            assert fast[3] == [value], text
        else:
            assert fast is None
    for text in [repr(rng.random()) for _ in range(3000)] + [f"0.{rng.randint(0, 10 ** 19 - 1):019d}"
                                                             for _ in range(3000)]:  # confidences
        raw = (f'{{"reads": [{{"read_id": "r", "plate": "AB1", "camera_id": "cam-1", "confidence": {text}, '
               f'"event_time": 1.7e9}}]}}').encode()
        fast = decode_fast(raw)
        decoded = PLATE_READ_BATCH_DECODER.decode(raw).reads[0].confidence
        assert fast is not None and fast[4] == [float(text)] == [decoded]


def test_a_pass_mixes_fast_batches_and_other_messages_in_order() -> None:
    single = {"read_id": "s1", "plate": "ZZ99 ZZZ", "confidence": 0.7, "camera_id": "cam-2", "event_time": 1.7e9}
    escaped = json.dumps({"reads": [{**single, "read_id": "é1"}]}, ensure_ascii=True).encode()  # "\u00e9": slow path
    fast = json.dumps({"reads": [{**single, "read_id": f"f{i}", "camera_id": "cam-9"} for i in range(3)]}).encode()
    reads = PlateReads(CAMERAS)
    assert reads.add_message(fast, MAX_BYTES) == (3, [])
    assert reads.add_message(json.dumps(single).encode(), MAX_BYTES) == (1, [])
    assert reads.add_message(escaped, MAX_BYTES) == (1, [])
    mixed = json.dumps({"reads": [single, {**single, "confidence": 2}]}).encode()
    count, rejected = reads.add_message(mixed, MAX_BYTES)  # a bad read: the good one still counts
    assert count == 1 and [index for index, _ in rejected] == [1] and "confidence" in rejected[0][1].error
    with pytest.raises(Rejected):
        reads.add_message(b"not json", MAX_BYTES)
    with pytest.raises(Rejected):
        reads.add_message(fast, len(fast) - 1)  # over the size limit: not taken by the fast path either

    assert [r.read_id for r in reads] == ["f0", "f1", "f2", "s1", "é1", "s1"]
    expected = [PLATE_READ_DECODER.decode(json.dumps(r).encode()) for r in json.loads(fast)["reads"]]
    assert reads[0:3] == expected and reads[-1].read_id == "s1"
    assert reads[1] is reads[1]  # made once: the dead-letter path finds a read's message by identity
    ids, plates, positions, times, confidences, odd = reads.columns()
    assert ids == ["f0", "f1", "f2", "s1", "é1", "s1"]
    assert plates == [None] * 6 and positions[:3] == [None] * 3 and positions[3] == CAMERAS["cam-2"]
    assert odd == 6 + 3  # every plate has a space; three reads are from an unknown camera
    assert times == [1.7e9] * 6 and confidences == [0.7] * 6
    with pytest.raises(IndexError):
        reads[6]


def test_reads_go_on_as_the_json_they_came_as() -> None:
    from streams.anpr_consumer import _batches

    rng = random.Random(8)
    fast = a_batch(rng, 30)
    single = a_read(rng, 99) | {"camera_id": "cam-1"}
    reads = PlateReads(CAMERAS)
    reads.add_message(fast, MAX_BYTES)
    reads.add_message(json.dumps(single).encode(), MAX_BYTES)
    assert [PLATE_READ_DECODER.decode(reads.read_json(i)) for i in range(31)] == list(reads)
    sent = json.loads(fast)["reads"]
    assert [json.loads(reads.read_json(i)) for i in range(30)] == sent  # as sent: nulls and all
    assert reads.read_json(0) in fast  # the very bytes, not a re-encoding
    messages = list(_batches([reads.read_json(i) for i in range(len(reads))], limit=2048))
    forwarded = PlateReads(CAMERAS)
    for message in messages:
        assert len(message) <= 2048 and forwarded.add_message(message, 2048)[1] == []
    assert list(forwarded) == list(reads) and forwarded.columns() == reads.columns()
