"""Record the example exchanges of the phone contract from the real app.

Builds a throwaway app (SQLite file and local photo folder in a temporary directory), loads
the test world (tests/support/world.py: a small district, one persona per role), plays the
exchanges of the contract as a phone would, and writes each one, request and answer, to a
JSON file beside this script. Run from the repository root:

    .venv/bin/python -m mobile_contract.examples.record

Every file holds ``{"title", "request": {"method", "path", "url"?, "query"?, "headers",
"body"? | "body_bytes"?},
"response": {"status", "headers", "body"?}}``. Ids, tokens and times are those of the run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import request

from fieldapi import create_app
from fieldapi.checklists.defaults import DEFAULT_ITEMS, ensure_defaults
from fieldapi.config import Settings
from fieldapi.core import migrate
from tests.photos.images import jpeg
from tests.support.world import build_world

HERE = Path(__file__).resolve().parent
REQUEST_HEADERS = ("Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key")
RESPONSE_HEADERS = (
    "Content-Type",
    "ETag",
    "Location",
    "Retry-After",
    "Allow",
    "Idempotent-Replayed",
)
API = "/api/v1"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


class Recorder:
    """Sends requests to the app through its test client, writing the chosen ones down."""

    def __init__(self, app, out: Path) -> None:
        self.app = app
        self.client = app.test_client()
        self.out = out
        self.names: list[str] = []
        self._addresses = iter(range(1, 250))

    def send(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        data: bytes | None = None,
        query: dict[str, Any] | None = None,
        address: str | None = None,
    ) -> Answer:
        kwargs: dict[str, Any] = {"headers": dict(headers or {}), "query_string": query}
        if body is not None:
            kwargs["json"] = body
        elif data is not None:
            kwargs["data"] = data
        if address:
            kwargs["environ_base"] = {"REMOTE_ADDR": address}
        response = self.client.open(path, method=method, **kwargs)
        parsed = response.get_json(silent=True) if response.data else None
        return Answer(response.status_code, dict(response.headers), parsed)

    def record(self, name: str, title: str, method: str, path: str, **kwargs: Any) -> Answer:
        """Send the request and write the exchange to ``<name>.json``."""
        answer = self.send(method, path, **kwargs)
        headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k in REQUEST_HEADERS}
        request: dict[str, Any] = {"method": method, "path": urlsplit(path).path}
        if urlsplit(path).netloc:
            request["url"] = path
        if kwargs.get("query"):
            request["query"] = {k: str(v) for k, v in kwargs["query"].items()}
        if kwargs.get("body") is not None:
            headers.setdefault("Content-Type", "application/json")
        if kwargs.get("data") is not None:
            request["body_bytes"] = len(kwargs["data"])
        request["headers"] = headers
        if kwargs.get("body") is not None:
            request["body"] = kwargs["body"]
        response: dict[str, Any] = {
            "status": answer.status,
            "headers": {k: v for k, v in answer.headers.items() if k in RESPONSE_HEADERS},
        }
        if answer.body is not None:
            response["body"] = answer.body
        exchange = {"title": title, "request": request, "response": response}
        target = self.out / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(exchange, indent=2, ensure_ascii=False, default=str) + "\n")
        self.names.append(name)
        return answer

    # Unrecorded steps the examples need

    def login(self, username: str, password: str) -> dict[str, Any]:
        address = f"10.30.0.{next(self._addresses)}"
        answer = self.send(
            "POST",
            f"{API}/auth/login",
            body={"username": username, "password": password},
            address=address,
        )
        assert answer.status == 200, answer.body
        return answer.body

    def photo(self, headers: dict[str, str], seed: int) -> str:
        """A verified photo, uploaded and completed the way its slot says."""
        data = jpeg(160, 120, seed=seed)
        slot = self.send("POST", f"{API}/photos", headers=headers, body=_slot_body(data))
        assert slot.status == 201, slot.body
        upload = slot.body["upload"]
        sent = self.send(
            upload["method"], upload["url"], headers={**headers, **upload["headers"]}, data=data
        )
        assert sent.status in (200, 201, 204), sent.body
        done = self.send("POST", f"{API}/photos/{slot.body['id']}/complete", headers=headers)
        assert done.status == 200, done.body
        return slot.body["id"]


def _slot_body(data: bytes) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "content_type": "image/jpeg",
    }


def _bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _recent(minutes: int = 10) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


HOLD_HEADER = "X-Example-Hold"


class Hold:
    """Keeps a request that carries ``HOLD_HEADER`` waiting once its Idempotency-Key is
    claimed, as a request whose answer is slow in coming, so that the retry meeting it can
    be recorded. Requests without the header pass."""

    def __init__(self) -> None:
        self.claimed = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        if request.headers.get(HOLD_HEADER):
            self.claimed.set()
            self.release.wait(timeout=30)


def make_app(workdir: Path):
    settings = Settings(
        data_dir=workdir / "data",
        database_url=f"sqlite:///{workdir / 'fieldapi.db'}",
        storage_url=(workdir / "blobs").as_uri(),
        s3_endpoint_url=None,
        s3_region=None,
        secret_key="examples-secret-" + "x" * 40,
        public_url=None,
        redis_url=None,
        argon2_time_cost=1,
        argon2_memory_kib=8192,
    )
    for folder in (settings.data_dir, workdir / "blobs"):
        folder.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    # After the app's own hooks: the sign-in check and the Idempotency-Key claim come first.
    app.extensions["examples.hold"] = hold = Hold()
    app.before_request(hold)
    migrate.upgrade(app.extensions["fieldapi.engine"])
    with app.extensions["fieldapi.sessionmaker"]() as db:
        ensure_defaults(db)
        db.commit()
    return app


def sessions(rec: Recorder, world) -> dict[str, dict[str, str]]:
    password = world.password
    login = rec.record(
        "sessions/login",
        "Sign in: tokens and the signed-in user",
        "POST",
        f"{API}/auth/login",
        body={"username": "gw1", "password": password},
        address="10.30.1.1",
    )
    rec.record(
        "sessions/login-wrong-password",
        "Wrong password (an unknown username gets the same answer)",
        "POST",
        f"{API}/auth/login",
        body={"username": "gw1", "password": "not the password"},
        address="10.30.1.2",
    )
    for _ in range(rec.app.extensions["fieldapi.settings"].login_failures_per_username):
        rec.send(
            "POST",
            f"{API}/auth/login",
            body={"username": "gw9", "password": "guess"},
            address="10.30.1.3",
        )
    rec.record(
        "sessions/login-throttled",
        "Too many failed attempts for this username: wait as Retry-After says",
        "POST",
        f"{API}/auth/login",
        body={"username": "gw9", "password": "guess again"},
        address="10.30.1.3",
    )
    refreshed = rec.record(
        "sessions/refresh",
        "Exchange the refresh token for new tokens; the old refresh token stops working",
        "POST",
        f"{API}/auth/refresh",
        headers={"Authorization": f"Bearer {login.body['refresh_token']}"},
    )
    rec.record(
        "sessions/me",
        "Who am I: role and scope",
        "GET",
        f"{API}/me",
        headers=_bearer(refreshed.body),
    )
    rec.record(
        "sessions/logout",
        "Sign out: both tokens stop working",
        "POST",
        f"{API}/auth/logout",
        headers=_bearer(refreshed.body),
        body={"refresh_token": refreshed.body["refresh_token"]},
    )
    return {name: _bearer(rec.login(name, password)) for name in world.users}


def areas_and_users(rec: Recorder, world, as_user) -> None:
    admin = as_user["admin"]
    community = rec.record(
        "areas-and-users/create-community",
        "Create a community under a street",
        "POST",
        f"{API}/areas",
        headers=admin,
        body={"name": "Futian Port", "kind": "community", "parent_id": str(world.areas["Shahe"])},
    )
    rec.record(
        "areas-and-users/create-grid",
        "Create a grid with its boundary (GeoJSON Polygon, lon/lat)",
        "POST",
        f"{API}/areas",
        headers=admin,
        body={
            "name": "G5",
            "kind": "grid",
            "parent_id": community.body["id"],
            "boundary": {
                "type": "Polygon",
                "coordinates": [
                    [[114.060, 22.525], [114.066, 22.525], [114.066, 22.531], [114.060, 22.525]]
                ],
            },
        },
    )
    rec.record(
        "areas-and-users/create-user",
        "Create a grid staff account with its grid",
        "POST",
        f"{API}/users",
        headers=admin,
        body={
            "username": "gw5",
            "password": "a long enough passphrase",
            "role": "grid_staff",
            "area_ids": [str(world.areas["G2"])],
            "building_ids": [],
        },
    )
    rec.record(
        "areas-and-users/create-user-forbidden",
        "A grid staff member may not create accounts",
        "POST",
        f"{API}/users",
        headers=as_user["gw1"],
        body={"username": "gw6", "password": "a long enough passphrase", "role": "grid_staff"},
    )


def building_file(rec: Recorder, world, as_user) -> None:
    gw1 = as_user["gw1"]
    building_id = str(uuid.uuid4())
    created = rec.record(
        "building-file/create",
        "Create a building file (the id chosen by the phone)",
        "POST",
        f"{API}/buildings",
        headers=gw1,
        body={
            "id": building_id,
            "code": "FT-SW-0012",
            "name": "Shuiwei Lane 12",
            "address": "12 Shuiwei Lane, Futian",
            "grid_id": str(world.areas["G1"]),
            "location": {"lat": 22.528, "lon": 114.063},
            "use_type": "residential",
            "floors_above": 9,
        },
    )
    url = f"{API}/buildings/{building_id}"
    read = rec.record("building-file/read", "Read a building file", "GET", url, headers=gw1)
    rec.record(
        "building-file/read-not-modified",
        "Read again with If-None-Match: not modified",
        "GET",
        url,
        headers={**gw1, "If-None-Match": read.headers["ETag"]},
    )
    rec.record(
        "building-file/read-out-of-scope",
        "A building outside the caller's grids is not found",
        "GET",
        f"{API}/buildings/{world.buildings['B4']}",
        headers=gw1,
    )
    rec.record(
        "building-file/update-without-if-match",
        "A change without If-Match is refused",
        "PATCH",
        url,
        headers=gw1,
        body={"floors_above": 10},
    )
    updated = rec.record(
        "building-file/update",
        "Change the file with the ETag it was read with",
        "PATCH",
        url,
        headers={**gw1, "If-Match": created.headers["ETag"]},
        body={"floors_above": 10},
    )
    assert updated.status == 200, updated.body
    rec.record(
        "building-file/update-stale",
        "A change made with an ETag that is no longer current is refused",
        "PATCH",
        url,
        headers={**gw1, "If-Match": created.headers["ETag"]},
        body={"floors_above": 11},
    )
    first = rec.record(
        "building-file/list",
        "List the buildings of a grid, a page at a time",
        "GET",
        f"{API}/buildings",
        headers=gw1,
        query={"grid_id": str(world.areas["G1"]), "limit": 1},
    )
    rec.record(
        "building-file/list-next-page",
        "The next page: pass next_cursor back as given",
        "GET",
        f"{API}/buildings",
        headers=gw1,
        query={"grid_id": str(world.areas["G1"]), "limit": 1, "cursor": first.body["next_cursor"]},
    )


def photos(rec: Recorder, as_user) -> None:
    gw1 = as_user["gw1"]
    data = jpeg(640, 480, seed=7)
    slot_body = _slot_body(data)
    slot = rec.record(
        "photos/slot",
        "Ask for an upload slot, naming the photo's hash and size",
        "POST",
        f"{API}/photos",
        headers=gw1,
        body=slot_body,
    )
    upload = slot.body["upload"]
    rec.record(
        "photos/upload",
        "Send the bytes as the slot says (here the API's own URL, with the bearer token)",
        upload["method"],
        upload["url"],
        headers={**gw1, **upload["headers"]},
        data=data,
    )
    photo_url = f"{API}/photos/{slot.body['id']}"
    rec.record(
        "photos/complete",
        "Complete the upload: the photo is verified",
        "POST",
        f"{photo_url}/complete",
        headers=gw1,
    )
    rec.record("photos/read", "Read a photo", "GET", photo_url, headers=gw1)
    rec.record(
        "photos/read-not-visible",
        "Before it is attached to a record, only its uploader (and admins) see a photo",
        "GET",
        photo_url,
        headers=as_user["officer1"],
    )
    sent = jpeg(640, 480, seed=8)
    declared = {**_slot_body(sent), "sha256": hashlib.sha256(b"other bytes").hexdigest()}
    other = rec.send("POST", f"{API}/photos", headers=gw1, body=declared)
    assert other.status == 201, other.body
    upload = other.body["upload"]
    rec.send(upload["method"], upload["url"], headers={**gw1, **upload["headers"]}, data=sent)
    rec.record(
        "photos/complete-mismatch",
        "Bytes that do not match the declared sha256 or size are refused and removed",
        "POST",
        f"{API}/photos/{other.body['id']}/complete",
        headers=gw1,
    )


def _results(rec: Recorder, headers: dict[str, str], failed: str) -> list[dict[str, Any]]:
    items = []
    for seed, item in enumerate(DEFAULT_ITEMS, start=100):
        entry: dict[str, Any] = {"code": item["code"], "result": "pass"}
        if item["code"] == failed:
            entry.update(result="fail", note="Two e-bikes charging in the stairwell")
        if item["photo_required"]:
            entry["photo_ids"] = [rec.photo(headers, seed)]
        items.append(entry)
    return items


def field_work(rec: Recorder, world, as_user) -> None:
    mgr1, gw1 = as_user["mgr1"], as_user["gw1"]
    rec.record(
        "field-work/templates",
        "The current checklist for residential buildings",
        "GET",
        f"{API}/templates",
        headers=mgr1,
        query={"use_type": "residential"},
    )
    failing = next(i["code"] for i in DEFAULT_ITEMS if not i["photo_required"])
    inspection = {
        "id": str(uuid.uuid4()),
        "building_id": str(world.buildings["B1"]),
        "kind": "self_check",
        "performed_at": _recent(),
        "location": {"lat": 22.528, "lon": 114.063},
        "items": _results(rec, mgr1, failing),
    }
    rec.record(
        "field-work/inspection-create",
        "Record a self-check (a draft; the current template is used)",
        "POST",
        f"{API}/inspections",
        headers=mgr1,
        body=inspection,
    )
    submitted = rec.record(
        "field-work/inspection-submit",
        "Submit it for review: the failed item becomes a hazard",
        "POST",
        f"{API}/inspections/{inspection['id']}/submit",
        headers=mgr1,
    )
    submission_url = f"{API}/submissions/{submitted.body['submission_id']}"
    hazards = rec.record(
        "field-work/hazards",
        "Open hazards of a building",
        "GET",
        f"{API}/hazards",
        headers=mgr1,
        query={"building_id": str(world.buildings["B1"]), "status": "open"},
    )
    current = rec.record(
        "field-work/submission", "A submission and its history", "GET", submission_url, headers=gw1
    )
    decisions = f"{submission_url}/decisions"
    rec.record(
        "field-work/decision-without-if-match",
        "A decision without If-Match is refused",
        "POST",
        decisions,
        headers=gw1,
        body={"decision": "approve"},
    )
    rec.record(
        "field-work/decision-wrong-role",
        "A fire office does not decide at the grid review stage",
        "POST",
        decisions,
        headers={**as_user["office1"], "If-Match": current.headers["ETag"]},
        body={"decision": "approve"},
    )
    rec.record(
        "field-work/decision-not-allowed",
        "Reopening a submission that is still open is not a decision this stage allows",
        "POST",
        decisions,
        headers={**gw1, "If-Match": current.headers["ETag"]},
        body={"decision": "reopen", "reason": "Look again"},
    )
    approved = rec.record(
        "field-work/decision",
        "Approve at grid review: the submission moves on",
        "POST",
        decisions,
        headers={**gw1, "If-Match": current.headers["ETag"]},
        body={"decision": "approve", "reason": "Checked on site"},
    )
    assert approved.status == 200, approved.body
    rec.record(
        "field-work/decision-stale",
        "A decision made on a submission that changed since it was read is refused",
        "POST",
        decisions,
        headers={**as_user["office1"], "If-Match": current.headers["ETag"]},
        body={"decision": "approve"},
    )
    hazard = hazards.body["items"][0]
    rec.record(
        "field-work/rectification",
        "Report the hazard rectified, with a photo of the result",
        "POST",
        f"{API}/hazards/{hazard['id']}/rectifications",
        headers=mgr1,
        body={
            "id": str(uuid.uuid4()),
            "note": "Bikes moved out, socket removed",
            "photo_ids": [rec.photo(mgr1, 300)],
        },
    )
    rec.record("field-work/inbox", "What awaits the caller", "GET", f"{API}/inbox", headers=gw1)
    rec.record(
        "field-work/timeline",
        "Everything that happened to a building, newest first",
        "GET",
        f"{API}/buildings/{world.buildings['B1']}/timeline",
        headers=gw1,
    )


def errors(rec: Recorder, world, as_user) -> None:
    gw1 = as_user["gw1"]
    rec.record(
        "errors/validation",
        "Invalid fields: each one named by a JSON Pointer",
        "POST",
        f"{API}/buildings",
        headers=gw1,
        body={"code": "FT-SW-0013", "grid_id": "not-a-uuid", "location": {"lat": 123}},
    )
    rec.record(
        "errors/unknown-query-parameter",
        "A query parameter the operation does not take is refused",
        "GET",
        f"{API}/buildings",
        headers=gw1,
        query={"grid": str(world.areas["G1"])},
    )
    rec.record(
        "errors/bad-cursor",
        "A cursor that was not given by the server",
        "GET",
        f"{API}/buildings",
        headers=gw1,
        query={"cursor": "not-a-cursor"},
    )
    rec.record("errors/unauthenticated", "No bearer token", "GET", f"{API}/me")
    rec.record(
        "errors/method-not-allowed", "A method the address does not take", "DELETE", f"{API}/me",
        headers=gw1,
    )  # fmt: skip
    rec.record(
        "errors/unsupported-media-type",
        "A body that is not JSON",
        "POST",
        f"{API}/buildings",
        headers={**gw1, "Content-Type": "text/plain"},
        data=b"code=FT-SW-0014",
    )
    limit = rec.app.extensions["fieldapi.settings"].max_request_bytes
    rec.record(
        "errors/payload-too-large",
        "A body over the request size limit",
        "POST",
        f"{API}/buildings",
        headers={**gw1, "Content-Type": "application/json"},
        data=b'{"code": "' + b"x" * limit + b'"}',
    )


def offline(rec: Recorder, world, as_user) -> None:
    gw1 = as_user["gw1"]
    key = str(uuid.uuid4())
    hazard = {
        "id": str(uuid.uuid4()),
        "building_id": str(world.buildings["B1"]),
        "category": "electric_bikes",
        "severity": "major",
        "description": "E-bike charging in the lobby",
        "photo_ids": [rec.photo(gw1, 400)],
    }
    keyed = {**gw1, "Idempotency-Key": key}
    rec.record(
        "offline/idempotency-first",
        "A POST with an Idempotency-Key: the work is done and the answer kept",
        "POST",
        f"{API}/hazards",
        headers=keyed,
        body=hazard,
    )
    rec.record(
        "offline/idempotency-replay",
        "The retry with the same key and body replays the first answer",
        "POST",
        f"{API}/hazards",
        headers=keyed,
        body=hazard,
    )
    rec.record(
        "offline/idempotency-key-reused",
        "The same key with another body is refused",
        "POST",
        f"{API}/hazards",
        headers=keyed,
        body={**hazard, "description": "Something else"},
    )
    _in_progress(rec, world, gw1)
    building = {
        "id": str(uuid.uuid4()),
        "code": "FT-SW-0020",
        "name": "Shuiwei Lane 20",
        "address": "20 Shuiwei Lane, Futian",
        "grid_id": str(world.areas["G1"]),
        "location": {"lat": 22.5281, "lon": 114.0632},
        "use_type": "residential",
    }
    created = rec.send("POST", f"{API}/buildings", headers=gw1, body=building)
    assert created.status == 201, created.body
    rec.record(
        "offline/client-id-replay",
        "Creating again an object whose client id exists, with the same content: the stored one",
        "POST",
        f"{API}/buildings",
        headers=gw1,
        body=building,
    )
    rec.record(
        "offline/client-id-conflict",
        "The same client id with other content is refused",
        "POST",
        f"{API}/buildings",
        headers=gw1,
        body={**building, "name": "Another building"},
    )


def _in_progress(rec: Recorder, world, gw1: dict[str, str]) -> None:
    """A phone retries while its first request is still being answered."""
    hazard = {
        "id": str(uuid.uuid4()),
        "building_id": str(world.buildings["B1"]),
        "category": "evacuation",
        "severity": "critical",
        "description": "Bicycles stored on the stair landing",
        "photo_ids": [rec.photo(gw1, 401)],
    }
    keyed = {**gw1, "Idempotency-Key": str(uuid.uuid4())}
    hold: Hold = rec.app.extensions["examples.hold"]
    answers: list[int] = []
    first = threading.Thread(
        target=lambda: answers.append(
            rec.app.test_client()
            .post(f"{API}/hazards", json=hazard, headers={**keyed, HOLD_HEADER: "1"})
            .status_code
        )
    )
    first.start()
    try:
        assert hold.claimed.wait(timeout=30), "the first request never claimed its key"
        rec.record(
            "offline/idempotency-in-progress",
            "A retry while the first request is still running: try again after Retry-After",
            "POST",
            f"{API}/hazards",
            headers=keyed,
            body=hazard,
        )
    finally:
        hold.release.set()
        first.join(timeout=60)
    assert answers == [201], answers
    replayed = rec.send("POST", f"{API}/hazards", headers=keyed, body=hazard)
    assert replayed.status == 201, replayed.body
    assert replayed.headers.get("Idempotent-Replayed") == "true"


def sync(rec: Recorder, as_user) -> None:
    gw1 = as_user["gw1"]
    first = rec.record(
        "offline/sync-first",
        "First sync: everything in the caller's scope, a page at a time",
        "GET",
        f"{API}/sync",
        headers=gw1,
        query={"limit": 50},
    )
    assert first.status == 200, first.body
    cursor = first.body["next_cursor"]
    while first.body.get("has_more"):
        first = rec.send("GET", f"{API}/sync", headers=gw1, query={"limit": 50, "cursor": cursor})
        cursor = first.body["next_cursor"]
    building = rec.send("GET", f"{API}/buildings", headers=gw1).body["items"][0]
    url = f"{API}/buildings/{building['id']}"
    etag = rec.send("GET", url, headers=gw1).headers["ETag"]
    changed = rec.send(
        "PATCH",
        url,
        headers={**gw1, "If-Match": etag},
        body={"name": building["name"] + " (east wing)"},
    )
    assert changed.status == 200, changed.body
    rec.record(
        "offline/sync-delta",
        "Later: only what changed since the cursor",
        "GET",
        f"{API}/sync",
        headers=gw1,
        query={"limit": 50, "cursor": cursor},
    )


def record_all(out: Path = HERE) -> list[str]:
    """Play every exchange against a fresh app; the names of the files written."""
    for old in out.rglob("*.json"):
        old.unlink()
    workdir = Path(tempfile.mkdtemp(prefix="fieldapi-examples-"))
    try:
        app = make_app(workdir)
        world = build_world(app)
        rec = Recorder(app, out)
        as_user = sessions(rec, world)
        areas_and_users(rec, world, as_user)
        building_file(rec, world, as_user)
        photos(rec, as_user)
        field_work(rec, world, as_user)
        offline(rec, world, as_user)
        if any(rule.rule == f"{API}/sync" for rule in app.url_map.iter_rules()):
            sync(rec, as_user)
        errors(rec, world, as_user)
        app.extensions["fieldapi.engine"].dispose()
        return rec.names
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    names = record_all()
    print(f"{len(names)} exchanges written to {HERE}")
