"""Test set-up of the integration tier: the real local stack, and an S3 bucket, Redis queues and channel
prefix of this run's own (tests/unit overrides the stack fixture and starts nothing).

Services that already answer are used as they are; the ones this session
starts are stopped at its end. Each run gets a fresh bucket, so parallel runs
and leftovers of earlier runs never meet.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.core.cache import caches
from django.test.utils import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from mediahub import devstack
from tests.helpers import CORPUS


@pytest.fixture(scope="session", autouse=True)
def stack() -> Iterator[None]:
    run_id = uuid.uuid4().hex[:10]
    settings.AWS_STORAGE_BUCKET_NAME = f"test-{run_id}"
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"test-{run_id}"
    settings.CACHES["default"]["KEY_PREFIX"] = f"test-{run_id}"
    for made in caches.all(initialized_only=True):  # a module imported at collection may have made one already
        made.key_prefix = f"test-{run_id}"
    AxesProxyHandler.get_implementation(force=True)  # django-axes keeps the cache it was started with
    # PBKDF2 at full strength costs half a second per user on this machine; tests need no strength.
    fast_hashing = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"])
    fast_hashing.enable()
    started = devstack.up(log=lambda line: None)
    from media import storage

    storage.ensure_bucket()
    yield
    try:
        storage.delete(storage.list_keys(""))
        storage.client().delete_bucket(Bucket=storage.bucket_name())
    finally:
        devstack.stop(started)
        fast_hashing.disable()


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared photo corpus is not at {CORPUS}")
    return CORPUS


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username=f"user-{uuid.uuid4().hex[:8]}", password="pw")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username=f"other-{uuid.uuid4().hex[:8]}", password="pw")


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def other_api(other_user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other_user).key}")
    return client
