"""The web app's figures and screenshots: time from upload to the first painted preview frame,
memory of the idle app, and a screenshot of each tab after a run.

    python benchmarks/web_app.py [--repeats 3]

Starts ``facepaint serve`` on a free port (as a user would, in its own process), drives it with
Playwright in Debian's headless chromium (``apt-get install chromium``) and writes
``benchmarks/results/web_app.md``, ``web_video_tab.jpg`` and ``web_photo_tab.jpg``.

Upload to first frame is measured in the page: from handing the file to the upload box until
the preview's before/after slider shows the painted first frame (upload, queue, decoding, face
model, painting, image transfer). The upload itself starts the preview. The first upload of an
app pays for loading the painter (numba kernels from their cache, the face networks); the
figures list it apart. Memory is the app process's resident set (VmRSS), idle after start and
idle again after the runs.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "benchmarks" / "results"
CLIPS = [("360p", "video/stage_scene_cuts_360p.mp4"), ("720p", "video/lp_s32.mp4")]
SCREENSHOT_CLIP = "video/stage_scene_cuts_360p.mp4"
SCREENSHOT_END_S = 1.5
SCREENSHOT_PHOTO = "photos/group_steps.jpg"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _wait_value(page, selector: str, pattern: str, timeout_ms: int = 600_000) -> str:
    from playwright.sync_api import expect

    expect(page.locator(selector)).to_have_value(re.compile(pattern), timeout=timeout_ms)
    return page.locator(selector).input_value()


def _first_frame_shown(page, timeout_ms: int = 600_000) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#preview-frame img").nth(1)).to_be_visible(timeout=timeout_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="uploads per clip")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    RESULTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    tmp = tempfile.mkdtemp(prefix="facepaint-bench-")
    env = dict(os.environ, TMPDIR=tmp, PYTHONUNBUFFERED="1")
    log = Path(tempfile.mkdtemp(prefix="facepaint-bench-log-")) / "serve.log"
    started = time.perf_counter()
    with open(log, "w") as log_file:
        server = subprocess.Popen([sys.executable, "-m", "facepaint.cli", "serve", "--port", str(port)], env=env, stdout=log_file, stderr=subprocess.STDOUT)
    rows, notes = [], []
    try:
        while "facepaint app on" not in log.read_text():
            if server.poll() is not None:
                raise SystemExit(log.read_text())
            time.sleep(0.1)
        start_s = time.perf_counter() - started
        time.sleep(5)
        rss_idle = _rss_mib(server.pid)
        load_before = os.getloadavg()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            url = f"http://127.0.0.1:{port}/"
            for name, clip in CLIPS:
                times = []
                for _ in range(args.repeats):
                    page.goto(url)
                    page.locator("#video-upload input[type=file]").wait_for(state="attached")
                    t0 = time.perf_counter()
                    page.locator("#video-upload input[type=file]").set_input_files(str(MEDIA / clip))
                    _first_frame_shown(page)
                    times.append(time.perf_counter() - t0)
                    status = _wait_value(page, "#video-status textarea", r"^(preview:|error)")
                    print(name, f"{times[-1]:.2f} s", status, flush=True)
                rows.append((name, clip, times))
            rss_after_preview = _rss_mib(server.pid)

            # screenshots after a run: the Video tab with the preview, the regions and the result
            page.goto(url)
            page.locator("#video-end input").fill(str(SCREENSHOT_END_S))
            page.locator("#video-regions input").check()
            page.locator("#video-upload input[type=file]").set_input_files(str(MEDIA / SCREENSHOT_CLIP))
            _wait_value(page, "#video-status textarea", r"faces per frame found|^error")
            page.locator("#run-button").click()
            notes.append(_wait_value(page, "#video-status textarea", r"^(done|error)"))
            page.wait_for_timeout(1500)
            page.screenshot(path=str(RESULTS / "web_video_tab.jpg"), full_page=True, type="jpeg", quality=80)
            page.get_by_role("tab", name="Photo").click()
            page.locator("#photo-upload input[type=file]").set_input_files(str(MEDIA / SCREENSHOT_PHOTO))
            page.locator("#photo-button").click()
            notes.append(_wait_value(page, "#photo-status textarea", r"^(painted|error)"))
            page.wait_for_timeout(1500)
            page.screenshot(path=str(RESULTS / "web_photo_tab.jpg"), full_page=True, type="jpeg", quality=80)
            browser.close()
        time.sleep(5)
        rss_after = _rss_mib(server.pid)
        load_after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=60)
    left = list(Path(tmp).iterdir())
    lines = [
        "# Web app (`facepaint serve`): upload to first painted frame, memory",
        "",
        f"`python benchmarks/web_app.py --repeats {args.repeats}`; {time.strftime('%Y-%m-%d %H:%M')}; "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (shared 2-core machine).",
        "",
        "Upload to the first painted preview frame shown in the page (headless chromium, the app on "
        "the same machine; the upload starts the preview). The first row's first upload is the app's "
        "first job, which loads the painter:",
        "",
        "| clip | size | first upload of the clip (s) | later uploads (s) | median of the later (s) |",
        "|---|---|---|---|---|",
    ]
    for name, clip, times in rows:
        later = times[1:] if len(times) > 1 else times
        lines.append(f"| {Path(clip).name} | {name} | {times[0]:.2f} | {', '.join(f'{t:.2f}' for t in later)} | {statistics.median(later):.2f} |")
    lines += [
        "",
        f"App start to listening: {start_s:.1f} s. Memory (resident) of the app process: idle after start "
        f"{rss_idle:.0f} MiB; after the previews {rss_after_preview:.0f} MiB; idle after the runs {rss_after:.0f} MiB.",
        "",
        "Screenshot runs: " + "; ".join(notes) + ".",
        "",
        f"Files left in the app's temporary folder after it stopped: {len(left)}.",
        "",
    ]
    (RESULTS / "web_app.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
