"""OpenALPR / Rekor agent messages to plate-read dicts."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from schemas.adapters.openalpr import AdapterError, alpr_group_to_read, alpr_results_to_reads, openalpr_to_reads
from schemas.anpr import PlateRead

# Shaped like a real alprd "alpr_results" message (trimmed image geometry and vehicle data).
ALPR_RESULTS: dict[str, Any] = {
    "version": 2,
    "data_type": "alpr_results",
    "epoch_time": 1717236000040,
    "img_width": 1920,
    "img_height": 1080,
    "processing_time_ms": 61.3,
    "regions_of_interest": [{"x": 0, "y": 0, "width": 1920, "height": 1080}],
    "results": [
        {
            "plate": "AB12CDE",
            "confidence": 94.2,
            "matches_template": 1,
            "plate_index": 0,
            "region": "gb",
            "region_confidence": 97,
            "processing_time_ms": 22.1,
            "requested_topn": 10,
            "coordinates": [{"x": 812, "y": 640}, {"x": 1010, "y": 642}, {"x": 1009, "y": 690}, {"x": 811, "y": 688}],
            "vehicle_region": {"x": 640, "y": 300, "width": 560, "height": 560},
            "candidates": [
                {"plate": "AB12CDE", "confidence": 94.2, "matches_template": 1},
                {"plate": "A812CDE", "confidence": 81.0, "matches_template": 0},
            ],
        },
        {
            "plate": "WP66 ZXC",
            "confidence": 71.05,
            "matches_template": 0,
            "plate_index": 1,
            "region": "us-ca",
            "coordinates": [{"x": 100, "y": 600}, {"x": 290, "y": 602}, {"x": 290, "y": 650}, {"x": 100, "y": 648}],
            "candidates": [{"plate": "WP66ZXC", "confidence": 71.05, "matches_template": 0}],
        },
    ],
    "uuid": "KSDFOQ2L0XDSKQ9WERT9-1923231-1717236000040",
    "camera_id": 1923231,
    "agent_uid": "KSDFOQ2L0XDSKQ9WERT9",
    "agent_version": "4.1.1",
    "agent_type": "alprd",
    "site_id": "market-street",
    "company_id": "c0mp4ny-1d",
}

ALPR_GROUP: dict[str, Any] = {
    "version": 2,
    "data_type": "alpr_group",
    "epoch_start": 1717236000040,
    "epoch_end": 1717236001240,
    "frame_start": 4102,
    "frame_end": 4131,
    "company_id": "c0mp4ny-1d",
    "agent_uid": "KSDFOQ2L0XDSKQ9WERT9",
    "agent_version": "4.1.1",
    "agent_type": "alprd",
    "camera_id": 1923231,
    "gps_latitude": 51.5074,
    "gps_longitude": -0.1278,
    "country": "gb",
    "uuids": ["KSDFOQ2L0XDSKQ9WERT9-1923231-1717236000040", "KSDFOQ2L0XDSKQ9WERT9-1923231-1717236000540"],
    "vehicle_path": [{"x": 900, "y": 500, "w": 300, "h": 300, "t": 1717236000040}],
    "plate_indexes": [0, 0],
    "candidates": [{"plate": "AB12CDE", "confidence": 95.1, "matches_template": 1}],
    "best_plate": {"plate": "AB12CDE", "confidence": 95.1, "region": "gb"},
    "best_confidence": 95.1,
    "best_plate_number": "AB12CDE",
    "best_region": "gb",
    "best_region_confidence": 96,
    "matches_template": True,
    "best_image_width": 1920,
    "best_image_height": 1080,
    "best_uuid": "KSDFOQ2L0XDSKQ9WERT9-1923231-1717236000540",
    "best_index": 0,
    "travel_direction": 181.3,
    "is_parked": False,
    "is_preview": False,
    "vehicle": {"color": [{"name": "silver", "confidence": 88.1}], "make": [{"name": "ford", "confidence": 71.0}]},
}


def mutated(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def test_alpr_results_one_read_per_plate() -> None:
    reads = openalpr_to_reads(ALPR_RESULTS)
    assert reads == [
        {
            "read_id": "KSDFOQ2L0XDSKQ9WERT9-1923231-1717236000040#0", "plate": "AB12CDE", "confidence": 0.942,
            "camera_id": "1923231", "event_time": 1717236000.04, "lane": None, "direction": None,
            "country": "GB", "image_ref": None,
        },
        {
            "read_id": "KSDFOQ2L0XDSKQ9WERT9-1923231-1717236000040#1", "plate": "WP66 ZXC", "confidence": 0.7105,
            "camera_id": "1923231", "event_time": 1717236000.04, "lane": None, "direction": None,
            "country": "US", "image_ref": None,
        },
    ]
    for read in reads:
        PlateRead(**read)  # the output is a valid wire read


def test_alpr_group_one_read() -> None:
    (read,) = openalpr_to_reads(json.dumps(ALPR_GROUP).encode(), image_url_template="http://agent:8355/img/{uuid}.jpg")
    assert read == {
        "read_id": "group:KSDFOQ2L0XDSKQ9WERT9-1923231-1717236000540", "plate": "AB12CDE", "confidence": 0.951,
        "camera_id": "1923231", "event_time": 1717236000.04, "lane": None, "direction": "towards",
        "country": "GB", "image_ref": "http://agent:8355/img/KSDFOQ2L0XDSKQ9WERT9-1923231-1717236000540.jpg",
    }
    PlateRead(**read)


@pytest.mark.parametrize(
    ("heading", "towards", "expected"),
    [(181.3, 180.0, "towards"), (5.0, 180.0, "away"), (355.0, 180.0, "away"), (90.0, 180.0, "unknown"),
     (10.0, 0.0, "towards"), (-1, 180.0, "unknown"), (None, 180.0, None)],
)
def test_group_direction(heading: float | None, towards: float, expected: str | None) -> None:
    msg = mutated(ALPR_GROUP, travel_direction=heading)
    assert alpr_group_to_read(msg, towards_heading_deg=towards)["direction"] == expected  # type: ignore[index]


def test_group_previews_are_skipped_unless_asked() -> None:
    preview = mutated(ALPR_GROUP, is_preview=True)
    assert openalpr_to_reads(preview) == []
    assert len(openalpr_to_reads(preview, include_previews=True)) == 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"best_uuid": ...}, "group:KSDFOQ2L0XDSKQ9WERT9-1923231-1717236000040"),  # falls back to uuids[0]
        ({"country": ..., "best_region": "us-ny"}, "US"),
        ({"country": ..., "best_region": ...}, None),
        ({"lane": 2}, 2),
    ],
)
def test_group_optional_fields(changes: dict[str, Any], expected: object) -> None:
    read = alpr_group_to_read(mutated(ALPR_GROUP, **changes))
    assert read is not None
    assert expected in (read["read_id"], read["country"], read["lane"])


def test_frame_without_plates_gives_no_reads() -> None:
    assert alpr_results_to_reads(mutated(ALPR_RESULTS, results=[])) == []


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"{not json", "payload: not valid JSON"),
        ("[1, 2]", "payload: expected a JSON object"),
        (mutated(ALPR_RESULTS, data_type="alpr_alert"), "data_type: unsupported"),
        (mutated(ALPR_RESULTS, data_type=...), "data_type: unsupported"),
        (mutated(ALPR_RESULTS, epoch_time=...), "epoch_time: missing"),
        (mutated(ALPR_RESULTS, epoch_time=1717236000), "epoch_time: .* not epoch milliseconds"),  # seconds, not ms
        (mutated(ALPR_RESULTS, epoch_time="soon"), "epoch_time: expected a finite number"),
        (mutated(ALPR_RESULTS, uuid=""), "uuid: expected a non-empty string"),
        (mutated(ALPR_RESULTS, camera_id=None), "camera_id: expected an integer or string"),
        (mutated(ALPR_RESULTS, camera_id=True), "camera_id: expected an integer or string"),
        (mutated(ALPR_RESULTS, results={"plate": "X"}), "results: expected a list"),
        (mutated(ALPR_RESULTS, results=["AB12CDE"]), r"results\[0\]: expected an object"),
        (mutated(ALPR_RESULTS, results=[{"plate": "", "confidence": 90}]), r"results\[0\].plate: expected a non-empty"),
        (mutated(ALPR_RESULTS, results=[{"plate": "A" * 17, "confidence": 90}]), "longer than 16"),
        (mutated(ALPR_RESULTS, results=[{"plate": "AB1", "confidence": 120}]), r"results\[0\].confidence: .*0..100"),
        (mutated(ALPR_RESULTS, results=[{"plate": "AB1"}]), r"results\[0\].confidence: missing"),
        (mutated(ALPR_RESULTS, results=[{"plate": "AB1", "confidence": 9, "lane": -1}]), r"results\[0\].lane"),
        (mutated(ALPR_RESULTS, error=True, error_message="camera offline"), "agent reported an error"),
        (mutated(ALPR_GROUP, best_uuid=..., uuids=[]), "best_uuid: missing"),
        (mutated(ALPR_GROUP, best_plate_number=None), "best_plate_number: expected a non-empty"),
        (mutated(ALPR_GROUP, best_confidence=float("nan")), "best_confidence: expected a finite number"),
        (mutated(ALPR_GROUP, epoch_end=1717235000000), "epoch_end: .* before epoch_start"),
        (mutated(ALPR_GROUP, travel_direction="north"), "travel_direction: expected a finite number"),
    ],
)
def test_bad_messages_raise_adapter_error(message: Any, error: str) -> None:
    with pytest.raises(AdapterError, match=error):
        openalpr_to_reads(message)
    assert issubclass(AdapterError, ValueError)


def test_bad_image_template() -> None:
    with pytest.raises(AdapterError, match="placeholder"):
        openalpr_to_reads(ALPR_RESULTS, image_url_template="http://x/{frame}.jpg")
