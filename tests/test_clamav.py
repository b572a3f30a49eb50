"""clamd, started by the project with its own signatures, finds EICAR and passes clean files."""

from __future__ import annotations

import io
import socket
import zipfile
from collections.abc import Iterator

import pytest

from media import engines
from mediahub import devstack
from processing import scan
from processing.errors import ScanUnavailable

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
MARKER = b"MEDIAHUB-TEST-MALWARE-7f3a9c1e-DO-NOT-SHIP"


def test_eicar_is_malware() -> None:
    result = scan.scan(io.BytesIO(EICAR), engines.clamd())
    assert not result.clean
    assert "EICAR" in result.signature


def test_eicar_inside_another_file_is_malware() -> None:
    body = b"%PDF-1.4\n" + b"0" * 5000 + EICAR + b"\n%%EOF\n"
    assert not scan.scan(io.BytesIO(body), engines.clamd()).clean


def test_the_project_marker_is_malware() -> None:
    assert scan.scan(io.BytesIO(b"hello " + MARKER), engines.clamd()).signature == "Mediahub.Test.Marker.UNOFFICIAL"


def test_a_clean_file_is_clean_and_the_stream_is_rewound() -> None:
    stream = io.BytesIO(b"just some harmless text\n" * 1000)
    assert scan.scan(stream, engines.clamd()).clean
    assert stream.tell() == 0


def test_an_unreachable_clamd_is_unavailable_never_clean() -> None:
    scan.breaker.close()
    try:
        with pytest.raises(ScanUnavailable):
            scan.scan(io.BytesIO(b"anything"), scan.Clamd(port=1))
    finally:
        scan.breaker.close()


@pytest.fixture(scope="module")
def project_clamd() -> Iterator[int]:
    """A clamd of this test's own, from ops/clamav/clamd.conf: the shared one may run an older config."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pid = devstack._clamd("127.0.0.1", port).start()
    try:
        yield port
    finally:
        devstack.stop([pid])


def test_a_zip_past_clamds_recursion_limit_is_a_finding_not_a_pass(project_clamd: int) -> None:
    """AlertExceedsMax: what clamd cannot unpack is reported, never passed as clean."""
    body = b"harmless"
    for _ in range(20):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("inner", body)
        body = out.getvalue()
    scan.breaker.close()
    server = scan.Clamd(port=project_clamd)
    assert scan.scan(io.BytesIO(body), server) == scan.ScanResult(False, "Heuristics.Limits.Exceeded.MaxRecursion")
    assert scan.scan(io.BytesIO(b"just text"), server).clean
