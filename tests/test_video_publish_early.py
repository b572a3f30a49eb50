"""A video plays before it is READY: its first HLS segments are published while ffmpeg still writes the rest.

A real worker runs the job in this process (RQ needs the main thread); a client thread polls the API over
HTTP the whole time (pytest-django's live server) and plays what it is handed with ffprobe, as a player
would. The clip is long enough (tests/video_samples.py) that the job is still running when it plays.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rq import Queue

from media import storage
from media.models import Media, Status
from processing import scan
from tests import samples, video_samples
from tests.api_flow import NOTHING, detail_url, keys_of, run_worker, spool_files, submit
from tests.helpers import GroupEvents, ffmpeg_children
from tests.test_video_worker import decodes, fetch_playlist, master_variants, segments, videos_queue

__all__ = ["videos_queue"]  # the fixture, shared with the other video tests

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class Client(threading.Thread):
    """Polls the media as a client does and records what it could play, and when.

    Once the video is playable it reads the master and the lowest rung's playlist, plays the master with
    ffprobe, and reads the media again; with `kill_after_playing` it then kills the transcoding ffmpeg
    (the OOM killer's SIGKILL: a real fault, injected) and records what it is offered meanwhile."""

    def __init__(self, url: str, token: str, *, kill_after_playing: bool = False) -> None:
        super().__init__(daemon=True)
        self.url, self.headers = url, {"Authorization": f"Token {token}"}
        self.kill_after_playing = kill_after_playing
        self.seen: list[dict[str, Any]] = []  # every media read, in order
        self.played: dict[str, Any] = {}
        self.withdrawn: dict[str, Any] = {}
        self.error: BaseException | None = None

    def media(self) -> dict[str, Any]:
        body = requests.get(self.url, headers=self.headers, timeout=30).json()
        self.seen.append(body)
        return body

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the test, on its own thread
            self.error = exc

    def _run(self) -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            body = self.media()
            if body["status"] in (Status.READY, Status.REJECTED, Status.FAILED):
                return
            if body["playable"] and not self.played:
                self.play(body)
                if self.kill_after_playing:
                    self.kill_then_watch(body["urls"]["hls"])
            time.sleep(0.1)

    def play(self, body: dict[str, Any]) -> None:
        master = fetch_playlist(body["urls"]["hls"])
        lowest = master_variants(master, body["urls"]["hls"])[0]
        variant = fetch_playlist(lowest["uri"])
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-of", "json", "-show_streams", body["urls"]["hls"]],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        self.played = {
            "status": body["status"],
            "master": master,
            "variant": variant,
            "probe": probe,
            "status_after": self.media()["status"],
        }

    def kill_then_watch(self, hls_url: str) -> None:
        killed = []
        while not killed:
            for pid in ffmpeg_children():
                if b"hls" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.killpg(pid, signal.SIGKILL)  # ffmpeg leads its own process group
                    killed.append(pid)
        while (body := self.media())["playable"]:
            time.sleep(0.02)
        self.withdrawn = {"media": body, "playlist": requests.get(hls_url, timeout=30).status_code}


def test_a_video_plays_before_ready_and_its_playlists_end_as_vod(
    api: APIClient, user, live_server: Any, videos_queue: Queue
) -> None:
    body = video_samples.long_720p()
    with GroupEvents(user.id) as listener:
        media_id = submit(api, filename="long.mp4", content_type="video/mp4", body=body)
        client = Client(f"{live_server.url}{detail_url(media_id)}", Token.objects.get(user=user).key)
        client.start()
        run_worker(videos_queue)
        client.join(timeout=60)
        received = listener.until_final(media_id)
    assert client.error is None, client.error

    # Playable while PROCESSING: the master lists both rungs, the lowest one's playlist is an EVENT
    # playlist still growing (no end yet), and ffprobe plays the master; the job was still running after.
    played = client.played
    assert played["status"] == Status.PROCESSING and played["status_after"] == Status.PROCESSING, played
    assert [v["RESOLUTION"] for v in master_variants(played["master"], "")] == ["854x480", "1280x720"]
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in played["variant"] and "#EXT-X-ENDLIST" not in played["variant"]
    assert 1 <= len(segments(played["variant"])) < 9  # 40 s make 9 segments (2, 2, 2, 6...): not all yet
    assert played["probe"].returncode == 0 and played["probe"].stderr == "", played["probe"].stderr
    assert {s["codec_name"] for s in json.loads(played["probe"].stdout)["streams"]} >= {"h264", "aac"}
    before = next(m for m in client.seen if m["playable"])
    assert before["urls"]["hls"] and before["metadata"]["duration"] == pytest.approx(40, abs=0.1)
    assert not any(m["playable"] for m in client.seen[: client.seen.index(before)])

    # The event that said so, before READY; READY keeps meaning everything is done.
    became = next(e for e in received if e["playable"])
    assert became["status"] == Status.PROCESSING and became["hls_url"].startswith(f"/api/media/{media_id}/hls/")
    assert received[-1]["status"] == Status.READY and received[-1]["playable"]

    # READY: every rung a VOD playlist with its end, all 40 s, and it decodes to the end.
    media = api.get(detail_url(media_id)).json()
    assert media["status"] == Status.READY and media["playable"] is True
    hls_url = f"{live_server.url}{media['urls']['hls'].removeprefix('http://testserver')}"
    for variant in master_variants(fetch_playlist(hls_url), hls_url):
        text = fetch_playlist(variant["uri"])
        assert "#EXT-X-PLAYLIST-TYPE:VOD" in text and text.rstrip().endswith("#EXT-X-ENDLIST"), text
        assert sum(d for d, _ in segments(text)) == pytest.approx(40, abs=0.25)
    decodes(master_variants(fetch_playlist(hls_url), hls_url)[0]["uri"])


def test_a_run_killed_after_publishing_stops_offering_it_and_the_retry_publishes_again(
    api: APIClient, user, live_server: Any, videos_queue: Queue, settings
) -> None:
    """What a client sees of a half-published run: once it fails, the video is no longer playable (urls.hls
    null, the old playlist URL 404: a player stops rather than wait for segments that never come); the
    retry publishes its own playlists from the start and ends READY."""
    settings.JOB_RETRY_INTERVALS = [0]  # retry at once, so one burst of the worker sees both attempts
    settings.JOB_MAX_RETRIES = 1
    body = video_samples.long_720p()
    with GroupEvents(user.id) as listener:
        media_id = submit(api, filename="long.mp4", content_type="video/mp4", body=body)
        client = Client(
            f"{live_server.url}{detail_url(media_id)}", Token.objects.get(user=user).key, kill_after_playing=True
        )
        client.start()
        run_worker(videos_queue)
        client.join(timeout=60)
        received = listener.until_final(media_id, timeout=30)
    assert client.error is None, client.error

    assert client.played["status"] == Status.PROCESSING
    withdrawn = client.withdrawn["media"]
    assert withdrawn["status"] == Status.PROCESSING and withdrawn["urls"]["hls"] is None, withdrawn
    assert client.withdrawn["playlist"] == 404
    # the events say it too: playable, then not, then playable again, then READY
    flips = [e["playable"] for e in received]
    changes = [flips[0], *(b for a, b in zip(flips, flips[1:], strict=False) if a != b)]
    assert changes == [False, True, False, True], flips
    media = api.get(detail_url(media_id)).json()
    assert (media["status"], media["playable"]) == (Status.READY, True)
    hls_url = f"{live_server.url}{media['urls']['hls'].removeprefix('http://testserver')}"
    lowest = master_variants(fetch_playlist(hls_url), hls_url)[0]
    assert sum(d for d, _ in segments(fetch_playlist(lowest["uri"]))) == pytest.approx(40, abs=0.25)


# --- the scan runs alongside the transcode ----------------------------------------------------------


class SlowScanner:
    """FAULT INJECTION: a scanner slower than the transcode (a big file, a loaded clamd). Each scan waits
    until the ladder's first segments are written in the worker's spool, then asks the real clamd, and
    records what the bucket held for the media at that instant: what was published before the verdict."""

    def __init__(self, media_id: str, spool: Path) -> None:
        self.media_id, self.spool = media_id, spool
        self.stored_before_verdict: list[list[str]] = []

    def wrap(self, real_scan: Any) -> Any:
        def slow_scan(fileobj: Any, server: Any) -> Any:
            deadline = time.monotonic() + 60
            while not list(self.spool.rglob("seg_00001.ts")) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert list(self.spool.rglob("seg_00001.ts")), "the transcode wrote no segment while the scan waited"
            self.stored_before_verdict.append(storage.list_keys(f"permanent/{self.media_id}/"))
            return real_scan(fileobj, server)

        return slow_scan


@pytest.mark.parametrize("malware", [False, True], ids=["clean", "eicar"])
def test_nothing_is_published_before_the_scan_says_clean(
    malware: bool, api: APIClient, user, videos_queue: Queue, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan runs while ffmpeg transcodes; the segments ffmpeg has written wait for the verdict. Clean:
    playable once it is in, before READY. Malware: ffmpeg is stopped, REJECTED malware_detected, never
    playable, nothing stored but the quarantined upload, nothing left in the spool, no ffmpeg left."""
    settings.PROGRESS_MIN_INTERVAL = 0  # every step, to see the stages in order
    body = video_samples.long_720p() + (samples.EICAR if malware else b"")
    with GroupEvents(user.id) as listener:
        media_id = submit(api, filename="long.mp4", content_type="video/mp4", body=body)
        scanner = SlowScanner(media_id, Path(settings.SPOOL_DIR))
        monkeypatch.setattr(scan, "scan", scanner.wrap(scan.scan))
        run_worker(videos_queue)
        received = listener.until_final(media_id)

    assert scanner.stored_before_verdict == [[]]  # segments written, none stored: they waited for the verdict
    stages = [e["stage"] for e in received]
    assert "transcoding" in stages and "scanning" not in stages, stages  # the scan ran alongside, not before
    row = Media.objects.get(pk=media_id)
    if malware:
        assert (row.status, row.error_code) == (Status.REJECTED, "malware_detected")
        assert "EICAR" in row.error_detail and row.attempts == 1
        assert not any(e["playable"] for e in received) and row.playable_at is None
        assert keys_of(media_id) == {**NOTHING, "quarantine": [f"quarantine/{media_id}"]}
        assert storage.read(f"quarantine/{media_id}") == body
    else:
        assert row.status == Status.READY and row.playable_at is not None
        became = next(e for e in received if e["playable"])
        assert became["status"] == Status.PROCESSING  # still playable before READY
        assert any(key.endswith("/hls/master.m3u8") for key in keys_of(media_id)["permanent"])
    assert spool_files() == []
    assert ffmpeg_children() == []
