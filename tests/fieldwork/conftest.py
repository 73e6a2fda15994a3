"""Field work through the API, as the phones do it: photos, inspections, hazards, decisions.

``field`` speaks for every persona of the test world (tests/support/world.py): mgr1 manages
B1 in grid G1; gw1 reviews G1; office1 and police1 cover G1-G3; officer1 patrols G1 and G2.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from fieldapi.checklists.defaults import DEFAULT_ITEMS, ensure_defaults
from tests.photos.conftest import PhotoClient, assert_problem, small_jpeg

__all__ = ["assert_problem"]

PHOTO_ITEMS = [item["code"] for item in DEFAULT_ITEMS if item["photo_required"]]
PLAIN_ITEMS = [item["code"] for item in DEFAULT_ITEMS if not item["photo_required"]]
SEVERITY = {item["code"]: item["severity"] for item in DEFAULT_ITEMS}
REVIEWER = {"grid_review": "gw1", "office_review": "office1", "police_review": "police1"}
_seeds = itertools.count(1000)


def now_iso(minutes_ago: int = 5) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


class Field:
    def __init__(self, client, app, world, as_user) -> None:
        self.client = client
        self.app = app
        self.world = world
        self.as_user = as_user
        self.photos = PhotoClient(client, app)

    # photos

    def photo(self, who: str) -> str:
        """A verified photo uploaded by ``who``."""
        return self.photos.verified(self.as_user(who), small_jpeg(next(_seeds)))["id"]

    def unfinished_photo(self, who: str) -> str:
        """A photo whose bytes arrived but which is not completed yet."""
        return self.photos.upload(self.as_user(who), small_jpeg(next(_seeds)))

    def complete(self, who: str, photo_id: str):
        return self.photos.complete(self.as_user(who), photo_id)

    # inspections

    def results(self, who: str, failed=(), *, photos: bool = True) -> list[dict]:
        """Every default checklist item: pass, except ``failed``; photos where required."""
        items = []
        for item in DEFAULT_ITEMS:
            code = item["code"]
            entry = {"code": code, "result": "fail" if code in failed else "pass"}
            if item["photo_required"] and photos:
                entry["photo_ids"] = [self.photo(who)]
            if code in failed:
                entry["note"] = f"{code} found failing"
            items.append(entry)
        return items

    def inspection_body(self, who: str, building="B1", kind="self_check", failed=(), **extra):
        body = {
            "id": str(uuid.uuid4()),
            "building_id": str(self.world.buildings[building]),
            "kind": kind,
            "performed_at": now_iso(),
            "location": {"lat": 22.528, "lon": 114.063},
            "items": self.results(who, failed),
        }
        body.update(extra)
        return body

    def create(self, who: str, body: dict):
        return self.client.post("/api/v1/inspections", json=body, headers=self.as_user(who))

    def submit(self, who: str, inspection_id: str):
        return self.client.post(
            f"/api/v1/inspections/{inspection_id}/submit", headers=self.as_user(who)
        )

    def submitted(self, who="mgr1", building="B1", kind="self_check", failed=()) -> dict:
        """A created and submitted inspection, as the submit call answered it."""
        body = self.inspection_body(who, building, kind, failed)
        created = self.create(who, body)
        assert created.status_code == 201, created.get_json()
        answer = self.submit(who, body["id"])
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    # review

    def submission(self, who: str, submission_id: str):
        return self.client.get(f"/api/v1/submissions/{submission_id}", headers=self.as_user(who))

    def etag(self, submission_id: str) -> str:
        response = self.submission("admin", submission_id)
        assert response.status_code == 200
        return response.headers["ETag"]

    def decide(self, who: str, submission_id: str, decision: str, reason=None, etag=None):
        body = {"decision": decision}
        if reason is not None:
            body["reason"] = reason
        headers = {**self.as_user(who), "If-Match": etag or self.etag(submission_id)}
        return self.client.post(
            f"/api/v1/submissions/{submission_id}/decisions", json=body, headers=headers
        )

    def approve_all(self, submission_id: str) -> dict:
        """Approve at every stage until closed; the closed submission."""
        for _ in range(4):
            current = self.submission("admin", submission_id).get_json()
            if current["stage"] == "closed":
                return current
            answer = self.decide(REVIEWER[current["stage"]], submission_id, "approve")
            assert answer.status_code == 200, answer.get_json()
        raise AssertionError("never closed")

    def resubmit(self, who: str, submission_id: str, body=None, etag=None):
        headers = {**self.as_user(who), "If-Match": etag or self.etag(submission_id)}
        return self.client.post(
            f"/api/v1/submissions/{submission_id}/resubmit", json=body or {}, headers=headers
        )

    # hazards

    def report(self, who: str, building="B1", severity="major", **extra):
        body = {
            "id": str(uuid.uuid4()),
            "building_id": str(self.world.buildings[building]),
            "category": "electric_bikes",
            "severity": severity,
            "description": "Two e-bikes charging in the stairwell",
            "photo_ids": [self.photo(who)],
        }
        body.update(extra)
        return self.client.post("/api/v1/hazards", json=body, headers=self.as_user(who))

    def rectify(self, who: str, hazard_id: str, **extra):
        body = {"id": str(uuid.uuid4()), "note": "Bikes moved out, socket removed",
                "photo_ids": [self.photo(who)]}  # fmt: skip
        body.update(extra)
        return self.client.post(
            f"/api/v1/hazards/{hazard_id}/rectifications", json=body, headers=self.as_user(who)
        )

    def hazard(self, who: str, hazard_id: str) -> dict:
        response = self.client.get(f"/api/v1/hazards/{hazard_id}", headers=self.as_user(who))
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def inbox(self, who: str, **params) -> list[dict]:
        response = self.client.get("/api/v1/inbox", query_string=params, headers=self.as_user(who))
        assert response.status_code == 200, response.get_json()
        return response.get_json()["items"]


@pytest.fixture
def field(client, app, world, as_user) -> Field:
    with app.extensions["fieldapi.sessionmaker"]() as db:
        ensure_defaults(db)
        db.commit()
    return Field(client, app, world, as_user)
