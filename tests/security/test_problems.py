"""Every error is an RFC 9457 problem (application/problem+json) and tells no secrets.

Each status the app produces is provoked here the way a client would meet it, and checked
for the shape the phone relies on: ``type`` ending in ``/problems/<slug>``, ``title``,
``status`` (the HTTP status), ``detail``; field errors as JSON Pointers. No answer carries a
stack trace, exception text, SQL or a file path.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import uuid
from datetime import timedelta

import pytest
from flask_jwt_extended import create_access_token, decode_token
from sqlalchemy import text, update

from fieldapi import create_app
from fieldapi.areas.models import Area
from fieldapi.buildings.models import Building
from fieldapi.core import db as database
from fieldapi.core.permissions import public
from fieldapi.core.problems import _SLUG_BY_STATUS, CATALOGUE
from tests.support.world import building_payload

LEAKS = ("traceback", "sqlalchemy", "psycopg", "sqlite", "site-packages", 'file "', ".py")
FILE_PATH = re.compile(r"(?:^|[\s'\"(=])/(?:[\w.-]+/)+[\w.-]*")


def assert_problem(response, status: int, slug: str) -> dict:
    """The response is the problem ``slug`` with ``status``, and leaks nothing."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    body = json.loads(response.get_data(as_text=True))
    assert body["type"].startswith("https://")
    assert body["type"].endswith(f"/problems/{slug}")
    assert body["status"] == status
    for member in ("title", "detail"):
        assert isinstance(body[member], str)
        assert body[member].strip()
    assert_no_leak(response)
    return body


def assert_no_leak(response) -> None:
    raw = response.get_data(as_text=True)
    lowered = raw.lower()
    for needle in (*LEAKS, os.getcwd().lower()):
        assert needle not in lowered, f"{needle!r} in {raw[:300]}"
    body = json.loads(raw)
    prose = [body.get("title", ""), body.get("detail", "")]
    prose += [e.get("detail", "") for e in body.get("errors", [])]
    for line in prose:
        assert not FILE_PATH.search(line), f"a file path in {line!r}"


@pytest.fixture
def make_app(settings, app):
    """Build a separate app on the test database with changed settings."""
    made = []

    def make(**changes):
        new = create_app(dataclasses.replace(settings, **changes))
        made.append(new)
        return new

    yield make
    for new in made:
        new.extensions["fieldapi.engine"].dispose()


def login(client, world, username: str = "admin", password: str | None = None, address=None):
    return client.post(
        "/api/v1/auth/login",
        json={"username": username, "password": password or world.password},
        environ_base={"REMOTE_ADDR": address or f"10.7.{uuid.uuid4().int % 250}.1"},
    )


def bearer(response) -> dict[str, str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def new_building(world, **extra) -> dict:
    payload = building_payload(f"SEC-{uuid.uuid4().hex[:8].upper()}", world.areas["G1"])
    return {**payload, "grid_id": str(payload["grid_id"]), **extra}


def building_count(app) -> int:
    with app.extensions["fieldapi.engine"].connect() as conn:
        return conn.scalar(text("SELECT count(*) FROM buildings"))


def test_catalogue_is_consistent():
    for slug, (status, title) in CATALOGUE.items():
        assert 400 <= status <= 599, slug
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", slug), slug
        assert title.strip()
    for status, slug in _SLUG_BY_STATUS.items():
        assert CATALOGUE[slug][0] == status, (status, slug)


# 400


@pytest.mark.parametrize("signed_in", [False, True], ids=["public", "signed-in"])
def test_400_malformed_json(client, world, as_user, signed_in):
    path = "/api/v1/buildings" if signed_in else "/api/v1/auth/login"
    headers = {**(as_user("admin") if signed_in else {}), "Content-Type": "application/json"}
    response = client.post(path, data='{"code": "FT-1", ', headers=headers)
    assert_problem(response, 400, "malformed-request")


def test_400_unreadable_cursor(client, as_user):
    response = client.get("/api/v1/buildings?cursor=not-a-cursor", headers=as_user("gw1"))
    assert_problem(response, 400, "invalid-cursor")


# 401


def test_401_without_a_token(client, world):
    response = client.get(f"/api/v1/buildings/{world.buildings['B1']}")
    assert_problem(response, 401, "authentication-required")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-jwt", "Bearer a.b.c", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."],
)
def test_401_garbage_token(client, world, authorization):
    response = client.get("/api/v1/me", headers={"Authorization": authorization})
    assert_problem(response, 401, "token-invalid")


def test_401_token_signed_with_another_key(client, world, app):
    settings = app.extensions["fieldapi.settings"]
    other = create_app(dataclasses.replace(settings, secret_key="y" * 48))
    try:
        with other.app_context():
            forged = create_access_token(
                identity=str(world.users["admin"]), additional_claims={"sid": str(uuid.uuid4())}
            )
    finally:
        other.extensions["fieldapi.engine"].dispose()
    response = client.get("/api/v1/users", headers={"Authorization": f"Bearer {forged}"})
    assert_problem(response, 401, "token-invalid")


def test_401_expired_token(client, world, app):
    real = login(client, world).get_json()["access_token"]
    with app.app_context():
        claims = decode_token(real)

        def mint(expires_delta):
            return create_access_token(
                identity=claims["sub"],
                additional_claims={"sid": claims["sid"]},
                expires_delta=expires_delta,
            )

        fresh, expired = mint(timedelta(minutes=5)), mint(timedelta(seconds=-1))
    # The same session and user: only the expiry differs.
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert_problem(response, 401, "token-expired")


def test_401_revoked_token(client, world):
    headers = bearer(login(client, world, "gw1"))
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", json={}, headers=headers).status_code == 204
    assert_problem(client.get("/api/v1/me", headers=headers), 401, "token-revoked")


def test_401_wrong_credentials(client, world):
    response = login(client, world, "gw1", password="not the password")
    assert_problem(response, 401, "invalid-credentials")
    assert "access_token" not in response.get_data(as_text=True)


# 403


@pytest.mark.parametrize(
    ("username", "method", "path", "body"),
    [
        ("gw1", "POST", "/api/v1/areas", {"name": "X", "kind": "district"}),
        ("office1", "GET", "/api/v1/users", None),
        ("police1", "POST", "/api/v1/buildings", {}),
    ],
)
def test_403_role_not_allowed(client, as_user, username, method, path, body):
    response = client.open(path, method=method, json=body, headers=as_user(username))
    assert_problem(response, 403, "forbidden")
    assert "items" not in response.get_json(force=True)


# 404


@pytest.mark.parametrize(
    "path", ["/nothing-here", "/api/v1/nothing-here", "/api/v1/buildings/not-a-uuid"]
)
def test_404_unknown_path(client, world, as_user, path):
    assert_problem(client.get(path), 404, "not-found")
    assert_problem(client.get(path, headers=as_user("admin")), 404, "not-found")


def test_404_unknown_id(client, as_user):
    response = client.get(f"/api/v1/buildings/{uuid.uuid4()}", headers=as_user("admin"))
    assert_problem(response, 404, "not-found")


def test_404_out_of_scope_reads_like_unknown(client, world, as_user):
    unknown = client.get(f"/api/v1/buildings/{uuid.uuid4()}", headers=as_user("gw1"))
    hidden = client.get(f"/api/v1/buildings/{world.buildings['B4']}", headers=as_user("gw1"))
    assert_problem(hidden, 404, "not-found")
    assert hidden.get_json(force=True) == unknown.get_json(force=True)


# 405


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/buildings/{B1}", {"GET", "PATCH"}),
        ("PUT", "/api/v1/buildings", {"GET", "POST"}),
        ("POST", "/health", {"GET"}),
    ],
)
def test_405_with_allow(client, world, as_user, method, path, allowed):
    path = path.format(B1=world.buildings["B1"])
    response = client.open(path, method=method, headers=as_user("admin"))
    assert_problem(response, 405, "method-not-allowed")
    offered = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed <= offered
    assert method not in offered


# 409, 412, 428


def test_409_conflict(client, world, as_user):
    body = new_building(world, code="FT-B1")  # B1's code
    response = client.post("/api/v1/buildings", json=body, headers=as_user("admin"))
    assert_problem(response, 409, "conflict")


def test_412_and_428_on_patch(client, world, as_user):
    path = f"/api/v1/buildings/{world.buildings['B1']}"
    headers = as_user("gw1")
    etag = client.get(path, headers=headers).headers["ETag"]
    missing = client.patch(path, json={"notes": "x"}, headers=headers)
    assert_problem(missing, 428, "precondition-required")
    stale = client.patch(path, json={"notes": "x"}, headers={**headers, "If-Match": '"stale"'})
    assert_problem(stale, 412, "precondition-failed")
    assert client.get(path, headers=headers).headers["ETag"] == etag
    ok = client.patch(path, json={"notes": "x"}, headers={**headers, "If-Match": etag})
    assert ok.status_code == 200


# 413


def test_413_body_over_the_limit(make_app, world):
    small = make_app(max_request_bytes=2048)
    client = small.test_client()
    headers = bearer(login(client, world))  # a small body passes the same limit
    big = new_building(world, notes="n" * 3000)
    response = client.post("/api/v1/buildings", json=big, headers=headers)
    assert_problem(response, 413, "payload-too-large")
    padded = {"username": "admin", "password": "p" * 4000}
    assert_problem(client.post("/api/v1/auth/login", json=padded), 413, "payload-too-large")
    # The same building fits under the default limit: the size, not the content, was refused.
    normal = make_app().test_client()
    created = normal.post("/api/v1/buildings", json=big, headers=bearer(login(normal, world)))
    assert created.status_code == 201


# 415


def test_415_body_that_is_not_json(client, world, as_user, app):
    headers = as_user("admin")
    body = json.dumps(new_building(world))
    before = building_count(app)
    for media_type in ("text/plain", "application/x-www-form-urlencoded", None):
        sent = {**headers, "Content-Type": media_type} if media_type else headers
        response = client.post("/api/v1/buildings", data=body, headers=sent)
        assert_problem(response, 415, "unsupported-media-type")
    assert building_count(app) == before
    # The same bytes as JSON are a valid building: the media type was what was refused.
    sent = {**headers, "Content-Type": "application/json"}
    assert client.post("/api/v1/buildings", data=body, headers=sent).status_code == 201


def test_415_patch_is_not_a_silent_no_op(client, world, as_user):
    path = f"/api/v1/buildings/{world.buildings['B1']}"
    headers = as_user("admin")
    etag = client.get(path, headers=headers).headers["ETag"]
    sent = {**headers, "If-Match": etag, "Content-Type": "text/plain"}
    response = client.patch(path, data='{"notes": "changed"}', headers=sent)
    assert_problem(response, 415, "unsupported-media-type")
    assert client.get(path, headers=headers).get_json()["notes"] is None


def test_415_form_login(client, world):
    response = client.post(
        "/api/v1/auth/login", data={"username": "admin", "password": world.password}
    )
    assert_problem(response, 415, "unsupported-media-type")


# 422


def pointers(body) -> dict[str, dict]:
    return {e["pointer"]: e for e in body["errors"]}


def test_422_field_errors_are_json_pointers(client, world, as_user):
    body = new_building(
        world,
        location={"lat": 222, "lon": 114.0},
        units=[{"label": "101", "floor": "ground", "residents": []}],
        colour="red",
    )
    del body["name"]
    response = client.post("/api/v1/buildings", json=body, headers=as_user("admin"))
    problem = assert_problem(response, 422, "validation-failed")
    found = pointers(problem)
    assert {"/location/lat", "/units/0/floor", "/name", "/colour"} <= set(found)
    for error in problem["errors"]:
        assert error["pointer"].startswith("/")
        assert error["detail"].strip()
        assert "location" not in error  # body errors carry no location


def test_422_query_errors_say_where(client, as_user):
    response = client.get("/api/v1/buildings?limit=many&overdue=perhaps", headers=as_user("gw1"))
    problem = assert_problem(response, 422, "validation-failed")
    found = pointers(problem)
    assert set(found) == {"/limit", "/overdue"}
    assert all(e["location"] == "query" for e in found.values())


def test_422_body_that_is_not_an_object(client, as_user):
    response = client.post("/api/v1/buildings", json=[1, 2], headers=as_user("admin"))
    problem = assert_problem(response, 422, "validation-failed")
    assert problem["errors"][0]["pointer"] == ""


# 429


def test_429_after_too_many_failed_logins(client, world, settings):
    limit = settings.login_failures_per_username
    for attempt in range(limit):
        response = login(client, world, "gw1", password="wrong password", address="10.6.0.1")
        assert response.status_code == 401, attempt
    throttled = login(client, world, "gw1", password="wrong password", address="10.6.0.1")
    assert_problem(throttled, 429, "too-many-requests")
    assert int(throttled.headers["Retry-After"]) > 0
    # The right password waits too: the throttle is not a password oracle.
    right = login(client, world, "gw1", address="10.6.0.2")
    assert_problem(right, 429, "too-many-requests")
    assert "access_token" not in right.get_data(as_text=True)


# 500


def test_500_hides_what_went_wrong(make_app, world, caplog):
    boom_app = make_app()

    @public
    def boom():
        raise RuntimeError("secret-sql-here: SELECT password_hash FROM users")

    @public
    def bad_sql():
        database.session().execute(text("SELECT secret_column FROM secret_sql_here"))

    boom_app.add_url_rule("/api/v1/probe/boom", view_func=boom)
    boom_app.add_url_rule("/api/v1/probe/bad-sql", view_func=bad_sql)
    client = boom_app.test_client()
    for path in ("/api/v1/probe/boom", "/api/v1/probe/bad-sql"):
        response = client.get(path)
        assert_problem(response, 500, "internal-error")
        raw = response.get_data(as_text=True).lower()
        for needle in ("secret", "runtimeerror", "select", "password_hash"):
            assert needle not in raw
        assert "Retry-After" not in response.headers  # a fault, not an outage
    # The operators still learn what happened.
    assert "secret-sql-here" in caplog.text


@pytest.mark.parametrize("when", ["commit", "flush"])
def test_constraint_failure_is_a_conflict_and_stores_nothing(make_app, world, app, when):
    probe_app = make_app()

    @public
    def duplicate():
        # The id of an existing grid, as two writers racing would produce. At "commit" the
        # database refuses it only after the view has answered.
        db = database.session()
        db.add(Area(id=world.areas["G1"], name="Clash", kind="grid", path="/clash/"))
        if when == "flush":
            db.flush()
        return {"ok": True}

    probe_app.add_url_rule("/api/v1/probe/duplicate", view_func=duplicate, methods=["POST"])
    response = probe_app.test_client().post("/api/v1/probe/duplicate")
    assert_problem(response, 409, "conflict")
    assert "ok" not in response.get_json(force=True)
    assert "clash" not in response.get_data(as_text=True).lower()
    with app.extensions["fieldapi.engine"].connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM areas WHERE name = 'Clash'")) == 0


def test_stale_write_during_the_view_is_a_precondition_failure(make_app, world, app):
    """A versioned row changed by another writer between this request's read and its
    flush: 412, like a stale If-Match, and nothing of the request is stored."""
    probe_app = make_app()

    @public
    def stale():
        db = database.session()
        building = db.get(Building, world.buildings["B1"])
        with app.extensions["fieldapi.sessionmaker"]() as other, other.begin():
            other.execute(
                update(Building)
                .where(Building.id == building.id)
                .values(version=Building.version + 1)
            )
        building.name = "Stale write"
        db.flush()
        return {"ok": True}

    probe_app.add_url_rule("/api/v1/probe/stale", view_func=stale, methods=["POST"])
    response = probe_app.test_client().post("/api/v1/probe/stale")
    assert_problem(response, 412, "precondition-failed")
    with app.extensions["fieldapi.engine"].connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM buildings WHERE name = 'Stale write'")) == 0


# 503

CLOSED_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/x"


def assert_unavailable(response, mentions: str) -> None:
    body = assert_problem(response, 503, "service-unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert mentions in body["detail"]


def test_503_ready_when_the_database_is_unreachable(make_app, world):
    client = make_app(database_url=CLOSED_DATABASE).test_client()
    assert_unavailable(client.get("/ready"), "database")
    # Any route that needs the database says the same, not 500.
    assert_unavailable(login(client, world), "database")


def test_503_ready_when_the_local_store_is_a_file(make_app, world, tmp_path):
    folder = tmp_path / "blobs"
    client = make_app(storage_url=folder.as_uri(), s3_endpoint_url=None).test_client()
    assert client.get("/ready").status_code == 200
    shutil.rmtree(folder)
    folder.write_text("not a folder")
    assert_unavailable(client.get("/ready"), "object store")


def test_503_ready_when_s3_is_unreachable(make_app, world, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "probe")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "probe-secret")
    client = make_app(
        storage_url="s3://fieldapi-unreachable",
        s3_endpoint_url="http://127.0.0.1:1",
        s3_region="us-east-1",
    ).test_client()
    assert_unavailable(client.get("/ready"), "object store")


def test_signed_out_caller_is_told_to_sign_in_before_anything_about_the_body(client, world):
    response = client.post("/api/v1/buildings", data="code=X", content_type="text/plain")
    assert response.status_code == 401
    assert response.get_json()["type"].endswith("/authentication-required")
