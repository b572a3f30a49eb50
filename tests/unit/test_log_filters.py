import logging

import pytest

from mediahub.log_filters import RedactTokens


@pytest.mark.parametrize(
    ("logger", "fmt", "args", "secret", "kept"),
    [
        (
            "uvicorn.error",
            '%s - "WebSocket %s" [accepted]',
            ("127.0.0.1:5000", "/ws/media/?token=0123456789abcdef&x=1"),
            "0123456789abcdef",
            "token=[redacted]&x=1",
        ),
        (  # the HLS playlists' signature
            "uvicorn.access",
            '%s - "%s %s HTTP/%s" %d',
            ("127.0.0.1:5000", "GET", "/api/media/1/hls/480p/index.m3u8?exp=1700000000&sig=c2VjcmV0", "1.1", 200),
            "c2VjcmV0",
            "exp=1700000000&sig=[redacted]",
        ),
    ],
    ids=["websocket-token", "hls-signature"],
)
def test_credentials_in_request_lines_never_reach_the_log(logger, fmt, args, secret, kept) -> None:
    record = logging.LogRecord(logger, logging.INFO, __file__, 1, fmt, args, None)
    assert RedactTokens().filter(record)
    assert secret not in record.getMessage()
    assert kept in record.getMessage()
