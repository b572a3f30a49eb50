"""Keep credentials out of logs: WebSocket clients send their API token as `?token=`, and HLS
playlist URLs carry their signature as `?sig=`."""

import logging
import re

_TOKEN = re.compile(r"((?:token|sig)=)[^&\s\"']+", re.IGNORECASE)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = _TOKEN.sub(r"\1[redacted]", record.msg)
        return True
