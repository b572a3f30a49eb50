"""Login guessing: both login forms and the token endpoint lock an account and an address after
LOGIN_FAILURE_LIMIT failures (django-axes, counted in Redis), and a forged X-Forwarded-For neither
resets a throttle nor names another client."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

LIMIT = 10  # LOGIN_FAILURE_LIMIT's default


def _address() -> str:
    """An address of this test alone: failures are counted per address across the whole run."""
    return f"198.51.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


@pytest.fixture
def account(django_user_model):
    user = django_user_model.objects.create_user(f"u-{uuid.uuid4().hex[:8]}", password="right-pw", is_staff=True)
    user.user_permissions.clear()
    return user


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_a_login_form_locks_after_the_limit_and_then_refuses_the_right_password(url: str, account) -> None:
    client = Client(REMOTE_ADDR=_address())
    codes = [client.post(url, {"username": account.username, "password": f"wrong{i}"}).status_code for i in range(30)]
    assert codes[: LIMIT - 1] == [200] * (LIMIT - 1)  # the form again, with its error
    assert set(codes[LIMIT - 1 :]) == {429}  # the failure that reaches the limit locks at once
    answer = client.post(url, {"username": account.username, "password": "right-pw"})
    assert answer.status_code == 429 and int(answer["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


def test_the_account_is_locked_whatever_the_address(account) -> None:
    for i in range(LIMIT):
        Client(REMOTE_ADDR=_address()).post("/login/", {"username": account.username, "password": f"w{i}"})
    answer = Client(REMOTE_ADDR=_address()).post("/login/", {"username": account.username, "password": "right-pw"})
    assert answer.status_code == 429


def test_the_address_is_locked_whatever_the_account(django_user_model, account) -> None:
    address = _address()
    for i in range(LIMIT):
        Client(REMOTE_ADDR=address).post("/login/", {"username": f"nobody-{i}", "password": "x"})
    answer = Client(REMOTE_ADDR=address).post("/login/", {"username": account.username, "password": "right-pw"})
    assert answer.status_code == 429
    # another address still logs in
    assert Client(REMOTE_ADDR=_address()).post("/login/", {"username": account.username, "password": "right-pw"})[
        "Location"
    ]


def test_a_forged_x_forwarded_for_resets_nothing_on_the_token_endpoint(account) -> None:
    """Without NUM_PROXIES the socket's peer is the client: a new header value per request changes nothing."""
    client, address = APIClient(), _address()
    codes = [
        client.post(
            "/api/auth/token/",
            {"username": account.username, "password": f"wrong{i}"},
            REMOTE_ADDR=address,
            HTTP_X_FORWARDED_FOR=f"10.0.{i}.1",
        ).status_code
        for i in range(LIMIT + 2)
    ]
    assert codes[: LIMIT - 1] == [400] * (LIMIT - 1) and set(codes[LIMIT - 1 :]) == {429}
    answer = client.post(
        "/api/auth/token/",
        {"username": account.username, "password": "right-pw"},
        REMOTE_ADDR=address,
        HTTP_X_FORWARDED_FOR="10.9.9.9",
    )
    assert answer.status_code == 429 and "token" not in answer.json()
    assert answer.json()["error"]["code"] == "too_many_attempts" and int(answer["Retry-After"]) > 0


def test_behind_a_counted_proxy_the_address_it_saw_is_the_client(settings, django_user_model) -> None:
    """NUM_PROXIES=1: the last X-Forwarded-For entry (appended by our proxy) is the client; what the
    client itself put in front of it is ignored."""
    settings.NUM_PROXIES = 1
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy, attacker, victim = "10.0.0.2", _address(), _address()
    for i in range(LIMIT):
        forged = f"{_address()}, {attacker}"  # a fresh forged entry each time, then the proxy's own
        Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=forged).post("/login/", {"username": f"n{i}", "password": "x"})
    user = django_user_model.objects.create_user(f"v-{uuid.uuid4().hex[:8]}", password="right-pw")
    locked = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=attacker)
    assert locked.post("/login/", {"username": user.username, "password": "right-pw"}).status_code == 429
    other = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=victim)
    assert other.post("/login/", {"username": user.username, "password": "right-pw"}).status_code == 302


def test_with_redis_down_logins_go_on_uncounted(account, monkeypatch) -> None:
    from axes.handlers.proxy import AxesProxyHandler
    from redis.exceptions import ConnectionError as RedisConnectionError

    def down(*args, **kwargs):  # fault injection: the cache holding the counters does not answer
        raise RedisConnectionError("Connection refused")

    counters = AxesProxyHandler.get_implementation().cache
    for method in ("get", "get_many", "add", "incr", "set"):
        monkeypatch.setattr(counters, method, down)
    client = Client(REMOTE_ADDR=_address())
    assert client.post("/login/", {"username": account.username, "password": "wrong"}).status_code == 200
    assert client.post("/login/", {"username": account.username, "password": "right-pw"}).status_code == 302
