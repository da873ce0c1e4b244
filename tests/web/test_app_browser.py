"""``facepaint serve`` in a real headless browser (Debian's chromium, driven by Playwright).

One app process and one browser serve every test of this module: the app starts in 10-20 s on
a loaded 2-core machine, and the tests share its one-job-at-a-time queue as users would.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="the web app needs the 'web' extra: bash scripts/install.sh web")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need the 'web' extra: bash scripts/install.sh web")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags for a headless browser in a container without a network: no sandbox (root in CI), no
# GPU, and none of the background calls home that would only wait for a timeout here.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CLIP = "video/stage_scene_cuts_360p.mp4"  # 640x360, 29.97 fps, AAC audio, faces 31-120 px
CLIP_END_S = 0.5  # painted range 0-0.5 s: 15 frames, enough for every stage, quick on 2 cores
LONG_CLIP = "video/salesman_qcif.mp4"
PHOTO = "photos/two_people.jpg"
JOB_TIMEOUT_MS = 240_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """Start ``facepaint serve`` on a free port with its own TMPDIR; on teardown stop it and check
    that it left nothing behind."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed: apt-get install -y chromium (scripts/install.sh web does it as root)")
    tmp = tmp_path_factory.mktemp("serve_tmp")
    port = _free_port()
    env = dict(os.environ, TMPDIR=str(tmp), PYTHONUNBUFFERED="1")
    log = tmp_path_factory.mktemp("serve_log") / "serve.log"
    with open(log, "w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "facepaint.cli", "serve", "--port", str(port), "--max-upload-mb", "50"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while "facepaint app on" not in log.read_text():
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the app did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert not list(tmp.iterdir()), f"the app left files behind: {list(tmp.rglob('*'))[:10]}"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, app_url):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("tab", name="Video").wait_for()
    yield page
    context.close()


def _status(page, which: str) -> str:
    return page.locator(f"#{which}-status textarea").input_value()


def _wait_status(page, which: str, pattern: str, timeout_ms: int = JOB_TIMEOUT_MS) -> str:
    sync_api.expect(page.locator(f"#{which}-status textarea")).to_have_value(re.compile(pattern), timeout=timeout_ms)
    return _status(page, which)


def _slider_sources(page, elem_id: str) -> list[str]:
    images = page.locator(f"#{elem_id} img")
    sync_api.expect(images.nth(1)).to_be_visible(timeout=JOB_TIMEOUT_MS)
    return [images.nth(i).get_attribute("src") for i in range(images.count())]


@pytest.mark.slow
def test_video_preview_then_full_run(page, media, tmp_path):
    import av

    from facepaint import open_video

    page.locator("#video-end input").fill(str(CLIP_END_S))
    page.locator("#video-regions input").check()
    page.locator("#video-upload input[type=file]").set_input_files(str(media / CLIP))
    # the upload itself starts the preview: first the painted first frame, then the 1 s segment
    status = _wait_status(page, "video", r"first frame painted|preview:")
    assert "error" not in status
    first = _slider_sources(page, "preview-frame")
    assert len(set(first)) == 2, first
    status = _wait_status(page, "video", r"faces per frame found")
    for clip in ("preview-source", "preview-painted", "preview-regions"):
        sync_api.expect(page.locator(f"#{clip} video")).to_have_attribute("src", re.compile(r".+\.mp4"), timeout=10_000)

    page.locator("#run-button").click()
    status = _wait_status(page, "video", r"^(done|error)")
    assert status.startswith("done"), status
    sync_api.expect(page.locator("#result-video video")).to_have_attribute("src", re.compile(r".+\.mp4"))
    with page.expect_download() as download_info:
        page.locator("#result-file a").first.click()
    downloaded = tmp_path / "painted.mp4"
    download_info.value.save_as(downloaded)

    expected = sum(1 for _ in open_video(media / CLIP, end_s=CLIP_END_S))
    with av.open(str(downloaded)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert len(container.streams.audio) == 1, "the source's audio is kept"
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == expected
    assert f"{expected} frames" in status


@pytest.mark.slow
def test_full_run_shows_progress_and_cancels(page, media):
    # a tiny clip (176x144) whose 2 s preview is quick and whose 449 frames outlast the test
    page.locator("#video-upload input[type=file]").set_input_files(str(media / LONG_CLIP))
    _wait_status(page, "video", r"^(preview:|error)")
    page.locator("#run-button").click()
    # the bar's text comes from stylize_video's progress(done, total) callback
    sync_api.expect(page.get_by_text(re.compile(r"\d+/\d+ frames, [\d.]+ frames/s, \d+ s left")).first).to_be_visible(timeout=JOB_TIMEOUT_MS)
    page.locator("#cancel-button").click()
    assert _wait_status(page, "video", r"^cancelled") == "cancelled; no output was written"
    assert page.locator("#result-video video").count() == 0


@pytest.mark.slow
def test_photo_slider_shows_source_and_painting(page, media, tmp_path):
    page.get_by_role("tab", name="Photo").click()
    page.locator("#photo-upload input[type=file]").set_input_files(str(media / PHOTO))
    page.locator("#photo-button").click()
    status = _wait_status(page, "photo", r"^(painted|error)")
    assert status.startswith("painted 1126x661"), status
    sources = _slider_sources(page, "photo-slider")
    assert len(sources) == 2 and sources[0] != sources[1], sources
    # the two images really differ: fetch them through the page and compare their bytes
    contents = [page.request.get(source).body() for source in sources]
    assert contents[0] != contents[1]
    with page.expect_download() as download_info:
        page.locator("#photo-file a").first.click()
    painted = tmp_path / "painted.png"
    download_info.value.save_as(painted)
    from facepaint import read_image

    assert read_image(painted).shape == (661, 1126, 3)


@pytest.mark.slow
def test_text_file_gives_the_one_line_error(page, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    page.locator("#video-upload input[type=file]").set_input_files(str(text))
    status = _wait_status(page, "video", r"^error: ", timeout_ms=60_000)
    assert "'notes.txt' is not" in status and "\n" not in status
    page.get_by_role("tab", name="Photo").click()
    page.locator("#photo-upload input[type=file]").set_input_files(str(text))
    page.locator("#photo-button").click()
    status = _wait_status(page, "photo", r"^error: ", timeout_ms=60_000)
    assert "'notes.txt' is not" in status and "\n" not in status
