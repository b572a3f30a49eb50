"""The services processing waits for, rather than failing, when they are down: clamd, the object store, and
the worker's own resources (disk, memory).

A run that meets one of these outages does not use up its retries: the media stays PROCESSING with the
dependency's code and message (what the client reads), the job ends, and maintenance
(`resume_stalled`) queues it again once the dependency is healthy, however long that takes. FAILED stays
for what an operator must look at.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass

from media import engines, lifecycle, storage
from processing import scan
from processing.codes import ErrorCode
from processing.errors import ScanUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dependency:
    name: str
    code: ErrorCode
    message: str  # on the media while it waits, and in confirm's 503: what will happen
    healthy: Callable[[], bool]


def _answers(check: Callable[[], object]) -> Callable[[], bool]:
    def healthy() -> bool:
        try:
            check()
        except Exception:
            return False
        return True

    return healthy


SCANNER = Dependency(
    "clamd",
    ErrorCode.SCAN_UNAVAILABLE,
    "The virus scanner is not available right now; the file will be checked as soon as it is back.",
    _answers(lambda: scan.ping(engines.clamd())),
)
STORAGE = Dependency(
    "storage",
    ErrorCode.STORAGE_UNAVAILABLE,
    "File storage is not available right now; the file will be processed as soon as it is back.",
    _answers(storage.ping),
)
# No probe tells when disk or memory is free again for this very file: the next maintenance run tries it.
RESOURCES = Dependency(
    "resources",
    ErrorCode.TEMPORARILY_UNAVAILABLE,
    "The server is short of disk space or memory right now; the file will be processed once it has room.",
    lambda: True,
)
BY_CODE = {dependency.code: dependency for dependency in (SCANNER, STORAGE, RESOURCES)}


def waiting_on(exc: BaseException) -> Dependency | None:
    """The dependency whose outage `exc` is, or None for any other failure."""
    if isinstance(exc, ScanUnavailable):
        return SCANNER
    if storage.is_outage(exc):
        return STORAGE
    if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.ENOMEM)):
        return RESOURCES
    return None


def wait_for(media_id: object, dependency: Dependency, exc: BaseException) -> None:
    """Leave the media PROCESSING, saying what it waits for; maintenance resumes it."""
    log.warning("media %s waits for %s: %s", media_id, dependency.name, exc)
    lifecycle.note_problem(media_id, code=dependency.code, message=dependency.message)
