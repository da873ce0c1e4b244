"""The tests on real media skip where ../shared/media is absent, except in CI, where they fail
(a run without the real faces must not pass green). Checked on a copy of the test set-up in a
folder with no media beside it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("ci, expected", [(None, "1 skipped"), ("true", "1 error")])
def test_missing_media_skips_here_and_fails_in_ci(tmp_path, ci, expected):
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    for name in ("conftest.py", "videoclips.py"):
        shutil.copy(TESTS / name, repo / "tests" / name)
    (repo / "pytest.ini").write_text("[pytest]\n")
    (repo / "tests" / "test_uses_media.py").write_text("def test_needs_media(media):\n    assert media.is_dir()\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(repo / "tests")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "tests"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=120,
    )
    assert not (tmp_path / "shared").exists()
    assert expected in run.stdout, run.stdout + run.stderr
    assert (run.returncode == 1) == (ci is not None), run.stdout
    if ci is not None:
        assert "CI is set, so the tests on real media must run" in run.stdout
