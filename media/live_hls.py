"""Publishing an HLS ladder while ffmpeg writes it, so a video plays within seconds of its upload.

ffmpeg (`processing.video.transcode_hls`) writes each file whole under its final name (temp names,
renamed), and EVENT playlists that grow a segment at a time. `LivePublisher.sync`, called as ffmpeg
reports progress and once more at the end, uploads what is new or changed in the folder in the order a
player needs it: segments (and WebVTT) first, then each playlist once every file it names is stored,
then the master once every playlist it names is. The first master stored makes the video playable.
The video job calls `sync` only once the upload scanned clean (clamd runs alongside ffmpeg:
`media.pipeline.run_video`), so nothing of a file that turns out to carry malware is ever stored.

A run that stops half-way leaves EVENT playlists without an end: a player that was playing reaches the
last segment and waits. That is why the media stops being playable when its run fails or a new run starts
over (`media.lifecycle`); the new run publishes its own playlists from the start.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO

from django.conf import settings

from media import storage
from processing import hls

MASTER = "master.m3u8"
PLAYLIST_CACHE_CONTROL = "no-cache"  # a growing playlist must be fetched again; segments never change


class LivePublisher:
    """Mirror of an HLS output folder in the store under `prefix`; `on_playable` is called once, on this
    thread, when the master is first stored."""

    def __init__(self, out_dir: Path, prefix: str, on_playable: Callable[[], None]) -> None:
        self.out_dir = out_dir
        self.prefix = prefix.rstrip("/")
        self.on_playable = on_playable
        self.playable = False
        self._stored: dict[str, str] = {}  # relative name -> the text stored (playlists), "" for other files
        self._pool = ThreadPoolExecutor(max_workers=8)  # many small segments at the end: upload in parallel

    def __enter__(self) -> LivePublisher:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._pool.shutdown(wait=True)

    def sync(self) -> None:
        """Upload what is new since the last call; a playlist only once everything it names is stored."""
        if not self.out_dir.is_dir():
            return
        names = sorted(
            path.relative_to(self.out_dir).as_posix()
            for path in self.out_dir.rglob("*")
            if path.is_file() and not path.name.endswith(".tmp")
        )
        files = [name for name in names if not name.endswith(".m3u8") and name not in self._stored]
        for name, done in [(name, self._pool.submit(self._put, name)) for name in files]:
            done.result()
            self._stored[name] = ""
        # the variants before the master, which names them
        for name in sorted((n for n in names if n.endswith(".m3u8")), key=lambda n: n == MASTER):
            text = (self.out_dir / name).read_text()
            folder = posixpath.dirname(name)
            named = [posixpath.normpath(posixpath.join(folder, uri)) for uri in hls.uris(text)]
            if self._stored.get(name) != text and all(n in self._stored for n in named):
                # the text that was checked, not the file: ffmpeg may have replaced it since
                self._put(name, io.BytesIO(text.encode()), PLAYLIST_CACHE_CONTROL)
                self._stored[name] = text
        if MASTER in self._stored and not self.playable:
            self.playable = True
            self.on_playable()

    def _put(self, name: str, body: IO[bytes] | None = None, cache_control: str | None = None) -> None:
        storage.upload(
            body or self.out_dir / name,
            f"{self.prefix}/{name}",
            content_type=hls.content_type(name),
            cache_control=cache_control or settings.RENDITION_CACHE_CONTROL,
        )
