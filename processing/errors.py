"""The two ways processing can fail, and the codes clients see.

`Rejected` means the input itself is bad: the media ends REJECTED and the job
is never retried. Any other exception is treated as transient (storage,
network, a killed process) and retried with backoff until attempts run out.
"""

from processing.codes import ErrorCode


class Rejected(Exception):
    """The upload is unacceptable; `code` is one of the contract's error codes."""

    def __init__(self, code: ErrorCode, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail  # full technical text, for moderators only


class ScanUnavailable(Exception):
    """clamd did not answer: the media must wait, never pass unscanned."""


class Superseded(Exception):
    """The media is no longer PROCESSING (deleted, say): the run stops and keeps nothing."""


class Deferred(Exception):
    """The work does not fit the inline path (audio longer than the confirm's budget): it goes to the queue."""


class GiveUp(Exception):
    """Processing cannot succeed by trying again (a video that needs more time than it may have):
    the media is FAILED at once, for an operator to look at, instead of retried."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
