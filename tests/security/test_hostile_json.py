"""Hostile JSON is refused with a 400 problem before any work, on every route that reads JSON.

Each body is sent to sign-in (no token needed) and to a building's create and change
(signed in), and must answer 400 ``malformed-request`` and change nothing: no sign-in
failure counted and no session opened, no building written or changed, no Idempotency-Key
claimed. The hostile part always sits in a field the route reads, where a body that got
past the reader would be refused with a 422 (or taken), not a 400.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from sqlalchemy import func, select

from fieldapi.auth.models import AuthSession, RateCounter
from fieldapi.buildings.models import Building
from fieldapi.core import jsonbody
from fieldapi.core.idempotency import IdempotencyKey
from tests.buildings import full_file
from tests.security.test_problems import assert_problem

LOGIN = "/api/v1/auth/login"
BUILDINGS = "/api/v1/buildings"
MIB = 1024 * 1024


def nested_arrays(levels: int) -> str:
    return "[" * levels + "]" * levels


def nested_objects(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


# The value of one field, as JSON text (or bytes, for what is not text at all).
HOSTILE_VALUES: dict[str, str | bytes] = {
    "arrays 1,000 deep": nested_arrays(1_000),
    "arrays 100,000 deep": nested_arrays(100_000),
    "objects 1,000 deep": nested_objects(1_000),
    "objects 100,000 deep": nested_objects(100_000),
    # Inside the body's own object, one level past MAX_DEPTH.
    "arrays one level too deep": nested_arrays(jsonbody.MAX_DEPTH),
    "an integer of 5,000 digits": "1" + "0" * 4_999,
    "an integer of 25 digits": "1" * 25,
    "2**63": str(2**63),
    "-(2**63) - 1": str(-(2**63) - 1),
    "1e400": "1e400",
    "-1e400": "-1e400",
    "a fraction of 5,000 digits": "0." + "3" * 5_000,
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "invalid UTF-8": b'"\xff\xfe"',
    "an unpaired surrogate": '"\\ud800"',
    "a duplicate key in a nested object": '{"lat": 22.5, "lon": 114.06, "lat": 91}',
    "not JSON": "{'single': 'quotes'}",
}


def body_with(base: dict, field: str, value: str | bytes) -> bytes:
    """``base`` as JSON, with ``field`` set to ``value`` exactly as written."""
    rest = {k: v for k, v in base.items() if k != field}
    head = json.dumps(rest)[:-1].encode() + (b", " if rest else b"")
    return head + json.dumps(field).encode() + b": " + _bytes(value) + b"}"


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def post_json(client, path: str, data: bytes, headers: dict | None = None):
    return client.post(path, data=data, content_type="application/json", headers=headers or {})


def _count(db, model) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model))


def _failures_counted(db) -> int:
    db.expire_all()
    return db.scalar(select(func.coalesce(func.sum(RateCounter.count), 0)))


def assert_refused(response) -> dict:
    problem = assert_problem(response, 400, "malformed-request")
    assert problem["detail"] != problem["title"], "the detail says what was wrong"
    return problem


# --- sign-in, no token -------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
def test_sign_in_refuses_hostile_json(client, world, db, value):
    failures, sessions = _failures_counted(db), _count(db, AuthSession)

    response = post_json(client, LOGIN, body_with({"username": "gw1"}, "password", value))

    assert_refused(response)
    assert _failures_counted(db) == failures
    assert _count(db, AuthSession) == sessions


def test_sign_in_refuses_a_duplicate_key_at_the_top(client, world, db):
    """Whichever copy a reader kept, this would sign in or count a failure; it does neither."""
    body = (
        f'{{"username": "gw1", "password": "not the password", '
        f'"password": {json.dumps(world.password)}}}'
    ).encode()
    failures, sessions = _failures_counted(db), _count(db, AuthSession)

    problem = assert_refused(post_json(client, LOGIN, body))

    assert '"password"' in problem["detail"]
    assert _failures_counted(db) == failures
    assert _count(db, AuthSession) == sessions


def test_sign_in_still_works_and_still_counts_failures(client, world, db):
    """The cases above fail for their hostility: the same body, well formed, is read."""
    good = body_with({"username": "gw1"}, "password", json.dumps(world.password))
    assert post_json(client, LOGIN, good).status_code == 200
    failures = _failures_counted(db)
    wrong = body_with({"username": "gw1"}, "password", '"not the password"')
    assert_problem(post_json(client, LOGIN, wrong), 401, "invalid-credentials")
    assert _failures_counted(db) > failures


# --- a building, signed in ---------------------------------------------------------------


def _create_body(world, field: str, value: str | bytes) -> bytes:
    return body_with(full_file(world.areas["G1"]), field, value)


def _field_for(name: str) -> str:
    return "location" if "duplicate" in name else "floors_above"


@pytest.mark.parametrize("name", HOSTILE_VALUES)
def test_building_create_refuses_hostile_json(client, world, as_user, db, name):
    headers = {**as_user("admin"), "Idempotency-Key": str(uuid.uuid4())}
    buildings = _count(db, Building)

    body = _create_body(world, _field_for(name), HOSTILE_VALUES[name])
    assert_refused(post_json(client, BUILDINGS, body, headers))

    assert _count(db, Building) == buildings
    assert _count(db, IdempotencyKey) == 0, "refused before the key was claimed"


def test_building_create_refuses_a_duplicate_key_at_the_top(client, world, as_user, db):
    payload = full_file(world.areas["G1"])
    body = json.dumps(payload)[:-1].encode() + b', "code": "FT-SW-0999"}'
    buildings = _count(db, Building)

    problem = assert_refused(post_json(client, BUILDINGS, body, as_user("admin")))

    assert '"code"' in problem["detail"]
    assert _count(db, Building) == buildings
    assert client.get(f"{BUILDINGS}/{payload['id']}", headers=as_user("admin")).status_code == 404


def test_the_key_of_a_refused_body_stays_free(client, world, as_user, db):
    """Nothing was stored for the key: the same key with a good body does the work."""
    headers = {**as_user("admin"), "Idempotency-Key": "first-try"}
    hostile = _create_body(world, "floors_above", nested_arrays(100_000))
    assert_refused(post_json(client, BUILDINGS, hostile, headers))

    good = full_file(world.areas["G1"])
    created = client.post(BUILDINGS, json=good, headers=headers)

    assert created.status_code == 201, created.get_json()
    assert _count(db, IdempotencyKey) == 1


@pytest.fixture
def building(client, world, as_user) -> tuple[str, str, dict]:
    """B1's address, its ETag and its file, as the admin reads them."""
    url = f"{BUILDINGS}/{world.buildings['B1']}"
    current = client.get(url, headers=as_user("admin"))
    assert current.status_code == 200, current.get_json()
    return url, current.headers["ETag"], current.get_json()


@pytest.mark.parametrize("name", HOSTILE_VALUES)
def test_building_change_refuses_hostile_json(client, as_user, building, name):
    url, etag, before = building
    headers = {**as_user("admin"), "If-Match": etag}

    body = body_with({}, _field_for(name), HOSTILE_VALUES[name])
    assert_refused(client.patch(url, data=body, content_type="application/json", headers=headers))

    after = client.get(url, headers=as_user("admin"))
    assert after.headers["ETag"] == etag
    assert after.get_json() == before


def test_building_change_refuses_a_duplicate_key_at_the_top(client, as_user, building):
    url, etag, before = building
    headers = {**as_user("admin"), "If-Match": etag}
    body = b'{"floors_above": 3, "floors_above": 30}'

    assert_refused(client.patch(url, data=body, content_type="application/json", headers=headers))

    after = client.get(url, headers=as_user("admin"))
    assert after.headers["ETag"] == etag
    assert after.get_json() == before


def test_building_change_still_reads_a_good_body(client, as_user, building):
    url, etag, _before = building
    headers = {**as_user("admin"), "If-Match": etag}
    answer = client.patch(url, data=b'{"floors_above": 30}', content_type="application/json",
                          headers=headers)  # fmt: skip
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["floors_above"] == 30


# --- the bounds, exactly -----------------------------------------------------------------


def test_nesting_to_the_bound_is_read_and_past_it_refused(client, world):
    """MAX_DEPTH levels in all get as far as the schema (a 422); one more is refused."""
    deepest = body_with({"username": "gw1"}, "password", nested_arrays(jsonbody.MAX_DEPTH - 1))
    assert_problem(post_json(client, LOGIN, deepest), 422, "validation-failed")
    one_more = body_with({"username": "gw1"}, "password", nested_arrays(jsonbody.MAX_DEPTH))
    problem = assert_refused(post_json(client, LOGIN, one_more))
    assert str(jsonbody.MAX_DEPTH) in problem["detail"]


@pytest.mark.parametrize("number", [str(2**63 - 1), str(-(2**63)), "1.7976931348623157e308"])
def test_the_largest_numbers_are_read(client, world, number):
    body = body_with({"username": "gw1"}, "password", number)
    assert_problem(post_json(client, LOGIN, body), 422, "validation-failed")


@pytest.mark.parametrize("number", [str(2**63), "1" + "0" * 4_999, "1e400"])
def test_a_number_out_of_range_is_named_as_such(client, world, number):
    body = body_with({"username": "gw1"}, "password", number)
    problem = assert_refused(post_json(client, LOGIN, body))
    assert "64 bits" in problem["detail"]


# --- cheap -------------------------------------------------------------------------------


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_a_mebibyte_of_nesting_is_refused_in_milliseconds(client, world, opener):
    body = (opener * (MIB // len(opener))).encode()
    assert len(body) <= MIB

    started = time.perf_counter()
    with pytest.raises(jsonbody.MalformedJson):
        jsonbody.loads(body)
    reading = time.perf_counter() - started
    response = post_json(client, LOGIN, body)

    assert_refused(response)
    # About a millisecond here; the bound leaves room for a busy machine, not for a reader
    # that walks every level.
    assert reading < 0.05, f"{reading * 1000:.1f} ms"


# --- what is not a body ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"{BUILDINGS}?limit={'9' * 5_000}",
        f"{BUILDINGS}?limit={2**63}",
        f"{BUILDINGS}?limit=1e400",
        f"{BUILDINGS}?limit=NaN",
        f"/api/v1/templates?limit={'9' * 5_000}",
        f"/api/v1/sync?limit={'9' * 5_000}",
    ],
)
def test_huge_numbers_in_the_query_are_422(client, as_user, path):
    assert_problem(client.get(path, headers=as_user("admin")), 422, "validation-failed")


@pytest.mark.parametrize(
    "cursor",
    [nested_arrays(190), "[" + "9" * 350 + "]", '["a", "a", NaN]'],
    ids=["deep", "huge number", "NaN"],
)
def test_a_hostile_page_cursor_is_400(client, as_user, cursor):
    token = base64.urlsafe_b64encode(cursor.encode()).rstrip(b"=").decode()
    response = client.get(BUILDINGS, query_string={"cursor": token}, headers=as_user("admin"))
    assert_problem(response, 400, "invalid-cursor")


@pytest.mark.parametrize("segment", ["9" * 5_000, "1e400", "%5B" * 1_000])
def test_a_hostile_path_parameter_is_404(client, as_user, segment):
    response = client.get(f"{BUILDINGS}/{segment}", headers=as_user("admin"))
    assert_problem(response, 404, "not-found")


@pytest.mark.parametrize(
    "header",
    [nested_arrays(5_000), '{"alg": "HS256", "typ": "JWT", "n": ' + "1" * 5_000 + "}"],
    ids=["deep", "huge number"],
)
def test_a_hostile_token_header_is_401(client, world, header):
    """A token's header is JSON read before its signature is checked: it must not be a 500."""

    def segment(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()

    token = f"{segment(header)}.{segment('{}')}.c2lnbmF0dXJl"
    response = client.get(BUILDINGS, headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401, "token-invalid")
