"""Multipart uploads in a real browser: the upload page sends a file of over 100 MB in parallel parts,
pauses and resumes, survives a reload in the middle and finishes from the parts already stored; and
Uppy (from npm, served as static files) with its @uppy/aws-s3 plugin in multipart mode uploads through
mediahub to READY. Debian's Chromium driven by Playwright, against uvicorn and SeaweedFS.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.helpers import ROOT
from tests.test_browser_upload import browser, browser_user, card  # noqa: F401 - fixtures
from tests.test_ws_live import LiveServer, asgi_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
PART = 5 * MiB
UPPY = ROOT / "media" / "static" / "vendor" / "uppy" / "uppy.min.js"


def wav(path: Path, data_bytes: int) -> Path:
    """A silent 16-bit stereo WAV with this many bytes of samples: an audio file mediahub accepts, of any size."""
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + data_bytes, b"WAVE", b"fmt ", 16, 1, 2, 44100, 44100 * 4, 4, 16,
        b"data", data_bytes,
    )  # fmt: skip
    with path.open("wb") as out:
        out.write(header)
        for _ in range(data_bytes // MiB):
            out.write(bytes(MiB))
        out.write(bytes(data_bytes % MiB))
    return path


@dataclass(frozen=True)
class Browsing:
    """A logged-in page on the live server, and the errors its scripts raised."""

    context: Any
    page: Any
    server: LiveServer
    problems: list[str]


@pytest.fixture
def browsing(
    asgi_server: LiveServer,  # noqa: F811 - fixture
    browser: Any,  # noqa: F811 - fixture
    browser_user: tuple[str, str],  # noqa: F811 - fixture
    settings: Any,
) -> Iterator[Browsing]:
    settings.MULTIPART_PART_SIZE = PART  # the server runs in this process and reads it at each upload
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(f"{asgi_server.url}/login/")
    page.get_by_label("Username").fill(browser_user[0])
    page.get_by_label("Password").fill(browser_user[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{asgi_server.url}/")
    yield Browsing(context, page, asgi_server, problems)
    context.close()


def part_number(url: str) -> int | None:
    query = parse_qs(urlparse(url).query)
    return int(query["partNumber"][0]) if "partNumber" in query else None


def upload_percent(page: Any, name: str) -> int:
    return int(card(page, name).get_attribute("data-upload") or 0)


def wait_for_upload(page: Any, name: str, percent: int) -> None:
    deadline = time.monotonic() + 60
    while upload_percent(page, name) < percent:
        assert time.monotonic() < deadline, f"the upload of {name} did not reach {percent}%"
        page.wait_for_timeout(50)


def test_a_big_upload_pauses_resumes_and_survives_a_reload(browsing: Browsing, tmp_path: Path) -> None:
    size = 100 * MiB + 44  # 21 parts of 5 MiB
    path = wav(tmp_path / "long-take.wav", size - 44)
    count = -(-size // PART)
    part_size = {n: min(PART, size - (n - 1) * PART) for n in range(1, count + 1)}
    context, page = browsing.context, browsing.page
    sent: list[tuple[str, int]] = []  # (phase, part number) of every part PUT the page starts
    phase = {"now": "before"}
    page.on(
        "request",
        lambda r: r.method == "PUT" and part_number(r.url) and sent.append((phase["now"], part_number(r.url))),
    )
    # ~25 MB/s up, so the 100 MB take a few seconds and the test can act in the middle
    cdp = context.new_cdp_session(page)
    conditions = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 25 * MiB}
    cdp.send("Network.emulateNetworkConditions", conditions)

    page.get_by_label("Choose files").set_input_files(path)
    item = card(page, path.name)
    wait_for_upload(page, path.name, 2)
    assert len({n for _, n in sent}) >= 4, "four parts go up at once (one at a time, only the first would have)"
    wait_for_upload(page, path.name, 10)
    # pause: the parts in flight stop, nothing more is sent until resume
    item.get_by_role("button", name="Pause").click()
    page.wait_for_timeout(300)
    paused_at, started = upload_percent(page, path.name), len(sent)
    page.wait_for_timeout(1000)
    assert (upload_percent(page, path.name), len(sent)) == (paused_at, started)
    item.get_by_role("button", name="Resume").click()
    wait_for_upload(page, path.name, 45)

    # a reload in the middle: the page lists the media as PENDING, the store keeps the parts
    media_id = item.get_attribute("data-id")
    page.reload()
    phase["now"] = "after"
    cdp = context.new_cdp_session(page)
    cdp.send("Network.emulateNetworkConditions", {**conditions, "uploadThroughput": -1})
    card(page, path.name).and_(page.locator("[data-status=PENDING]")).wait_for()
    stored = page.evaluate(f"fetch('/api/media/{media_id}/parts/').then((r) => r.json())")["parts"]
    stored_numbers = {part["part_number"] for part in stored}
    stored_bytes = sum(part["size"] for part in stored)
    assert 0 < stored_bytes < size, stored_bytes

    page.get_by_label("Choose files").set_input_files(path)
    card(page, path.name).and_(page.locator("[data-status=READY]")).wait_for(timeout=120_000)
    assert card(page, path.name).count() == 1  # the same media, continued
    after = {n for when, n in sent if when == "after"}
    sent_after = sum(part_size[n] for n in after)
    assert not after & stored_numbers, "no stored part is sent again"
    assert sent_after == size - stored_bytes and sent_after < size
    media = page.evaluate(f"fetch('/api/media/{media_id}/').then((r) => r.json())")
    assert (media["status"], media["size"], media["kind"]) == ("READY", size, "audio")
    assert browsing.problems == []


def test_uppy_with_aws_s3_multipart_uploads_through_mediahub_to_ready(
    browsing: Browsing, settings: Any, tmp_path: Path
) -> None:
    if not UPPY.is_file():
        pytest.fail("Uppy is missing from media/static/vendor/: run make install (it fetches it with npm)")
    settings.MULTIPART_THRESHOLD = 2 * PART  # 12 MiB: multipart, three parts
    path = wav(tmp_path / "interview.wav", 12 * MiB)
    page = browsing.page
    parts: set[int] = set()
    page.on("request", lambda r: r.method == "PUT" and part_number(r.url) and parts.add(part_number(r.url)))
    page.goto(f"{browsing.server.url}/static/media/uppy-example.html")
    page.locator("#uppy-input").set_input_files(path)
    page.locator("#uppy-log li[data-status=READY]").wait_for(timeout=60_000)
    result = json.loads(page.locator("#uppy-log li[data-status=READY]").get_attribute("data-media"))
    assert (result["status"], result["size"], result["filename"]) == ("READY", path.stat().st_size, path.name)
    assert parts == {1, 2, 3}
    assert browsing.problems == []
