"""The error the upload services raise for a request they refuse; the API turns it into an answer."""

from __future__ import annotations

from processing.codes import ErrorCode


class UploadError(Exception):
    """`code` is the contract's error code; `status` the HTTP answer (400 bad input, 409 wrong state)."""

    def __init__(self, code: ErrorCode, message: str, field: str = "", status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.field, self.status = code, message, field, status


def conflict(code: ErrorCode, message: str) -> UploadError:
    """The request is well formed, but the media's state does not allow it."""
    return UploadError(code, message, status=409)
