"""Fixtures of the face tests: one face model for the whole session (loading costs ~0.2 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def face_model():
    from facepaint.face import create_face_model

    return create_face_model("mediapipe")
