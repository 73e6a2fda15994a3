"""The reference phone client's own logic: what it retries and how long it waits, the
outbox that survives a restart, and how a flush treats each kind of answer. The server here
is a real loopback HTTP server playing a script (tests/e2e/scripted_server.py)."""

from __future__ import annotations

import random
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from mobile_contract.client import Backoff, Phone, Store, parse_retry_after, should_retry
from mobile_contract.client.api import Unreachable
from tests.e2e.scripted_server import RESET, ScriptedServer, answer, problem

TOKENS = {"access_token": "access-1", "refresh_token": "refresh-1", "expires_in": 900}
USER = {"id": str(uuid.uuid4()), "username": "mgr1", "role": "building_manager"}


@pytest.fixture
def server():
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make_phone(folder, url, sleeps, attempts=5) -> Phone:
    backoff = Backoff(base=0.01, cap=0.05, attempts=attempts, rng=random.Random(7))
    return Phone(folder, url, backoff=backoff, timeout=(1.0, 2.0), sleep=sleeps.append)


def signed_in(folder, server, sleeps, **kwargs) -> Phone:
    phone = make_phone(folder, server.url, sleeps, **kwargs)
    server.play(answer(200, {**TOKENS, "user": USER}))
    phone.sign_in("mgr1", "pw")
    return phone


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- what is retried, and when


@pytest.mark.parametrize(
    ("status", "slug", "retried"),
    [
        (429, "too-many-requests", True),
        (503, "service-unavailable", True),
        (500, "internal-error", True),
        (502, None, True),
        (504, None, True),
        (409, "idempotency-in-progress", True),
        (409, "conflict", False),
        (400, "malformed-request", False),
        (403, "forbidden", False),
        (404, "not-found", False),
        (412, "precondition-failed", False),
        (422, "validation-failed", False),
        (422, "idempotency-key-reused", False),
        (428, "precondition-required", False),
    ],
)
def test_only_not_now_answers_are_retried(status, slug, retried):
    assert should_retry(status, slug) is retried


def test_backoff_grows_exponentially_to_its_cap_with_full_jitter():
    backoff = Backoff(base=0.5, cap=4.0, rng=random.Random(1))
    assert [backoff.bound(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    delays = [backoff.delay(3) for _ in range(2000)]
    assert all(0 <= d <= 2.0 for d in delays)
    # Full jitter spreads retries over the whole window, not near its top.
    assert min(delays) < 0.1
    assert max(delays) > 1.9
    assert 0.9 < sum(delays) / len(delays) < 1.1


def test_backoff_is_reproducible_with_a_seed():
    first = [Backoff(rng=random.Random(42)).delay(n) for n in range(1, 6)]
    again = [Backoff(rng=random.Random(42)).delay(n) for n in range(1, 6)]
    assert first == again


def test_retry_after_is_a_floor_under_the_jitter():
    backoff = Backoff(base=0.1, cap=0.2, rng=random.Random(3))
    assert all(backoff.delay(2, retry_after=5.0) == 5.0 for _ in range(50))


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now) == 30.0
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# ---------------------------------------------------------------- the outbox on disk


def test_queued_writes_survive_a_restart_in_order_with_their_keys(tmp_path, sleeps):
    phone = make_phone(tmp_path, "http://127.0.0.1:9", sleeps)
    photo = phone.take_photo(b"\xff\xd8 not really a jpeg")
    inspection = phone.record_inspection(
        building_id=str(uuid.uuid4()),
        kind="self_check",
        items=[{"code": "EXT-01", "result": "pass", "photo_ids": [photo]}],
    )
    phone.submit_inspection(inspection)
    before = phone.outbox("pending")
    phone.close()

    again = Phone(tmp_path)  # the server URL was remembered
    after = again.outbox("pending")
    assert [(w.seq, w.key, w.path, w.body) for w in after] == [
        (w.seq, w.key, w.path, w.body) for w in before
    ]
    assert [w.object_id for w in after] == [photo, inspection, inspection]
    assert after[1].body["items"][0]["photo_ids"] == [photo]
    # The photo's bytes are kept on the phone until the server has verified them.
    assert (tmp_path / "photos" / photo).read_bytes() == b"\xff\xd8 not really a jpeg"
    assert len({w.key for w in after}) == 3
    again.close()


def test_a_sync_page_is_stored_with_its_cursor_or_not_at_all(tmp_path):
    store = Store(tmp_path / "phone.sqlite3")
    store.apply_page({"buildings": {"upserted": [{"id": "b1", "name": "one"}]}}, "c1")
    with pytest.raises(KeyError):
        store.apply_page(
            {"buildings": {"upserted": [{"id": "b2"}, {"name": "no id"}], "deleted": ["b1"]}},
            "c2",
        )
    assert store.setting("sync_cursor") == "c1"
    assert store.objects("buildings") == {"b1": {"id": "b1", "name": "one"}}
    store.apply_page({"buildings": {"upserted": [], "deleted": ["b1"]}}, "c3")
    assert store.objects("buildings") == {}
    assert store.setting("sync_cursor") == "c3"


# ---------------------------------------------------------------- flushing


def test_a_write_is_retried_with_the_same_key_until_it_lands(tmp_path, server, sleeps):
    phone = signed_in(tmp_path, server, sleeps)
    hazard = phone.report_hazard(
        building_id=str(uuid.uuid4()),
        category="electric_bikes",
        severity="major",
        description="bikes in the stairwell",
        photo_ids=[str(uuid.uuid4())],
    )
    server.play(
        problem(503, "service-unavailable", Retry_After="2"),
        RESET,
        problem(409, "idempotency-in-progress"),
        answer(201, {"id": hazard, "status": "open"}, Idempotent_Replayed="true"),
    )
    report = phone.flush()
    assert report.complete
    sent = [s for s in server.seen if s.path == "/api/v1/hazards"]
    assert len(sent) == 4
    keys = {s.headers["Idempotency-Key"] for s in sent}
    assert keys == {phone.outbox()[0].key}
    assert all(s.json()["id"] == hazard for s in sent)
    assert sleeps[0] == 2.0  # Retry-After honoured
    assert len(sleeps) == 3
    assert phone.api.counters.replays == 1
    assert phone.api.counters.in_progress == 1
    assert phone.api.counters.network_errors == 1
    (seen_5xx,) = phone.api.counters.server_errors
    assert seen_5xx.startswith("POST /api/v1/hazards 503 ")
    (done,) = phone.outbox("done")
    assert done.status == 201
    assert done.answer == {"id": hazard, "status": "open"}


def test_a_refused_write_is_kept_with_the_problem_and_the_flush_goes_on(tmp_path, server, sleeps):
    phone = signed_in(tmp_path, server, sleeps)
    first = phone.rectify(str(uuid.uuid4()), note="done", photo_ids=[str(uuid.uuid4())])
    second = phone.rectify(str(uuid.uuid4()), note="done too", photo_ids=[str(uuid.uuid4())])
    server.play(problem(422, "validation-failed"), answer(201, {"id": second}))
    report = phone.flush()
    assert report.complete
    assert [w.object_id for w in report.rejected] == [first]
    assert [w.object_id for w in report.acknowledged] == [second]
    assert len([s for s in server.seen if "rectifications" in s.path]) == 2  # no retry of 422
    assert sleeps == []
    (rejected,) = phone.outbox("rejected")
    assert rejected.status == 422
    assert rejected.answer["type"].endswith("/validation-failed")


def test_offline_the_flush_stops_and_keeps_everything_in_order(tmp_path, server, sleeps):
    dead = f"http://127.0.0.1:{free_port()}"
    phone = make_phone(tmp_path, dead, sleeps, attempts=3)
    # Signed in earlier: the session is on the phone.
    phone.store.set_setting(
        "tokens",
        {"access_token": "access-1", "refresh_token": "refresh-1", "expires_at": time.time() + 900},
    )
    phone.close()
    phone = make_phone(tmp_path, dead, sleeps, attempts=3)
    first = phone.record_inspection(building_id=str(uuid.uuid4()), kind="patrol", items=[])
    phone.submit_inspection(first)
    report = phone.flush()
    assert not report.complete
    assert "gave up after 3 attempts" in report.stopped
    assert [w.object_id for w in phone.outbox("pending")] == [first, first]
    assert [w.tries for w in phone.outbox("pending")] == [1, 0]  # the second was not tried
    keys = [w.key for w in phone.outbox("pending")]
    phone.close()

    # Back in signal, after a restart: the same writes with the same keys, in order.
    back = make_phone(tmp_path, server.url, sleeps)
    server.play(answer(201, {"id": first}), answer(200, {"id": first, "stage": "grid_review"}))
    report = back.flush()
    assert report.complete
    assert [s.path for s in server.seen] == [
        "/api/v1/inspections",
        f"/api/v1/inspections/{first}/submit",
    ]
    assert [s.headers["Idempotency-Key"] for s in server.seen] == keys
    assert all(s.headers["Authorization"] == "Bearer access-1" for s in server.seen)
    assert [w.state for w in back.outbox()] == ["done", "done"]


def test_an_expired_token_is_refreshed_and_a_refused_refresh_signs_in_again(
    tmp_path, server, sleeps
):
    phone = signed_in(tmp_path, server, sleeps)
    phone.decide(str(uuid.uuid4()), "approve", etag='"v1"')
    phone.decide(str(uuid.uuid4()), "approve", etag='"v2"')
    refreshed = {"access_token": "access-2", "refresh_token": "refresh-2", "expires_in": 900}
    server.play(
        problem(401, "token-expired"),
        answer(200, refreshed),
        answer(200, {"stage": "office_review"}),
        problem(401, "token-revoked"),
        problem(401, "token-revoked"),  # the refresh token too: the session was ended
        answer(200, {**TOKENS, "access_token": "access-3", "user": USER}),
        answer(200, {"stage": "closed"}),
    )
    report = phone.flush()
    assert report.complete, report.stopped
    assert [w.status for w in report.acknowledged] == [200, 200]
    paths = [(s.path, s.headers.get("Authorization")) for s in server.seen[1:]]
    decision = paths[0][0]
    assert paths[1] == ("/api/v1/auth/refresh", "Bearer refresh-1")
    assert paths[2] == (decision, "Bearer access-2")
    assert paths[5] == ("/api/v1/auth/login", None)
    assert server.seen[6].json() == {"username": "mgr1", "password": "pw"}
    assert paths[6][1] == "Bearer access-3"
    assert server.seen[1].headers["If-Match"] == '"v1"'
    assert server.seen[7].headers["If-Match"] == '"v2"'
    # The new session is kept for the next start; the password never is.
    assert phone.store.setting("tokens")["access_token"] == "access-3"
    assert "pw" not in (tmp_path / "phone.sqlite3").read_bytes().decode("latin-1")


def test_a_server_asking_for_a_long_wait_stops_the_flush(tmp_path, server, sleeps):
    phone = signed_in(tmp_path, server, sleeps)
    phone.record_inspection(building_id=str(uuid.uuid4()), kind="patrol", items=[])
    server.play(problem(429, "too-many-requests", Retry_After="900"))
    report = phone.flush()
    assert "asks to wait 900 s" in report.stopped
    assert sleeps == []
    assert len(phone.outbox("pending")) == 1


def test_gives_up_for_now_after_the_attempts(tmp_path, server, sleeps):
    phone = signed_in(tmp_path, server, sleeps, attempts=4)
    phone.record_inspection(building_id=str(uuid.uuid4()), kind="patrol", items=[])
    server.play(RESET, RESET, RESET, RESET)
    with pytest.raises(Unreachable):
        phone.api.send("POST", "/api/v1/inspections", json={})
    assert len(sleeps) == 3
    assert all(0 <= s <= 0.05 for s in sleeps)
