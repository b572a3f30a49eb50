"""Virus scanning with clamd over TCP (INSTREAM), behind a circuit breaker.

When clamd is down, the breaker opens after a few failures and later calls
fail at once with ScanUnavailable instead of each waiting for a timeout; a
file is never let through unscanned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

import clamd
import pybreaker
from django.conf import settings

from processing.errors import Rejected, ScanUnavailable

breaker = pybreaker.CircuitBreaker(fail_max=3, reset_timeout=15, name="clamd")


@dataclass(frozen=True)
class ScanResult:
    clean: bool
    signature: str = ""


# clamd answers after the whole stream is in, so a large file (a 2 GB video) needs time in proportion:
# ~25-50 MB/s here (bench/scan.py); the wait allows for a slow 2 MB/s on top of CLAMD_TIMEOUT.
SLOWEST_RATE = 2 * 1024 * 1024  # bytes per second


def _client(timeout: float | None = None) -> clamd.ClamdNetworkSocket:
    return clamd.ClamdNetworkSocket(settings.CLAMD_HOST, settings.CLAMD_PORT, timeout=timeout or settings.CLAMD_TIMEOUT)


@breaker
def _instream(fileobj: IO[bytes], size: int) -> dict:
    return _client(settings.CLAMD_TIMEOUT + size / SLOWEST_RATE).instream(fileobj)


def scan(fileobj: IO[bytes]) -> ScanResult:
    """Stream the file to clamd from its start. Raises ScanUnavailable if clamd cannot answer."""
    size = fileobj.seek(0, 2)
    fileobj.seek(0)
    try:
        answer = _instream(fileobj, size)
    except (pybreaker.CircuitBreakerError, clamd.ClamdError, OSError) as exc:
        raise ScanUnavailable(f"clamd at {settings.CLAMD_HOST}:{settings.CLAMD_PORT}: {exc}") from exc
    finally:
        fileobj.seek(0)
    status, signature = answer["stream"]
    if status == "FOUND":
        return ScanResult(clean=False, signature=signature)
    if status == "OK":
        return ScanResult(clean=True)
    if "size limit" in (signature or "").lower():
        # clamd's StreamMaxLength is below the file: it can never be scanned, so never accepted
        raise Rejected("too_large", "The file is too large to be checked for viruses.", f"clamd: {signature}")
    # any other ERROR is a scanner problem: the file waits, it is never taken as clean
    raise ScanUnavailable(f"clamd could not scan the file: {signature}")


def ping() -> str:
    """clamd's version string; raises when it does not answer."""
    return _client().version()
