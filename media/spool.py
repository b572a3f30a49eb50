"""Downloads into a spooled temporary file: in memory up to SPOOL_MAX_MEMORY, on disk past it.

Whatever happens in the `with` block (an exception, a job timeout), the file
and any on-disk copy are removed when it ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.conf import settings

from media import storage


class Spooled:
    def __init__(self, file: IO[bytes], path: Path | None) -> None:
        self.file = file
        self.etag = ""  # the version of the object that was read (see moves.promote)
        self._path = path
        self._materialized: Path | None = None
        self._sha256 = ""

    def sha256(self) -> str:
        """The hex SHA-256 of the bytes downloaded (read again from the spool: a fraction of the decode's cost;
        kept, so a file rewritten afterwards still answers for what the client sent)."""
        if not self._sha256:
            self.file.seek(0)
            self._sha256 = hashlib.file_digest(self.file, "sha256").hexdigest()  # type: ignore[arg-type]
            self.file.seek(0)
        return self._sha256

    def path(self) -> Path:
        """A path on disk, for tools that need one (ffprobe); writes an in-memory file out once."""
        if self._path is not None:
            return self._path
        if self._materialized is None:
            fd, name = tempfile.mkstemp(dir=_spool_dir(), prefix="mem-")
            with os.fdopen(fd, "wb") as out:
                out.write(self.file.getbuffer())  # type: ignore[attr-defined]
            self._materialized = Path(name)
        return self._materialized

    def close(self) -> None:
        self.file.close()
        for path in (self._path, self._materialized):
            if path is not None:
                path.unlink(missing_ok=True)


_swept: set[Path] = set()


def _spool_dir() -> Path:
    path = Path(settings.SPOOL_DIR)
    path.mkdir(parents=True, exist_ok=True)
    if path not in _swept:
        _sweep(path)
        _swept.add(path)
    return path


def _sweep(path: Path) -> None:
    """Remove what a killed worker left behind (SIGKILL and OOM run no `finally`). Runs once per
    process, on the host that spools; anything older than the longest job cannot be in use."""
    longest = max(settings.JOB_TIMEOUT_IMAGE, settings.JOB_TIMEOUT_VIDEO, settings.JOB_TIMEOUT_INLINE)
    cutoff = time.time() - longest - 3600
    for entry in path.iterdir():
        with contextlib.suppress(OSError):  # another process may remove it first
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


@contextmanager
def fetch(key: str, *, size: int, to_disk: bool = False) -> Iterator[Spooled]:
    """Download `key` (of the given size) into memory or, when big or asked, into SPOOL_DIR."""
    if to_disk or size > settings.SPOOL_MAX_MEMORY:
        fd, name = tempfile.mkstemp(dir=_spool_dir(), prefix="dl-")
        spooled = Spooled(os.fdopen(fd, "w+b"), Path(name))
    else:
        spooled = Spooled(io.BytesIO(), None)
    try:
        spooled.etag = storage.download(key, spooled.file)
        spooled.file.seek(0)
        yield spooled
    finally:
        spooled.close()


@contextmanager
def workdir() -> Iterator[Path]:
    """A scratch folder for renditions, removed with everything in it."""
    with tempfile.TemporaryDirectory(dir=_spool_dir(), prefix="work-") as name:
        yield Path(name)


def disk_usage() -> tuple[int, int]:
    """(free, total) bytes of the disk under SPOOL_DIR, as this host sees it (without creating the folder)."""
    path = Path(settings.SPOOL_DIR)
    while not path.exists():
        path = path.parent
    usage = shutil.disk_usage(path)
    return usage.free, usage.total
