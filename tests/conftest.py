"""Shared fixtures: where the team's test media is, and synthetic clips with known content."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoclips import make_clip

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


@pytest.fixture(scope="session")
def media() -> Path:
    """../shared/media beside the repository (real videos, photos, landmarks)."""
    if not MEDIA.is_dir():
        pytest.skip(f"test media folder {MEDIA} is absent (it sits beside the repository as ../shared/media)")
    return MEDIA


@pytest.fixture()
def clip(tmp_path) -> Path:
    return make_clip(tmp_path / "clip.mp4")
