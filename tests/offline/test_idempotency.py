"""Idempotency-Key on every POST: a retry replays the first answer, never does the work twice.

The same tests run on SQLite and PostgreSQL; the concurrent ones at the end need
PostgreSQL's row-level locking and run on the server backend only.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fieldapi import create_app
from fieldapi.buildings.models import Building
from fieldapi.core import idempotency
from fieldapi.core.db import utcnow
from fieldapi.core.idempotency import IdempotencyKey, fingerprint
from fieldapi.fieldwork.models import Hazard, Inspection, Rectification
from fieldapi.photos.models import Photo
from fieldapi.review.models import SubmissionEvent
from tests.fieldwork.conftest import PLAIN_ITEMS
from tests.photos.conftest import assert_problem, sha256, small_jpeg
from tests.support.world import building_payload

BUILDINGS = "/api/v1/buildings"


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def count(app, model, *where) -> int:
    with app.extensions["fieldapi.sessionmaker"]() as db:
        return db.scalar(select(func.count()).select_from(model).where(*where))


def stored_keys(app, key: str) -> list[IdempotencyKey]:
    with app.extensions["fieldapi.sessionmaker"]() as db:
        return list(db.scalars(select(IdempotencyKey).where(IdempotencyKey.key == key)))


def assert_replay(first, again) -> None:
    """``again`` repeats ``first``: status, body, and the meaningful headers."""
    assert again.status_code == first.status_code
    assert again.get_data() == first.get_data()
    for name in ("Content-Type", "Location", "ETag"):
        assert again.headers.get(name) == first.headers.get(name), name
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers


# Buildings: the plain case, in detail


def test_a_retry_replays_the_first_answer_and_creates_nothing_more(client, app, world, as_user):
    key = str(uuid.uuid4())
    body = building_payload("FT-IDEM-1", str(world.areas["G1"]))
    first = client.post(BUILDINGS, json=body, headers=keyed(as_user("gw1"), key))
    assert first.status_code == 201, first.get_json()
    assert first.headers["ETag"]

    again = client.post(BUILDINGS, json=body, headers=keyed(as_user("gw1"), key))

    assert_replay(first, again)
    assert count(app, Building, Building.code == "FT-IDEM-1") == 1
    [row] = stored_keys(app, key)
    assert row.status_code == 201
    assert row.user_id == world.users["gw1"]


def test_the_same_json_sent_with_other_spacing_and_order_is_the_same_request(
    client, app, world, as_user
):
    key = str(uuid.uuid4())
    body = building_payload("FT-IDEM-2", str(world.areas["G1"]))
    headers = keyed(as_user("gw1"), key)
    first = client.post(BUILDINGS, json=body, headers=headers)
    assert first.status_code == 201
    import json

    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    again = client.post(
        BUILDINGS, data=reordered, headers={**headers, "Content-Type": "application/json"}
    )
    assert_replay(first, again)
    assert count(app, Building, Building.code == "FT-IDEM-2") == 1


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(client, app, world, as_user):
    key = str(uuid.uuid4())
    body = building_payload("FT-IDEM-3", str(world.areas["G1"]))
    first = client.post(BUILDINGS, json=body, headers=keyed(as_user("gw1"), key))
    assert first.status_code == 201

    other = {**body, "code": "FT-IDEM-4", "name": "Another building"}
    refused = client.post(BUILDINGS, json=other, headers=keyed(as_user("gw1"), key))

    assert_problem(refused, 422, "idempotency-key-reused")
    assert count(app, Building, Building.code == "FT-IDEM-4") == 0
    stored = client.get(f"{BUILDINGS}/{first.get_json()['id']}", headers=as_user("gw1"))
    assert stored.get_json()["name"] == body["name"]
    [row] = stored_keys(app, key)
    assert row.status_code == 201  # the first answer is still the one kept


def test_the_same_key_on_another_address_is_refused(client, app, world, as_user):
    key = str(uuid.uuid4())
    body = building_payload("FT-IDEM-5", str(world.areas["G1"]))
    first = client.post(BUILDINGS, json=body, headers=keyed(as_user("admin"), key))
    assert first.status_code == 201
    area = {"name": "Shuiwei North", "kind": "grid", "parent_id": str(world.areas["Shuiwei"])}

    refused = client.post("/api/v1/areas", json=area, headers=keyed(as_user("admin"), key))

    assert_problem(refused, 422, "idempotency-key-reused")
    names = [
        a["name"] for a in client.get("/api/v1/areas", headers=as_user("admin")).get_json()["items"]
    ]
    assert "Shuiwei North" not in names


def test_while_the_first_request_runs_a_retry_is_told_to_wait(client, app, world, as_user):
    """A claim without an answer is a request still running (on any worker)."""
    key = str(uuid.uuid4())
    body = building_payload("FT-IDEM-6", str(world.areas["G1"]))
    _claim(app, world.users["gw1"], key, body, claimed_ago=timedelta(seconds=5))

    answer = client.post(BUILDINGS, json=body, headers=keyed(as_user("gw1"), key))

    assert_problem(answer, 409, "idempotency-in-progress")
    assert int(answer.headers["Retry-After"]) >= 1
    assert count(app, Building, Building.code == "FT-IDEM-6") == 0
    [row] = stored_keys(app, key)
    assert row.status_code is None  # the running request's claim is left alone


def test_a_claim_abandoned_by_a_dead_worker_is_taken_over(client, app, world, as_user):
    key = str(uuid.uuid4())
    body = building_payload("FT-IDEM-7", str(world.areas["G1"]))
    dead = _claim(app, world.users["gw1"], key, body, claimed_ago=timedelta(minutes=3))

    answer = client.post(BUILDINGS, json=body, headers=keyed(as_user("gw1"), key))

    assert answer.status_code == 201, answer.get_json()
    assert count(app, Building, Building.code == "FT-IDEM-7") == 1
    [row] = stored_keys(app, key)
    assert row.claim_id != dead
    assert row.status_code == 201
    again = client.post(BUILDINGS, json=body, headers=keyed(as_user("gw1"), key))
    assert_replay(answer, again)


def test_an_expired_key_starts_again(client, app, world, as_user):
    """A key older than the kept hours (not yet pruned) is a new key."""
    key = str(uuid.uuid4())
    old_body = building_payload("FT-IDEM-OLD", str(world.areas["G1"]))
    _claim(app, world.users["gw1"], key, old_body, claimed_ago=timedelta(hours=73), answered=True)
    body = building_payload("FT-IDEM-8", str(world.areas["G1"]))

    answer = client.post(BUILDINGS, json=body, headers=keyed(as_user("gw1"), key))

    assert answer.status_code == 201, answer.get_json()
    assert "Idempotent-Replayed" not in answer.headers
    [row] = stored_keys(app, key)
    assert row.status_code == 201
    assert row.created_at > utcnow() - timedelta(minutes=5)


def test_keys_belong_to_their_user(client, app, world, as_user):
    key = str(uuid.uuid4())
    grid = str(world.areas["G1"])
    mine = client.post(
        BUILDINGS, json=building_payload("FT-IDEM-9", grid), headers=keyed(as_user("gw1"), key)
    )
    theirs = client.post(
        BUILDINGS,
        json=building_payload("FT-IDEM-10", grid),
        headers=keyed(as_user("officer1"), key),
    )
    assert mine.status_code == 201
    assert theirs.status_code == 201, theirs.get_json()
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["id"] != mine.get_json()["id"]
    # The very same request by another user does its own work, not a replay of mine.
    same = client.post(
        BUILDINGS, json=building_payload("FT-IDEM-9", grid), headers=keyed(as_user("admin"), key)
    )
    assert_problem(same, 409, "conflict")  # the code is taken: admin's own attempt
    assert {r.user_id for r in stored_keys(app, key)} == {
        world.users["gw1"],
        world.users["officer1"],
    }


def test_an_answer_that_failed_is_not_kept_and_the_retry_does_the_work(client, app, world, as_user):
    key = str(uuid.uuid4())
    body = building_payload("FT-IDEM-11", str(world.areas["G1"]))
    invalid = {**body, "floors_above": -3}
    refused = client.post(BUILDINGS, json=invalid, headers=keyed(as_user("gw1"), key))
    assert refused.status_code == 422
    assert stored_keys(app, key) == []

    taken = client.post(
        BUILDINGS,
        json={**body, "code": "FT-B1"},
        headers=keyed(as_user("gw1"), key),
    )
    assert_problem(taken, 409, "conflict")  # the code belongs to B1
    assert stored_keys(app, key) == []

    done = client.post(BUILDINGS, json=body, headers=keyed(as_user("gw1"), key))
    assert done.status_code == 201, done.get_json()
    assert "Idempotent-Replayed" not in done.headers
    assert count(app, Building, Building.code == "FT-IDEM-11") == 1


def test_a_commit_that_fails_releases_the_key(client, app, world, as_user):
    """An answer is kept in the request's own transaction: when that rolls back, so does it."""
    key = str(uuid.uuid4())
    body = building_payload("FT-IDEM-12", str(world.areas["G1"]))
    first = client.post(BUILDINGS, json=body, headers=keyed(as_user("gw1"), key))
    assert first.status_code == 201
    building_id = first.get_json()["id"]
    # A PATCH with a stale If-Match fails; send it keyed to make sure nothing else is kept.
    stale = client.patch(
        f"{BUILDINGS}/{building_id}",
        json={"name": "Renamed"},
        headers={**keyed(as_user("gw1"), str(uuid.uuid4())), "If-Match": '"stale"'},
    )
    assert stale.status_code == 412
    assert count(app, IdempotencyKey) == 1


def test_a_claim_taken_over_while_the_request_ran_undoes_its_work(app, world):
    """If a request outlives its claim and another took the key, its answer is not kept."""
    engine = app.extensions["fieldapi.engine"]
    key = str(uuid.uuid4())
    held = idempotency.claim(
        engine,
        user_id=world.users["gw1"],
        key=key,
        method="POST",
        path=BUILDINGS,
        request_fingerprint="0" * 64,
        now=utcnow() - timedelta(minutes=5),
        keep=timedelta(hours=72),
    )
    assert isinstance(held, idempotency._Claim)
    taker = idempotency.claim(
        engine,
        user_id=world.users["gw1"],
        key=key,
        method="POST",
        path=BUILDINGS,
        request_fingerprint="0" * 64,
        now=utcnow(),
        keep=timedelta(hours=72),
    )
    assert isinstance(taker, idempotency._Claim)
    from flask import Response

    with app.extensions["fieldapi.sessionmaker"]() as db:
        assert not idempotency.record(db, held, Response(b"{}", status=201))
        assert idempotency.record(db, taker, Response(b"{}", status=201))
        db.commit()
    [row] = stored_keys(app, key)
    assert row.claim_id == taker.claim_id


# Malformed keys


@pytest.mark.parametrize(
    "value",
    ["", "   ", "x" * 256, "has space", "naïve-ключ", 'with"quote', "back\\slash"],
    ids=["empty", "blank", "too-long", "space", "non-ascii", "quote", "backslash"],
)
def test_a_malformed_key_is_refused_before_any_work(client, app, world, as_user, value):
    body = building_payload("FT-IDEM-BAD", str(world.areas["G1"]))
    headers = {**as_user("gw1"), "Idempotency-Key": value.encode().decode("latin-1")}
    answer = client.post(BUILDINGS, json=body, headers=headers)
    assert_problem(answer, 400, "idempotency-key-invalid")
    assert count(app, Building, Building.code == "FT-IDEM-BAD") == 0
    assert count(app, IdempotencyKey) == 0


def test_two_keys_in_one_request_are_refused(client, app, world, as_user):
    body = building_payload("FT-IDEM-TWO", str(world.areas["G1"]))
    headers = [*as_user("gw1").items(), ("Idempotency-Key", "a-1"), ("Idempotency-Key", "a-2")]
    answer = client.post(BUILDINGS, json=body, headers=headers)
    assert_problem(answer, 400, "idempotency-key-invalid")
    assert count(app, Building, Building.code == "FT-IDEM-TWO") == 0


def test_the_quoted_form_of_the_draft_is_the_same_key(client, app, world, as_user):
    key = str(uuid.uuid4())
    body = building_payload("FT-IDEM-13", str(world.areas["G1"]))
    first = client.post(BUILDINGS, json=body, headers=keyed(as_user("gw1"), f'"{key}"'))
    again = client.post(BUILDINGS, json=body, headers=keyed(as_user("gw1"), key))
    assert first.status_code == 201
    assert_replay(first, again)
    longest = "k" * 255
    accepted = client.post(
        BUILDINGS,
        json=building_payload("FT-IDEM-14", str(world.areas["G1"])),
        headers=keyed(as_user("gw1"), longest),
    )
    assert accepted.status_code == 201


# Pruning


def test_prune_forgets_old_keys_and_keeps_young_ones(app, world):
    old = _claim(app, world.users["gw1"], "old", {}, claimed_ago=timedelta(hours=73))
    young = _claim(app, world.users["gw1"], "young", {}, claimed_ago=timedelta(hours=71))
    answered = _claim(
        app, world.users["gw1"], "answered", {}, claimed_ago=timedelta(hours=1), answered=True
    )
    result = app.test_cli_runner().invoke(args=["idempotency", "prune"])
    assert result.exit_code == 0, result.output
    assert "removed 1 " in result.output
    with app.extensions["fieldapi.sessionmaker"]() as db:
        left = set(db.scalars(select(IdempotencyKey.claim_id)))
    assert left == {young, answered}
    assert old not in left


def test_kept_hours_below_72_are_refused_by_the_settings(tmp_path):
    from fieldapi.config import Settings

    env = {"FIELDAPI_DATA_DIR": str(tmp_path), "FIELDAPI_SECRET_KEY": "k" * 40}
    assert Settings.from_env(env).idempotency_hours == 72
    assert Settings.from_env({**env, "FIELDAPI_IDEMPOTENCY_HOURS": "168"}).idempotency_hours == 168
    with pytest.raises(ValueError, match="FIELDAPI_IDEMPOTENCY_HOURS"):
        Settings.from_env({**env, "FIELDAPI_IDEMPOTENCY_HOURS": "24"})


# Every kind of POST


def test_inspection_create_and_submit_replay(client, app, field, as_user):
    body = field.inspection_body("mgr1")
    create_key, submit_key = str(uuid.uuid4()), str(uuid.uuid4())
    headers = as_user("mgr1")
    created = client.post("/api/v1/inspections", json=body, headers=keyed(headers, create_key))
    assert created.status_code == 201, created.get_json()
    assert_replay(
        created,
        client.post("/api/v1/inspections", json=body, headers=keyed(headers, create_key)),
    )
    assert count(app, Inspection, Inspection.id == uuid.UUID(body["id"])) == 1

    path = f"/api/v1/inspections/{body['id']}/submit"
    submitted = client.post(path, headers=keyed(headers, submit_key))
    assert submitted.status_code == 200, submitted.get_json()
    again = client.post(path, headers=keyed(headers, submit_key))
    assert_replay(submitted, again)
    submission_id = uuid.UUID(submitted.get_json()["submission_id"])
    assert count(app, SubmissionEvent, SubmissionEvent.submission_id == submission_id) == 1


def test_a_decision_is_replayed_not_decided_again(client, app, field, as_user):
    submitted = field.submitted("mgr1", failed=(PLAIN_ITEMS[0],))
    submission_id = submitted["submission_id"]
    etag = field.etag(submission_id)
    key = str(uuid.uuid4())
    headers = {**keyed(as_user("gw1"), key), "If-Match": etag}
    path = f"/api/v1/submissions/{submission_id}/decisions"

    decided = client.post(path, json={"decision": "approve"}, headers=headers)
    assert decided.status_code == 200, decided.get_json()
    again = client.post(path, json={"decision": "approve"}, headers=headers)

    assert_replay(decided, again)
    events = count(app, SubmissionEvent, SubmissionEvent.submission_id == uuid.UUID(submission_id))
    assert events == 2  # submit and one approve
    # The same retry under a new key is a new decision, on a submission that moved on.
    fresh = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    assert client.post(path, json={"decision": "approve"}, headers=fresh).status_code in (403, 412)


def test_photo_slot_and_completion_replay(client, app, field, as_user):
    headers = as_user("mgr1")
    data = small_jpeg(4242)
    photo_id = str(uuid.uuid4())
    slot_body = {"id": photo_id, "sha256": sha256(data), "size": len(data),
                 "content_type": "image/jpeg"}  # fmt: skip
    slot_key, complete_key = str(uuid.uuid4()), str(uuid.uuid4())
    slot = client.post("/api/v1/photos", json=slot_body, headers=keyed(headers, slot_key))
    assert slot.status_code == 201, slot.get_json()
    assert_replay(
        slot, client.post("/api/v1/photos", json=slot_body, headers=keyed(headers, slot_key))
    )
    assert count(app, Photo, Photo.id == uuid.UUID(photo_id)) == 1

    complete = f"/api/v1/photos/{photo_id}/complete"
    early = client.post(complete, headers=keyed(headers, complete_key))
    assert early.status_code == 409  # the bytes have not arrived: not kept
    assert stored_keys(app, complete_key) == []

    sent = field.photos.send(headers, slot.get_json()["upload"], data)
    assert sent.status in (200, 201, 204)
    done = client.post(complete, headers=keyed(headers, complete_key))
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["status"] == "verified"
    assert "Idempotent-Replayed" not in done.headers
    assert_replay(done, client.post(complete, headers=keyed(headers, complete_key)))


def test_hazard_report_and_rectification_replay(client, app, field, as_user):
    headers = as_user("officer1")
    report = {
        "id": str(uuid.uuid4()),
        "building_id": str(field.world.buildings["B1"]),
        "category": "electric_bikes",
        "severity": "major",
        "description": "E-bikes charging in the stairwell",
        "photo_ids": [field.photo("officer1")],
    }
    key = str(uuid.uuid4())
    reported = client.post("/api/v1/hazards", json=report, headers=keyed(headers, key))
    assert reported.status_code == 201, reported.get_json()
    assert_replay(
        reported, client.post("/api/v1/hazards", json=report, headers=keyed(headers, key))
    )
    assert count(app, Hazard, Hazard.id == uuid.UUID(report["id"])) == 1
    field.approve_all(reported.get_json()["submission_id"])

    manager = as_user("mgr1")
    fix = {"id": str(uuid.uuid4()), "note": "Bikes moved out", "photo_ids": [field.photo("mgr1")]}
    path = f"/api/v1/hazards/{report['id']}/rectifications"
    fix_key = str(uuid.uuid4())
    rectified = client.post(path, json=fix, headers=keyed(manager, fix_key))
    assert rectified.status_code == 201, rectified.get_json()
    assert_replay(rectified, client.post(path, json=fix, headers=keyed(manager, fix_key)))
    assert count(app, Rectification, Rectification.hazard_id == uuid.UUID(report["id"])) == 1


def test_logout_keeps_its_answer_and_the_ended_session_is_refused_on_retry(client, app, world):
    login = client.post(
        "/api/v1/auth/login",
        json={"username": "gw1", "password": world.password},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert login.status_code == 200
    tokens = login.get_json()
    key = str(uuid.uuid4())
    headers = keyed({"Authorization": f"Bearer {tokens['access_token']}"}, key)
    body = {"refresh_token": tokens["refresh_token"]}
    first = client.post("/api/v1/auth/logout", json=body, headers=headers)
    assert first.status_code == 204
    [row] = stored_keys(app, key)
    assert row.status_code == 204
    # The gate comes first: a token whose session ended opens nothing, not even a replay.
    again = client.post("/api/v1/auth/logout", json=body, headers=headers)
    assert_problem(again, 401, "token-revoked")


def test_sign_in_answers_hold_credentials_and_are_never_kept(client, app, world):
    key = str(uuid.uuid4())
    body = {"username": "gw1", "password": world.password}
    first = client.post("/api/v1/auth/login", json=body, headers={"Idempotency-Key": key})
    second = client.post("/api/v1/auth/login", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 200
    assert "Idempotent-Replayed" not in second.headers
    assert first.get_json()["access_token"] != second.get_json()["access_token"]
    assert count(app, IdempotencyKey) == 0
    refresh = client.post(
        "/api/v1/auth/refresh",
        headers={"Authorization": f"Bearer {second.get_json()['refresh_token']}",
                 "Idempotency-Key": key},
    )  # fmt: skip
    assert refresh.status_code == 200
    assert count(app, IdempotencyKey) == 0


def test_area_and_user_creation_replay(client, app, world, as_user):
    headers = as_user("admin")
    key = str(uuid.uuid4())
    area = {"name": "Shuiwei East", "kind": "grid", "parent_id": str(world.areas["Shuiwei"])}
    created = client.post("/api/v1/grids", json=area, headers=keyed(headers, key))
    assert created.status_code == 201, created.get_json()
    assert_replay(created, client.post("/api/v1/grids", json=area, headers=keyed(headers, key)))

    user_key = str(uuid.uuid4())
    user = {"username": "gw9", "password": "a long enough password", "role": "grid_staff",
            "area_ids": [created.get_json()["id"]]}  # fmt: skip
    made = client.post("/api/v1/users", json=user, headers=keyed(headers, user_key))
    assert made.status_code == 201, made.get_json()
    assert_replay(made, client.post("/api/v1/users", json=user, headers=keyed(headers, user_key)))
    listed = client.get("/api/v1/users", query_string={"q": "gw9"}, headers=headers)
    assert [u["username"] for u in listed.get_json()["items"]] == ["gw9"]


def test_other_methods_ignore_the_header(client, app, world, as_user):
    building_id = world.buildings["B1"]
    current = client.get(f"{BUILDINGS}/{building_id}", headers=as_user("gw1"))
    key = str(uuid.uuid4())
    patched = client.patch(
        f"{BUILDINGS}/{building_id}",
        json={"name": "Renamed B1"},
        headers={**keyed(as_user("gw1"), key), "If-Match": current.headers["ETag"]},
    )
    assert patched.status_code == 200, patched.get_json()
    assert stored_keys(app, key) == []


# Concurrency (PostgreSQL: claims seen across connections at once)


@pytest.fixture
def slow_app(settings, app):
    """A second app on the same database whose requests pause after the view, while they
    hold their claim and before they commit: the window a concurrent retry falls into."""
    slow = create_app(settings)
    gate = threading.Event()

    @slow.after_request  # registered last: runs first, before the answer is kept
    def _pause(response):
        gate.set()
        time.sleep(1.0)
        return response

    slow.extensions["test.paused"] = gate
    yield slow
    slow.extensions["fieldapi.engine"].dispose()


@pytest.mark.usefixtures("world")
def test_a_retry_during_the_first_request_is_told_to_wait_then_replays(
    backend, client, app, world, as_user, slow_app
):
    if backend != "server":
        pytest.skip("concurrent claims across connections: PostgreSQL")
    key = str(uuid.uuid4())
    body = building_payload("FT-IDEM-RACE", str(world.areas["G1"]))
    headers = keyed(as_user("gw1"), key)
    results = {}

    def first():
        results["first"] = slow_app.test_client().post(BUILDINGS, json=body, headers=headers)

    worker = threading.Thread(target=first)
    worker.start()
    assert slow_app.extensions["test.paused"].wait(10)
    during = client.post(BUILDINGS, json=body, headers=headers)
    worker.join(30)

    assert_problem(during, 409, "idempotency-in-progress")
    assert results["first"].status_code == 201
    after = client.post(BUILDINGS, json=body, headers=headers)
    assert_replay(results["first"], after)
    assert count(app, Building, Building.code == "FT-IDEM-RACE") == 1


def test_concurrent_identical_requests_do_the_work_once(backend, app, world, as_user):
    if backend != "server":
        pytest.skip("concurrent claims across connections: PostgreSQL")
    key = str(uuid.uuid4())
    body = building_payload("FT-IDEM-BARRIER", str(world.areas["G1"]))
    headers = keyed(as_user("gw1"), key)
    barrier = threading.Barrier(4)
    answers = []

    def send():
        client = app.test_client()
        barrier.wait()
        answers.append(client.post(BUILDINGS, json=body, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    statuses = sorted(a.status_code for a in answers)
    assert len(statuses) == 4
    fresh = [a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a.headers]
    assert len(fresh) == 1, statuses
    for other in answers:
        if other is fresh[0]:
            continue
        if other.status_code == 409:
            assert_problem(other, 409, "idempotency-in-progress")
        else:
            assert_replay(fresh[0], other)
    assert count(app, Building, Building.code == "FT-IDEM-BARRIER") == 1


def _claim(app, user_id, key, body, *, claimed_ago, answered=False):
    """A claim row as a request elsewhere left it; its claim id."""
    import json

    at = utcnow() - claimed_ago
    claim_id = uuid.uuid4()
    row = IdempotencyKey(
        user_id=user_id,
        key=key,
        method="POST",
        path=BUILDINGS,
        fingerprint=fingerprint(method="POST", path=BUILDINGS, body=json.dumps(body).encode()),
        claim_id=claim_id,
        claimed_at=at,
        created_at=at,
        status_code=201 if answered else None,
        response_headers={"Content-Type": "application/json"} if answered else None,
        response_body=b"{}" if answered else None,
        completed_at=at if answered else None,
    )
    with app.extensions["fieldapi.sessionmaker"]() as db:
        db.add(row)
        db.commit()
    return claim_id
