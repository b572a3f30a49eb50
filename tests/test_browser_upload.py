"""The upload page in a real browser: Debian's Chromium driven by Playwright, against uvicorn, a worker and SeaweedFS.

One test walks the whole page: log in, drop a camera photo, a short video and an
executable named .jpg at once, watch the upload bars and processing progress
move (uploads are throttled through the DevTools protocol so the bar has steps
to show) and the queue positions while the worker is held, see the thumbnail,
play the video (HLS through hls.js, H.264 through Media Source Extensions) and
read the rejection; then reload, drop the WebSocket, and let a photo finish
while the socket cannot reconnect (Playwright's WebSocket routing refuses it) to
see the page catch up. Screenshots go to tests/artifacts/.

Playwright's sync API keeps an event loop running on this thread, so once the
browser is up the test touches the database only through the server.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import CORPUS, ROOT
from tests.test_ws_live import LiveServer, WorkerControl, asgi_server, worker_thread  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
PHOTO = CORPUS / "camera" / "DSCN0010.jpg"
SMALL_PHOTO = CORPUS / "camera" / "Canon_40D.jpg"
UPLOAD_BYTES_PER_SECOND = 160 * 1024  # the photo takes about a second, so its bar has steps

# Records every change of a card's bars and state, so the test sees movement that is over before it looks.
RECORDER = """
window.__history = {};
new MutationObserver((records) => {
  for (const record of records) {
    const card = record.target;
    if (!card.classList || !card.classList.contains("card")) continue;
    const name = card.querySelector(".name").textContent;
    (window.__history[name] = window.__history[name] || []).push({
      upload: Number(card.dataset.upload || 0), progress: Number(card.dataset.progress || 0),
      status: card.dataset.status, stage: card.dataset.stage || "",
    });
  }
}).observe(document, {subtree: true, attributes: true,
                      attributeFilter: ["data-upload", "data-progress", "data-status", "data-stage"]});
"""


def make_video(path: Path) -> Path:
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-t", "3", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart", str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    if not (PHOTO.is_file() and SMALL_PHOTO.is_file()):
        pytest.skip(f"the shared photo corpus is not at {CORPUS}")
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    exe = tmp_path / "setup.jpg"
    exe.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 4000)  # a DOS/PE header
    photo, small = tmp_path / PHOTO.name, tmp_path / SMALL_PHOTO.name
    shutil.copyfile(PHOTO, photo)
    shutil.copyfile(SMALL_PHOTO, small)
    return {"photo": photo, "small": small, "video": make_video(tmp_path / "clip.mp4"), "exe": exe}


@pytest.fixture
def browser_user(django_user_model: Any, asgi_server: LiveServer) -> tuple[str, str]:  # noqa: F811 - fixture
    """Created before the browser starts: afterwards this thread has Playwright's event loop."""
    django_user_model.objects.create_user(username="browser-user", password="pw")
    return "browser-user", "pw"


@pytest.fixture
def browser(browser_user: tuple[str, str]) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make install-test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


def card(page: Any, filename: str) -> Any:
    return page.locator(".card", has=page.locator(".name", has_text=filename))


def test_upload_page_end_to_end(
    asgi_server: LiveServer,  # noqa: F811 - fixture
    browser: Any,
    files: dict[str, Path],
    browser_user: tuple[str, str],
    worker_thread: WorkerControl,  # noqa: F811 - fixture
    settings: Any,
) -> None:
    settings.PROGRESS_MIN_INTERVAL = 0  # the page shows every step; by default a small photo's are coalesced
    if not (ROOT / "media" / "static" / "vendor" / "hls.js" / "hls.min.js").is_file():
        pytest.fail("hls.js is missing from media/static/vendor/: run make install (it fetches it with npm)")
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1100, "height": 1000})
    # The page's WebSockets pass through Playwright, so the test can cut the network for them alone.
    network = {"down": False}

    def websocket(route: Any) -> None:
        if network["down"]:
            route.close(code=4000, reason="the test cut the network")
        else:
            route.connect_to_server()

    context.route_web_socket(re.compile(r"/ws/media/$"), websocket)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))

    # anonymous: sent to the login page, then back to the upload page
    page.goto(f"{asgi_server.url}/")
    assert "/login/" in page.url
    page.get_by_label("Username").fill(browser_user[0])
    page.get_by_label("Password").fill(browser_user[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{asgi_server.url}/")
    page.locator("#connection[data-state=live]").wait_for()

    page.evaluate(RECORDER)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": UPLOAD_BYTES_PER_SECOND},
    )
    worker_thread.pause()  # the jobs wait in their queues until the page has shown their places
    page.get_by_label("Choose files").set_input_files([files["photo"], files["video"], files["exe"]])
    photo, video, exe = card(page, files["photo"].name), card(page, "clip.mp4"), card(page, "setup.jpg")

    page.wait_for_function("document.querySelector('.card[data-upload]') !== null")
    page.screenshot(path=ARTIFACTS / "upload-1-uploading.png", full_page=True)
    for waiting in (photo, video):
        waiting.locator(".stage", has_text="Waiting in the queue: position").wait_for()
        assert int(waiting.get_attribute("data-queue-position")) >= 1
    page.screenshot(path=ARTIFACTS / "upload-2-queued.png", full_page=True)
    worker_thread.resume()

    # the photo: its upload bar and processing progress move, then its thumbnail shows
    photo.locator("img.thumbnail").wait_for()
    page.wait_for_function("document.querySelector('.card[data-status=READY] img.thumbnail')?.naturalWidth === 150")
    # the responsive picture: the browser picks AVIF from urls.sources, a width from the srcset, and decodes it
    responsive = "document.querySelector('.card[data-status=READY] picture.responsive img')"
    page.wait_for_function(f"{responsive}?.complete && {responsive}.naturalWidth > 0")
    chosen = page.evaluate(f"{responsive}.currentSrc")
    assert ".avif?" in chosen, chosen
    assert page.evaluate(f"{responsive}.getBoundingClientRect().width") > 150  # laid out at its own size
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": -1})  # fmt: skip
    history = page.evaluate("window.__history")
    photo_steps = history[files["photo"].name]
    uploads = [s["upload"] for s in photo_steps]
    assert any(0 < u < 100 for u in uploads), f"the upload bar never moved between 0 and 100: {uploads}"
    assert uploads == sorted(uploads)
    progress = [s["progress"] for s in photo_steps if s["status"] == "PROCESSING"]
    assert len(set(progress)) >= 3, f"too few processing steps seen: {photo_steps}"
    assert progress == sorted(progress)
    assert {"downloading", "thumbnail"} <= {s["stage"] for s in photo_steps}
    assert photo.get_attribute("data-status") == "READY"
    assert photo.locator("figcaption a").get_attribute("href").startswith("http://127.0.0.1:8333/")

    # the executable named .jpg: rejected with a message a person understands
    exe.locator(".error").wait_for()
    assert exe.get_attribute("data-status") == "REJECTED"
    assert "not a JPEG image" in exe.locator(".error").inner_text()

    # the video: transcoded to HLS and played in the page
    video.locator("video").wait_for(timeout=90_000)
    playing = page.evaluate(
        """async () => {
            const video = document.querySelector('.card[data-kind=video] video');
            video.muted = true;
            await video.play();
            const start = video.currentTime;
            await new Promise((resolve) => setTimeout(resolve, 1500));
            return {start, now: video.currentTime, paused: video.paused, width: video.videoWidth};
        }"""
    )
    assert playing["now"] > playing["start"] + 0.3, playing
    assert playing["width"] > 0
    video_progress = [s["progress"] for s in history.get("clip.mp4", []) if s["status"] == "PROCESSING"]
    assert video_progress == sorted(video_progress)
    page.screenshot(path=ARTIFACTS / "upload-3-done.png", full_page=True)

    # a reload lists the same media with their states
    page.reload()
    page.locator("#connection[data-state=live]").wait_for()
    for name, status in ((files["photo"].name, "READY"), ("clip.mp4", "READY"), ("setup.jpg", "REJECTED")):
        assert card(page, name).get_attribute("data-status") == status
    assert card(page, files["photo"].name).locator("img.thumbnail").count() == 1
    assert "not a JPEG image" in card(page, "setup.jpg").locator(".error").inner_text()

    # a dropped WebSocket comes back by itself and catches up
    page.evaluate("window.mediahub.socket.close()")
    page.locator("#connection[data-state=offline]").wait_for()
    page.locator("#connection[data-state=live]").wait_for()

    # what happens while the socket is down is caught up once it is back (sync, then GET of the rest)
    worker_thread.pause()
    page.get_by_label("Choose files").set_input_files(files["small"])
    small = card(page, files["small"].name)
    small.locator(".stage", has_text="Waiting in the queue").wait_for()
    network["down"] = True
    page.evaluate("window.mediahub.socket.close()")
    page.locator("#connection[data-state=offline]").wait_for()
    worker_thread.resume()
    detail = f"{asgi_server.url}/api/media/{small.get_attribute('data-id')}/"
    deadline = time.monotonic() + 30
    while page.request.get(detail).json()["status"] != "READY":
        assert time.monotonic() < deadline, (
            f"the worker did not finish the small photo: {page.request.get(detail).json()}"
        )
        page.wait_for_timeout(200)
    assert small.get_attribute("data-status") == "PROCESSING"  # its events went nowhere
    network["down"] = False
    page.locator("#connection[data-state=live]").wait_for()
    small.locator("img.thumbnail").wait_for()
    assert small.get_attribute("data-status") == "READY"

    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=ARTIFACTS / "upload-4-phone.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways on a phone"
    assert not problems, problems
    context.close()
