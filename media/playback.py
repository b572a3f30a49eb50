"""Signed HLS playlist URLs: like a presigned S3 URL, the signature is the access check, so a standard
player or ffprobe can play a private video without cookies or headers, and a URL of one media cannot be
turned into another's."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core import signing

_SALT = "media.hls"


def signed_query(media_id: object) -> str:
    return urlencode({"sig": signing.TimestampSigner(salt=_SALT).sign(str(media_id))})


def verified(signature: str, media_id: str) -> bool:
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(signature, max_age=settings.AWS_QUERYSTRING_EXPIRE)
    except signing.BadSignature:
        return False
    return value == media_id
