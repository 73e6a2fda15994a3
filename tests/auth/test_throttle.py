"""Failed-login limits, per username and per client address, on both counter stores.

Every test runs twice: with the counters in the database and with the counters in Redis
(``FIELDAPI_TEST_REDIS_URL``, database 15 by default; each test uses its own key prefix and
removes only its own keys).
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid

import pytest

from fieldapi import create_app
from fieldapi.auth.throttle import DatabaseCounters, LoginThrottle, RedisCounters
from fieldapi.users.service import create_user

REDIS_URL = os.environ.get("FIELDAPI_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
LOGIN = "/api/v1/auth/login"
WRONG = "not the password at all"


@pytest.fixture
def redis_prefix():
    import redis

    server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        server.ping()
    except redis.ConnectionError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    prefix = f"fieldapi-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(server.scan_iter(match=prefix + "*"))
    if keys:
        server.delete(*keys)
    server.close()


@pytest.fixture(params=["database", "redis"])
def counters(request, app):
    """Which counter store the test runs on, and a factory for stores sharing its counts."""
    if request.param == "database":
        engine = app.extensions["fieldapi.engine"]
        return request.param, lambda: DatabaseCounters(engine)
    prefix = request.getfixturevalue("redis_prefix")
    return request.param, lambda: RedisCounters(REDIS_URL, prefix=prefix)


@pytest.fixture
def make_throttle(counters):
    _kind, make_store = counters

    def make(*, per_username=3, per_address=6, window=900):
        return LoginThrottle(
            make_store(), per_username=per_username, per_address=per_address, window=window
        )

    return make


@pytest.fixture
def make_app(settings, counters, request):
    """An instance of the service with these limits, counting where the test says."""
    kind, _make_store = counters
    made = []

    def make(**limits):
        changes = {"redis_url": REDIS_URL if kind == "redis" else None, **limits}
        instance = create_app(dataclasses.replace(settings, **changes))
        store = instance.extensions["fieldapi.throttle"].store
        if kind == "redis":
            assert isinstance(store, RedisCounters)
            store.prefix = request.getfixturevalue("redis_prefix")  # this test's keys only
        else:
            assert isinstance(store, DatabaseCounters)
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.extensions["fieldapi.engine"].dispose()


def login(client, username, password, address):
    return client.post(
        LOGIN,
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def assert_throttled(response, window):
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"].endswith("/too-many-requests")
    assert body["status"] == 429
    assert "access_token" not in body
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit()
    assert 0 < int(retry_after) <= window + 1


# --- the throttle itself -------------------------------------------------------------------


def test_limit_per_username_is_reached_after_n_failures(make_throttle):
    throttle = make_throttle(per_username=3, per_address=100, window=900)

    for _ in range(2):
        throttle.failed("gw1", "10.0.0.1")
    assert throttle.retry_after("gw1", "10.0.0.1") is None
    throttle.failed("gw1", "10.0.0.1")

    wait = throttle.retry_after("gw1", "10.0.0.1")
    assert wait is not None
    assert 0 < wait <= 901
    # Per username: another address does not help, another username is not affected.
    assert throttle.retry_after("gw1", "10.0.0.2") is not None
    assert throttle.retry_after("officer1", "10.0.0.2") is None


def test_username_counter_ignores_case_and_spaces(make_throttle):
    throttle = make_throttle(per_username=2, per_address=100)

    throttle.failed("GW1", "10.0.0.1")
    throttle.failed("  gw1 ", "10.0.0.2")

    assert throttle.retry_after("gw1", "10.0.0.3") is not None


def test_limit_per_address_is_reached_across_usernames(make_throttle):
    throttle = make_throttle(per_username=3, per_address=4)

    for name in ("a1", "a2", "a3", "a4"):
        throttle.failed(name, "10.0.0.9")

    assert throttle.retry_after("somebody-else", "10.0.0.9") is not None
    assert throttle.retry_after("somebody-else", "10.0.0.10") is None


def test_success_clears_the_username_count_but_not_the_address_count(make_throttle):
    throttle = make_throttle(per_username=2, per_address=3)
    throttle.failed("gw1", "10.0.0.1")
    throttle.failed("gw1", "10.0.0.1")
    assert throttle.retry_after("gw1", "10.0.0.2") is not None

    throttle.succeeded("gw1")

    assert throttle.retry_after("gw1", "10.0.0.2") is None
    throttle.failed("gw1", "10.0.0.1")  # a third failure from that address reaches its limit
    assert throttle.retry_after("officer1", "10.0.0.1") is not None


def test_counts_are_shared_by_every_instance(make_throttle):
    one, two = make_throttle(per_username=3), make_throttle(per_username=3)

    one.failed("gw1", "10.0.0.1")
    two.failed("gw1", "10.0.0.2")
    one.failed("gw1", "10.0.0.3")

    assert two.retry_after("gw1", "10.0.0.4") is not None


def test_the_count_starts_again_when_the_window_ends(make_throttle):
    throttle = make_throttle(per_username=2, per_address=100, window=1)
    throttle.failed("gw1", "10.0.0.1")
    throttle.failed("gw1", "10.0.0.1")
    assert throttle.retry_after("gw1", "10.0.0.1") == 1

    time.sleep(1.1)

    assert throttle.retry_after("gw1", "10.0.0.1") is None
    # A failure now opens a new window with a count of one, not three.
    throttle.failed("gw1", "10.0.0.1")
    assert throttle.retry_after("gw1", "10.0.0.1") is None
    throttle.failed("gw1", "10.0.0.1")
    assert throttle.retry_after("gw1", "10.0.0.1") is not None


# --- through the login endpoint ------------------------------------------------------------


def test_too_many_failures_for_a_username_refuse_even_the_right_password(world, make_app):
    client = make_app(login_failures_per_username=3, login_failures_per_address=50).test_client()

    for _ in range(3):
        assert login(client, "gw1", WRONG, "10.2.0.1").status_code == 401

    assert_throttled(login(client, "gw1", world.password, "10.2.0.1"), 900)
    assert_throttled(login(client, "GW1", world.password, "10.2.0.99"), 900)  # any address
    assert login(client, "officer1", world.password, "10.2.0.1").status_code == 200


def test_a_refused_attempt_does_not_count(world, make_app):
    client = make_app(login_failures_per_username=3, login_failures_per_address=4).test_client()
    for _ in range(3):
        login(client, "gw1", WRONG, "10.2.0.1")

    for _ in range(3):
        assert login(client, "gw1", WRONG, "10.2.0.1").status_code == 429

    # Only the three real failures count against the address, whose limit is four.
    assert login(client, "officer1", world.password, "10.2.0.1").status_code == 200


def test_too_many_failures_from_one_address_refuse_every_username_there(world, make_app):
    client = make_app(login_failures_per_username=3, login_failures_per_address=5).test_client()

    for i in range(5):
        assert login(client, f"guess{i}", WRONG, "10.3.0.1").status_code == 401

    assert_throttled(login(client, "gw1", world.password, "10.3.0.1"), 900)
    assert login(client, "gw1", world.password, "10.3.0.2").status_code == 200


def test_counters_are_shared_across_instances(world, make_app):
    limits = {"login_failures_per_username": 3, "login_failures_per_address": 50}
    one = make_app(**limits).test_client()
    two = make_app(**limits).test_client()

    assert login(one, "gw1", WRONG, "10.4.0.1").status_code == 401
    assert login(two, "gw1", WRONG, "10.4.0.2").status_code == 401
    assert login(one, "gw1", WRONG, "10.4.0.3").status_code == 401

    assert_throttled(login(two, "gw1", world.password, "10.4.0.4"), 900)


def test_a_busy_office_behind_one_address_still_signs_its_staff_in(world, app, make_app, settings):
    """Production limits; many staff, one address, the odd typo: nobody is locked out.

    Each person mistypes more often than the username limit allows in total, and the office
    signs in more often than the address limit; only failures count, and a success clears
    that person's count.
    """
    assert settings.login_failures_per_address > settings.login_failures_per_username
    staff = [f"staff{i:02d}" for i in range(12)]
    session = app.extensions["fieldapi.sessionmaker"]()
    with session.begin():
        for name in staff:
            create_user(
                db=session,
                passwords=app.extensions["fieldapi.passwords"],
                data={
                    "username": name,
                    "password": world.password,
                    "role": "grid_staff",
                    "active": True,
                    "area_ids": [world.areas["G1"]],
                    "building_ids": [],
                },
            )
    session.close()
    client = make_app().test_client()
    office = "203.0.113.7"
    typos_each, rounds = 2, 3
    assert rounds * typos_each > settings.login_failures_per_username
    assert len(staff) * rounds * (typos_each + 1) > settings.login_failures_per_address
    assert len(staff) * rounds * typos_each < settings.login_failures_per_address

    for _ in range(rounds):
        for name in staff:
            for _ in range(typos_each):
                assert login(client, name, WRONG, office).status_code == 401
            response = login(client, name, world.password, office)
            assert response.status_code == 200, (name, response.get_json())


def test_a_redis_counter_always_expires_with_its_window(redis_prefix):
    import redis

    store = RedisCounters(REDIS_URL, prefix=redis_prefix)
    raw = redis.Redis.from_url(REDIS_URL)

    store.add("user:gw1", 900)
    store.add("user:gw1", 900)

    assert store.count("user:gw1")[0] == 2
    assert 0 < raw.ttl(redis_prefix + "user:gw1") <= 900
    raw.close()
