"""Offline: Idempotency-Key replays and refusals (a retry in progress among them), creates
again under a client id, and sync from the first page to a later delta."""

from __future__ import annotations

import threading
import uuid

from mobile_contract.examples.recorder import API, Recorder
from mobile_contract.examples.recording_app import HOLD_HEADER, Hold


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
