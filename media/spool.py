"""Downloads into a spooled temporary file: in memory up to SPOOL_MAX_MEMORY, on disk past it.

Whatever happens in the `with` block (an exception, a job timeout), the file
and any on-disk copy are removed when it ends. SIGKILL and the OOM killer run no
`finally`, so each process spools into a folder of its own, `<host>-<pid>`:
once that process is gone, `sweep_dead` removes the folder (a worker does at
start, maintenance every run).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import socket
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


def _own_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _spool_dir() -> Path:
    """This process's own folder under SPOOL_DIR (its pid in the name: a forked child gets its own)."""
    root = Path(settings.SPOOL_DIR)
    path = root / _own_name()
    path.mkdir(parents=True, exist_ok=True)
    if root not in _swept:
        _sweep_old(root)
        _swept.add(root)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def dead_folders() -> list[Path]:
    """The folders of this host's processes that are gone (killed mid-job); other hosts sweep their own."""
    root = Path(settings.SPOOL_DIR)
    if not root.is_dir():
        return []
    host = socket.gethostname()
    found = []
    for entry in root.iterdir():
        owner, _, pid = entry.name.rpartition("-")
        if entry.is_dir() and owner == host and pid.isdigit() and not _alive(int(pid)):
            found.append(entry)
    return found


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)  # another sweeper may remove it first


def sweep_dead() -> list[Path]:
    """Remove the folders of this host's dead processes; returns them."""
    found = dead_folders()
    for folder in found:
        remove(folder)
    return found


def _sweep_old(path: Path) -> None:
    """Remove loose files older than the longest job (left by versions that spooled into SPOOL_DIR
    itself); a process's own folder goes with `sweep_dead`."""
    longest = max(settings.JOB_TIMEOUT_IMAGE, settings.JOB_TIMEOUT_VIDEO, settings.JOB_TIMEOUT_INLINE)
    cutoff = time.time() - longest - 3600
    for entry in path.iterdir():
        with contextlib.suppress(OSError):  # another process may remove it first
            if entry.name.startswith(("dl-", "mem-", "work-")) and entry.stat().st_mtime < cutoff:
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
