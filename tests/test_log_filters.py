import logging

from mediahub.log_filters import RedactTokens


def test_tokens_in_request_lines_never_reach_the_log() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws/media/?token=0123456789abcdef&x=1"),
        None,
    )
    assert RedactTokens().filter(record)
    assert "0123456789abcdef" not in record.getMessage()
    assert "token=[redacted]&x=1" in record.getMessage()


def test_hls_signatures_in_access_lines_never_reach_the_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/media/1/hls/480p/index.m3u8?exp=1700000000&sig=c2VjcmV0LXNpZw", "1.1", 200),
        None,
    )
    assert RedactTokens().filter(record)
    assert "c2VjcmV0LXNpZw" not in record.getMessage()
    assert "exp=1700000000&sig=[redacted]" in record.getMessage()
