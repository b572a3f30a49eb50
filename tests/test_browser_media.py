"""What the upload page shows of each kind's outputs, in a real browser (Chromium via Playwright, uvicorn, a
worker, SeaweedFS): a video that plays before it is READY, then its storyboard over the seek bar while
scrubbing and its subtitles as text tracks (hls.js); an audio file's waveform drawn on a canvas; a PDF's
first-page preview. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import samples
from tests.helpers import ROOT
from tests.test_browser_upload import ARTIFACTS, browser, browser_user, card  # noqa: F401 - fixtures
from tests.test_ws_live import LiveServer, WorkerControl, asgi_server, worker_thread  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


def long_video_with_subtitles(path: Path) -> Path:
    """30 s of 720p with an English subtitle track: the worker takes several seconds over its ladder, so the
    page can play the first segments while it works."""
    srt = path.with_suffix(".srt")
    srt.write_text("1\n00:00:00,000 --> 00:00:29,000\nHello from the subtitles\n\n")
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30:duration=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=30", "-i", str(srt),
            "-map", "0:v", "-map", "1:a", "-map", "2", "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-c:s", "mov_text",
            "-metadata:s:s:0", "language=eng", "-movflags", "+faststart", str(path),
        ],
        check=True,
        timeout=120,
    )  # fmt: skip
    return path


def test_the_page_plays_a_video_before_ready_and_shows_storyboard_subtitles_waveform_and_preview(
    asgi_server: LiveServer,  # noqa: F811 - fixture
    browser: Any,  # noqa: F811 - fixture
    browser_user: tuple[str, str],  # noqa: F811 - fixture
    worker_thread: WorkerControl,  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    if not (ROOT / "media" / "static" / "vendor" / "hls.js" / "hls.min.js").is_file():
        pytest.fail("hls.js is missing from media/static/vendor/: run make install (it fetches it with npm)")
    ARTIFACTS.mkdir(exist_ok=True)
    video_file = long_video_with_subtitles(tmp_path / "talk.mp4")
    (audio_file := tmp_path / "tone.wav").write_bytes(samples.tone("wav", 3.0))
    (pdf_file := tmp_path / "report.pdf").write_bytes(samples.pdf(3))

    context = browser.new_context(viewport={"width": 1100, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(f"{asgi_server.url}/")
    page.get_by_label("Username").fill(browser_user[0])
    page.get_by_label("Password").fill(browser_user[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{asgi_server.url}/")
    page.locator("#connection[data-state=live]").wait_for()
    page.get_by_label("Choose files").set_input_files([video_file, audio_file, pdf_file])

    # The video plays while the worker is still making its ladder.
    video = card(page, "talk.mp4")
    try:
        video.locator("video").wait_for(timeout=120_000)
    except Exception as exc:
        detail = page.request.get(f"{asgi_server.url}/api/media/{video.get_attribute('data-id')}/").json()
        shown = video.evaluate("(c) => ({...c.dataset})")
        raise AssertionError(f"no player; the card {shown}, the media {detail}") from exc
    assert video.get_attribute("data-playable") == "early"
    playing = page.evaluate(
        """async () => {
            const card = document.querySelector('.card[data-kind=video]');
            const video = card.querySelector('video');
            video.muted = true;
            await video.play();
            const start = video.currentTime;
            await new Promise((resolve) => setTimeout(resolve, 1500));
            return {start, now: video.currentTime, width: video.videoWidth, status: card.dataset.status};
        }"""
    )
    assert playing["now"] > playing["start"] + 0.3 and playing["width"] > 0, playing
    assert playing["status"] == "PROCESSING", playing
    detail = page.request.get(f"{asgi_server.url}/api/media/{video.get_attribute('data-id')}/").json()
    assert (detail["status"], detail["playable"]) == ("PROCESSING", True), detail  # played before READY
    page.screenshot(path=ARTIFACTS / "media-1-playing-before-ready.png", full_page=True)

    # READY: scrubbing shows the storyboard's tile of the time under the pointer.
    page.locator(".card[data-kind=video][data-status=READY] .scrub input[type=range]").wait_for(timeout=180_000)
    seek = video.locator(".scrub input[type=range]")
    seek.scroll_into_view_if_needed()
    box = seek.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    tip = video.locator(".storyboard-tip")
    tip.wait_for()
    at = float(tip.get_attribute("data-time"))
    assert at == pytest.approx(15, abs=1.5)
    storyboard = page.request.get(
        page.request.get(f"{asgi_server.url}/api/media/{video.get_attribute('data-id')}/").json()["urls"]["storyboard"]
    ).text()
    cues = re.findall(r"^(\d\d):(\d\d):(\d\d\.\d+) --> (\d\d):(\d\d):(\d\d\.\d+)\n\S+#xywh=(\S+)$", storyboard, re.M)
    expected = next(
        xywh
        for h1, m1, s1, h2, m2, s2, xywh in cues
        if int(h1) * 3600 + int(m1) * 60 + float(s1) <= at < int(h2) * 3600 + int(m2) * 60 + float(s2)
    )
    assert tip.get_attribute("data-xywh") == expected
    x, y, w, h = (int(n) for n in expected.split(","))
    style = page.evaluate("(tip) => ({bg: tip.style.backgroundImage, pos: tip.style.backgroundPosition})",
                          tip.element_handle())  # fmt: skip
    assert style["pos"] == f"{-x}px {-y}px" and "X-Amz-Signature=" in style["bg"], style
    sprite = page.evaluate(
        """(url) => new Promise((resolve) => {
            const img = new Image();
            img.onload = () => resolve([img.naturalWidth, img.naturalHeight]);
            img.onerror = () => resolve(null);
            img.src = url;
        })""",
        re.search(r'url\("(.+)"\)', style["bg"]).group(1),
    )
    assert sprite and sprite[0] >= x + w and sprite[1] >= y + h, sprite
    page.screenshot(path=ARTIFACTS / "media-2-scrubbing.png", full_page=True)
    # dragging the bar seeks the video there
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
    page.mouse.up()
    page.wait_for_function("document.querySelector('.card[data-kind=video] video').currentTime > 20")

    # Its subtitles are a text track of the video (hls.js reads the master's SUBTITLES group).
    page.wait_for_function("document.querySelector('.card[data-kind=video] video').textTracks.length > 0")
    tracks = page.evaluate(
        "[...document.querySelector('.card[data-kind=video] video').textTracks].map((t) => [t.kind, t.language])"
    )
    assert ["subtitles", "eng"] in tracks, tracks

    # The audio's waveform, drawn from its peaks: a steady tone fills the canvas edge to edge.
    card(page, "tone.wav").locator("canvas.waveform[data-points]").wait_for()
    drawn = page.evaluate(
        """() => {
            const canvas = document.querySelector('canvas.waveform');
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            const columns = new Set();
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) columns.add(((i - 3) / 4) % canvas.width);
            return {columns: columns.size, width: canvas.width};
        }"""
    )
    assert drawn["columns"] >= drawn["width"] * 0.95, drawn

    # The PDF's first page.
    preview = card(page, "report.pdf").locator("img.document-preview")
    preview.wait_for()
    page.wait_for_function("document.querySelector('img.document-preview').naturalWidth > 0")
    assert "X-Amz-Signature=" in preview.get_attribute("src")
    page.screenshot(path=ARTIFACTS / "media-3-outputs.png", full_page=True)
    assert not problems, problems
    context.close()
