"""Request ids and the app's JSON log lines: what a line holds, and what it never holds."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

import pytest
from sqlalchemy import text

from fieldapi.core import db as database
from fieldapi.core.permissions import public
from tests.support.world import building_payload

HEX32 = re.compile(r"[0-9a-f]{32}")
BUILDING = "/api/v1/buildings/<uuid:building_id>"


def lines(captured: str) -> list[dict]:
    """The JSON lines written to stderr; any other line there fails the test."""
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def line_of(captured: str, request_id: str) -> dict:
    (line,) = [
        line
        for line in lines(captured)
        if line.get("request_id") == request_id and line["logger"] == "fieldapi.requests"
    ]
    return line


@pytest.mark.parametrize(
    "given", ["abc", "0f8e2c1d-0b6e-4c35-a0a1-7d1f0e9b8a22", "phone.42_retry-3", "x" * 128]
)
def test_a_plain_request_id_is_sent_back(client, given):
    response = client.get("/health", headers={"X-Request-ID": given})
    assert response.headers["X-Request-ID"] == given


@pytest.mark.parametrize(
    "given", [None, "", "x" * 129, "two words", "a/b", "<script>", "日本", "id\ttab", "a;b=c"]
)
def test_otherwise_the_server_makes_one(client, given):
    headers = {} if given is None else {"X-Request-ID": given}
    response = client.get("/health", headers=headers)
    made = response.headers["X-Request-ID"]
    assert HEX32.fullmatch(made)
    assert made != given
    assert client.get("/health", headers=headers).headers["X-Request-ID"] != made


def test_every_error_carries_the_request_id(client, world, as_user):
    answers = [
        client.get("/no/such/page"),  # 404 without a route
        client.open("/health", method="BREW"),  # 405
        client.get(f"/api/v1/buildings/{world.buildings['B1']}"),  # 401
        client.get(f"/api/v1/buildings/{world.buildings['B4']}", headers=as_user("gw1")),  # 404
        client.post("/api/v1/areas", json={}, headers=as_user("gw1")),  # 403
        client.get("/api/v1/buildings?nonsense=1", headers=as_user("gw1")),  # 422
        client.post("/api/v1/auth/login", data="{", content_type="application/json"),  # 400
    ]
    assert [a.status_code for a in answers] == [404, 405, 401, 404, 403, 422, 400]
    for answer in answers:
        assert answer.mimetype == "application/problem+json"
        assert HEX32.fullmatch(answer.headers["X-Request-ID"])
    tagged = client.get("/no/such/page", headers={"X-Request-ID": "lost-1"})
    assert tagged.headers["X-Request-ID"] == "lost-1"


def test_one_json_line_per_request_with_its_facts(client, world, as_user, capsys):
    headers = as_user("gw1")
    capsys.readouterr()
    b1 = world.buildings["B1"]
    answer = client.get(f"/api/v1/buildings/{b1}", headers={**headers, "X-Request-ID": "read-1"})
    assert answer.status_code == 200
    client.get(f"/api/v1/buildings/{b1}", headers={"X-Request-ID": "anonymous-1"})
    captured = capsys.readouterr().err

    line = line_of(captured, "read-1")
    assert set(line) == {
        "ts",
        "level",
        "logger",
        "message",
        "request_id",
        "user_id",
        "method",
        "route",
        "status",
        "duration_ms",
    }
    assert datetime.fromisoformat(line["ts"]).utcoffset().total_seconds() == 0
    assert (line["level"], line["message"]) == ("INFO", "request")
    assert (line["method"], line["route"], line["status"]) == ("GET", BUILDING, 200)
    assert line["user_id"] == str(world.users["gw1"])
    assert isinstance(line["duration_ms"], float)
    assert 0 < line["duration_ms"] < 60_000
    assert str(b1) not in json.dumps(line), "the route's template, never the path"

    signed_out = line_of(captured, "anonymous-1")
    assert (signed_out["status"], signed_out["user_id"]) == (401, None)


def test_an_error_logged_by_the_app_is_json_with_its_request_id(make_app, capsys):
    probe_app = make_app()

    @public
    def boom():
        raise RuntimeError("the probe failed")

    probe_app.add_url_rule("/api/v1/probe/boom", view_func=boom)
    capsys.readouterr()
    response = probe_app.test_client().get("/api/v1/probe/boom", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "boom-1"
    found = [line for line in lines(capsys.readouterr().err) if line.get("request_id") == "boom-1"]
    (error,) = [line for line in found if line["level"] == "ERROR"]
    assert error["logger"] == "fieldapi.core.problems"
    assert error["message"] == "unhandled error"
    assert "RuntimeError: the probe failed" in error["exc_info"]
    assert [line["status"] for line in found if line["logger"] == "fieldapi.requests"] == [500]


ID_NUMBER = "440301199001011234"
PHONE = "13900001111"
WRONG_PASSWORD = "Wrong-Secret-Pw-7731"


def test_no_secret_or_personal_data_reaches_the_logs(
    client, world, as_user, make_app, capsys, caplog
):
    caplog.set_level("DEBUG")
    capsys.readouterr()
    wrong = client.post("/api/v1/auth/login", json={"username": "gw1", "password": WRONG_PASSWORD})
    assert wrong.status_code == 401
    signed_in = client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": world.password}
    )
    tokens = signed_in.get_json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    person = {"name": "Zhang San", "id_number": ID_NUMBER, "phone": PHONE, "kind": "permanent"}
    payload = building_payload(
        f"LOG-{uuid.uuid4().hex[:6]}".upper(),
        str(world.areas["G1"]),
        units=[{"label": "101", "floor": 1, "residents": [person]}],
    )
    created = client.post("/api/v1/buildings", json=payload, headers=bearer)
    assert created.status_code == 201, created.get_json()
    url = f"/api/v1/buildings/{created.get_json()['id']}"
    assert client.get(url, headers=bearer).status_code == 200
    # A value in a query string, and a refused one in a body.
    leaked = client.get(f"/api/v1/buildings?token={tokens['refresh_token']}", headers=bearer)
    assert leaked.status_code == 422
    bad = {**payload, "code": f"LOG-{uuid.uuid4().hex[:6]}".upper(), "phone": PHONE}
    assert client.post("/api/v1/buildings", json=bad, headers=bearer).status_code == 422
    # A statement that fails with a personal value bound to it: the traceback is logged.
    probe_app = make_app()

    @public
    def bad_sql():
        database.session().execute(text("SELECT :p FROM no_such_table"), {"p": ID_NUMBER})

    probe_app.add_url_rule("/api/v1/probe/bad-sql", view_func=bad_sql)
    assert probe_app.test_client().get("/api/v1/probe/bad-sql").status_code == 500

    written = capsys.readouterr().err
    assert "no_such_table" in written, "the failure itself is logged"
    assert len([line for line in lines(written) if line["logger"] == "fieldapi.requests"]) == 7
    for logged in (written, caplog.text):
        for secret in (
            WRONG_PASSWORD,
            world.password,
            tokens["access_token"],
            tokens["refresh_token"],
            tokens["access_token"].split(".")[2],  # the signature alone
            ID_NUMBER,
            PHONE,
            "Bearer",
            "Authorization",
        ):
            assert secret not in logged
