"""CDN_DOMAIN: read URLs are CloudFront signed URLs that expire, checked here with the public half of a
key pair made for the test; without a signing key the settings refuse to start."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from media import storage

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cdn(settings) -> Iterator[rsa.RSAPublicKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.AWS_S3_CUSTOM_DOMAIN = "cdn.example"
    settings.AWS_CLOUDFRONT_KEY_ID = "K2TESTKEYPAIR"
    settings.AWS_CLOUDFRONT_KEY = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    storage._storage.cache_clear()  # the storages are built once per process from the settings
    yield key.public_key()
    storage._storage.cache_clear()


def _verify(url: str, public_key: rsa.RSAPublicKey) -> int:
    """Check a canned-policy signature as CloudFront does; returns the expiry."""
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    resource = f"{parts.scheme}://{parts.netloc}{parts.path}"  # no parameters of our own in these URLs
    expires = int(query["Expires"])
    policy = json.dumps(
        {"Statement": [{"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}]},
        separators=(",", ":"),
    ).encode()
    signature = base64.b64decode(query["Signature"].translate(str.maketrans("-_~", "+=/")))
    public_key.verify(signature, policy, padding.PKCS1v15(), hashes.SHA1())  # raises if forged  # noqa: S303
    assert query["Key-Pair-Id"] == "K2TESTKEYPAIR"
    return expires


def test_cdn_urls_are_signed_and_expire(cdn: rsa.RSAPublicKey) -> None:
    url = storage.presigned_get("permanent/abc/original.jpg", expire=300)
    assert url.startswith("https://cdn.example/permanent/abc/original.jpg?")
    assert abs(_verify(url, cdn) - (time.time() + 300)) < 30
    quarantined = storage.presigned_get("quarantine/abc", expire=60)  # the admin's link: short-lived too
    assert _verify(quarantined, cdn) < time.time() + 90


def test_a_signed_cdn_url_cannot_be_pointed_at_another_object(cdn: rsa.RSAPublicKey) -> None:
    url = storage.presigned_get("permanent/abc/thumb.webp")
    with pytest.raises(InvalidSignature):
        _verify(url.replace("/abc/", "/other/"), cdn)


def test_cdn_domain_without_a_signing_key_refuses_to_start() -> None:
    env = {**os.environ, "CDN_DOMAIN": "cdn.example"}
    env.pop("CDN_KEY_ID", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "CDN_KEY_ID" in result.stderr and "CDN_PRIVATE_KEY" in result.stderr
