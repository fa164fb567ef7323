"""Real footage lives in ../shared/data next to the repo; skip without it unless CI=true."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def video_dir() -> Path:
    folder = DATA / "video"
    if not folder.is_dir():
        msg = f"real footage folder not found: {folder}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return folder
