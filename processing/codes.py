"""The error codes and processing stages clients see, declared once; the OpenAPI schema publishes them.

Both are str enums: stored, compared and sent as their plain values.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # the upload is refused (400 at create, or the media ends REJECTED)
    UNSUPPORTED_TYPE = "unsupported_type"
    INVALID_FILENAME = "invalid_filename"
    EMPTY_FILE = "empty_file"
    TOO_LARGE = "too_large"  # over a size, pixel, duration or frame cap, whichever the kind has
    SIZE_MISMATCH = "size_mismatch"
    UPLOAD_MISSING = "upload_missing"
    TYPE_MISMATCH = "type_mismatch"
    CORRUPT_FILE = "corrupt_file"
    MALWARE_DETECTED = "malware_detected"
    # processing could not finish (FAILED), or waits (a note on a PENDING/PROCESSING media)
    PROCESSING_FAILED = "processing_failed"
    SCAN_UNAVAILABLE = "scan_unavailable"
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"
    # answers of the API and the WebSocket
    NOT_FAILED = "not_failed"
    QUEUE_UNAVAILABLE = "queue_unavailable"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    DATABASE_UNAVAILABLE = "database_unavailable"
    REQUEST_TOO_LARGE = "request_too_large"  # a body over the server's limit (413)
    OVERLOADED = "overloaded"  # 503 with Retry-After: the web process has no free slot (web/admission.py)
    UNKNOWN_ACTION = "unknown_action"
    TOO_MANY_ATTEMPTS = "too_many_attempts"  # logins locked out (web/login_guard.py)
    # multipart uploads (media/multipart.py): 400 bad input, 409 the upload's state does not allow it
    NOT_PENDING = "not_pending"
    NO_MULTIPART_UPLOAD = "no_multipart_upload"
    INVALID_PART_NUMBER = "invalid_part_number"
    DUPLICATE_PART_NUMBER = "duplicate_part_number"
    PART_MISSING = "part_missing"
    ETAG_MISMATCH = "etag_mismatch"
    PART_SIZE_MISMATCH = "part_size_mismatch"
    CHECKSUM_NOT_SUPPORTED = "checksum_not_supported"
    UPLOAD_INCOMPLETE = "upload_incomplete"
    # Django REST framework's own, passed through as it names them
    INVALID = "invalid"
    REQUIRED = "required"
    NULL = "null"
    BLANK = "blank"
    MAX_LENGTH = "max_length"
    NULL_CHARACTERS_NOT_ALLOWED = "null_characters_not_allowed"  # a NUL in a text field
    SURROGATE_CHARACTERS_NOT_ALLOWED = "surrogate_characters_not_allowed"  # a lone UTF-16 surrogate
    MIN_VALUE = "min_value"
    MAX_VALUE = "max_value"
    INVALID_CHOICE = "invalid_choice"
    PARSE_ERROR = "parse_error"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    AUTHORIZATION = "authorization"  # POST /api/auth/token/ with wrong credentials
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    THROTTLED = "throttled"


class Stage(StrEnum):
    """Where a PROCESSING media is (empty before confirm); `done` once READY."""

    QUEUED = "queued"
    DOWNLOADING = "downloading"
    VALIDATING = "validating"
    SCANNING = "scanning"
    PROBING = "probing"
    THUMBNAIL = "thumbnail"
    OPTIMIZED = "optimized"
    TRANSCODING = "transcoding"
    UPLOADING = "uploading"
    STORING = "storing"
    DONE = "done"
