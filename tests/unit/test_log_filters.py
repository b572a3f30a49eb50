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
