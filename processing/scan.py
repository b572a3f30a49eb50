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

from processing.codes import ErrorCode
from processing.errors import Rejected, ScanUnavailable

breaker = pybreaker.CircuitBreaker(fail_max=3, reset_timeout=15, name="clamd")


@dataclass(frozen=True)
class Clamd:
    """Where clamd listens; the app fills it from settings."""

    host: str = "127.0.0.1"
    port: int = 3310
    timeout: float = 60.0


@dataclass(frozen=True)
class ScanResult:
    clean: bool
    signature: str = ""


# clamd answers after the whole stream is in, so a large file (a 2 GB video) needs time in proportion:
# ~25-50 MB/s here (bench/scan.py); the wait allows for a slow 2 MB/s on top of the server's timeout.
SLOWEST_RATE = 2 * 1024 * 1024  # bytes per second


def _client(server: Clamd, timeout: float | None = None) -> clamd.ClamdNetworkSocket:
    return clamd.ClamdNetworkSocket(server.host, server.port, timeout=timeout or server.timeout)


@breaker
def _instream(fileobj: IO[bytes], server: Clamd, size: int) -> dict:
    return _client(server, server.timeout + size / SLOWEST_RATE).instream(fileobj)


def scan(fileobj: IO[bytes], server: Clamd) -> ScanResult:
    """Stream the file to clamd from its start. Raises ScanUnavailable if clamd cannot answer."""
    size = fileobj.seek(0, 2)
    fileobj.seek(0)
    try:
        answer = _instream(fileobj, server, size)
    except (pybreaker.CircuitBreakerError, clamd.ClamdError, OSError) as exc:
        raise ScanUnavailable(f"clamd at {server.host}:{server.port}: {exc}") from exc
    finally:
        fileobj.seek(0)
    status, signature = answer["stream"]
    if status == "FOUND":
        return ScanResult(clean=False, signature=signature)
    if status == "OK":
        return ScanResult(clean=True)
    if "size limit" in (signature or "").lower():
        # clamd's StreamMaxLength is below the file: it can never be scanned, so never accepted
        raise Rejected(ErrorCode.TOO_LARGE, "The file is too large to be checked for viruses.", f"clamd: {signature}")
    # any other ERROR is a scanner problem: the file waits, it is never taken as clean
    raise ScanUnavailable(f"clamd could not scan the file: {signature}")


def ping(server: Clamd) -> str:
    """clamd's version string; raises when it does not answer."""
    return _client(server).version()
