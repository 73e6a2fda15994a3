"""Of many decisions sent at once on the same version of a submission, exactly one applies.

Every request of a race runs on its own thread with its own client (so its own database
connection and transaction), carries the same If-Match, and is released by one barrier.
The submission's row lock makes the later ones see the version the first one wrote: they
answer 412, and nothing of theirs reaches the history or the audit trail.

Writes that do not compete (submits on one building, a hazard and its rectification sent
back together, a submit and its retry, the photos of one record finishing together) all
land: each waits for the row locks of the one before it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from sqlalchemy import select

from fieldapi.audit import service as audit
from fieldapi.audit.models import AuditEvent
from fieldapi.checklists.defaults import DEFAULT_ITEMS
from fieldapi.core.problems import PreconditionFailed
from fieldapi.core.scope import Actor
from fieldapi.fieldwork.models import Hazard
from fieldapi.review import service as review
from fieldapi.review.models import Submission
from fieldapi.sync import documents
from tests.fieldwork.conftest import REVIEWER, assert_problem, now_iso

THREADS = 8
ROUNDS = 5
FULL = ["grid_review", "office_review", "police_review"]


@pytest.fixture(autouse=True)
def _row_locks(backend):
    if backend != "server":
        pytest.skip("SQLite serializes writers itself; the row-lock race needs PostgreSQL")


def _b1_self_check(field, items: list[dict]) -> dict:
    """The body of a new self-check of B1 with these items."""
    return {
        "id": str(uuid.uuid4()),
        "building_id": str(field.world.buildings["B1"]),
        "kind": "self_check",
        "performed_at": now_iso(),
        "items": items,
    }


def _self_check(field, failed: str | None = None) -> dict:
    """mgr1's self-check of B1, submitted: the photographed items not applicable, the plain
    ones passed, ``failed`` (a photographed item) failing. Its submit answer."""
    items = []
    for item in DEFAULT_ITEMS:
        code = item["code"]
        if code == failed:
            items.append({"code": code, "result": "fail", "note": "Found failing",
                          "photo_ids": [field.photo("mgr1")]})  # fmt: skip
        else:
            items.append({"code": code, "result": "na" if item["photo_required"] else "pass"})
    body = _b1_self_check(field, items)
    created = field.create("mgr1", body)
    assert created.status_code == 201, created.get_json()
    answer = field.submit("mgr1", body["id"])
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def _decisions(sid: str) -> str:
    return f"/api/v1/submissions/{sid}/decisions"


def _at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call on its own thread, all released together by one barrier; what each
    returned, or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(n: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[n] = call()
        except BaseException as exc:  # pragma: no cover - reported by the caller
            results[n] = exc

    threads = [
        threading.Thread(target=run, args=(n, call), daemon=True) for n, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a call never finished (deadlock?)"
    return results


def _race(app, calls: list[tuple[str, dict, dict]]) -> list:
    """POST every (path, headers, body) at once, each from its own thread and client."""
    answers = _at_once(
        [
            partial(app.test_client().post, path, json=body, headers=headers)
            for path, headers, body in calls
        ]
    )
    assert [a for a in answers if isinstance(a, BaseException)] == []
    return answers


def _one_applied(answers: list):
    """Exactly one answer is 200; every other one is a 412 precondition-failed problem."""
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [412] * (len(answers) - 1), codes
    for answer in answers:
        if answer.status_code == 412:
            assert_problem(answer, 412, "precondition-failed")
    (winner,) = [a for a in answers if a.status_code == 200]
    return winner


def _audited(app, sid: str, *actions: str) -> list[str]:
    """The actions of the audit events recorded for this submission, in chain order."""
    with app.extensions["fieldapi.sessionmaker"]() as db:
        return list(
            db.scalars(
                select(AuditEvent.action)
                .where(
                    AuditEvent.object_type == "submission",
                    AuditEvent.object_id == str(sid),
                    AuditEvent.action.in_(actions),
                )
                .order_by(AuditEvent.seq)
            )
        )


def _verify(app):
    """The audit chain's verdict, once the stored sync documents are found current: each
    racing writer built its documents from what the ones before it committed."""
    with app.extensions["fieldapi.sessionmaker"]() as db:
        assert documents.stale(db) == []
        return audit.verify(db)


@pytest.mark.parametrize("failed", [None, "EBIKE-01"], ids=["clean", "critical"])
def test_one_of_many_approvals_applies_at_every_stage(app, field, as_user, failed):
    for _ in range(ROUNDS):
        sid = _self_check(field, failed)["submission_id"]
        route = field.submission("admin", sid).get_json()["route"]
        assert route == (FULL if failed else ["grid_review"])
        for n, stage in enumerate(route, start=1):
            seen = field.submission("admin", sid)
            etag = seen.headers["ETag"]
            headers = {**as_user(REVIEWER[stage]), "If-Match": etag}
            answers = _race(app, [(_decisions(sid), headers, {"decision": "approve"})] * THREADS)
            winner = _one_applied(answers)
            assert winner.get_json()["stage"] == (route[n] if n < len(route) else "closed")
            current = field.submission("admin", sid)
            assert current.headers["ETag"] == winner.headers["ETag"] != etag
            history = current.get_json()["history"]
            assert [h["decision"] for h in history] == ["submit", *["approve"] * n]
            assert [h["stage"] for h in history[1:]] == route[:n]
            assert history[-1]["version"] == seen.get_json()["version"]
            assert _audited(app, sid, "submission.approve") == ["submission.approve"] * n
        assert field.submission("admin", sid).get_json()["stage"] == "closed"
    verdict = _verify(app)
    assert verdict.ok, verdict


def test_approve_and_return_at_once_only_one_applies(app, field, as_user):
    for round_ in range(ROUNDS):
        sid = _self_check(field, "EBIKE-01")["submission_id"]
        headers = {**as_user("gw1"), "If-Match": field.etag(sid)}
        approve = {"decision": "approve"}
        back = {"decision": "return", "reason": f"Round {round_}: the stairwell photo is dark"}
        calls = [(_decisions(sid), headers, approve if n % 2 else back) for n in range(THREADS)]
        winner = _one_applied(_race(app, calls))

        current = field.submission("admin", sid).get_json()
        assert current["stage"] == winner.get_json()["stage"]
        history = current["history"]
        assert len(history) == 2
        decided = history[-1]["decision"]
        assert decided in ("approve", "return")
        assert current["stage"] == ("office_review" if decided == "approve" else "returned")
        if decided == "return":
            assert history[-1]["reason"] == back["reason"]
        assert _audited(app, sid, "submission.approve", "submission.return") == [
            f"submission.{decided}"
        ]
        returned = [
            i for i in field.inbox("mgr1") if i["kind"] == "returned" and i["submission_id"] == sid
        ]
        assert len(returned) == (1 if decided == "return" else 0)
        waiting = [i for i in field.inbox("office1") if i["submission_id"] == sid]
        assert len(waiting) == (1 if decided == "approve" else 0)
    verdict = _verify(app)
    assert verdict.ok, verdict


def test_reopen_and_resubmit_races_apply_once(app, field, as_user):
    """Fire police reopening a closed one at once, then its submitter resubmitting at once."""
    for _ in range(ROUNDS):
        sid = _self_check(field)["submission_id"]
        field.approve_all(sid)
        headers = {**as_user("police1"), "If-Match": field.etag(sid)}
        body = {"decision": "reopen", "reason": "The extinguisher in the photo is expired"}
        winner = _one_applied(_race(app, [(_decisions(sid), headers, body)] * THREADS))
        assert winner.get_json()["stage"] == "returned"
        assert winner.get_json()["escalated"] is True

        headers = {**as_user("mgr1"), "If-Match": field.etag(sid)}
        path = f"/api/v1/submissions/{sid}/resubmit"
        winner = _one_applied(_race(app, [(path, headers, {"note": "Replaced"})] * THREADS))
        assert winner.get_json()["stage"] == "grid_review"
        assert winner.get_json()["route"] == FULL

        history = field.submission("admin", sid).get_json()["history"]
        assert [h["decision"] for h in history] == ["submit", "approve", "reopen", "resubmit"]
        assert _audited(app, sid, "submission.reopen", "submission.resubmit") == [
            "submission.reopen",
            "submission.resubmit",
        ]
    verdict = _verify(app)
    assert verdict.ok, verdict


def _decide_in_service(app, actor: Actor, sid: uuid.UUID, etag: str, decision: str) -> str:
    """review.decide on a session of its own, committed: the decision, or "stale" (412)."""
    with app.extensions["fieldapi.sessionmaker"]() as db:
        try:
            review.decide(
                db=db,
                actor=actor,
                submission_id=sid,
                decision=decision,
                reason="Not legible" if decision == "return" else None,
                items=[],
                if_match=etag,
                stage_hours=app.extensions["fieldapi.settings"].review_stage_hours,
            )
            db.commit()
        except PreconditionFailed:
            db.rollback()
            return "stale"
    return decision


def test_row_lock_serialises_decisions_made_in_the_service(app, field, world):
    """The same race below HTTP: review.decide on separate sessions, each committing."""
    gw1 = Actor(user_id=world.users["gw1"], username="gw1", role="grid_staff")
    for _ in range(ROUNDS):
        sid = uuid.UUID(_self_check(field, "EBIKE-01")["submission_id"])
        before = field.submission("admin", str(sid)).get_json()["version"]
        etag = field.etag(str(sid))
        decisions = ["approve" if n % 2 else "return" for n in range(THREADS)]
        outcomes = _at_once(
            [partial(_decide_in_service, app, gw1, sid, etag, d) for d in decisions]
        )
        applied = [o for o in outcomes if o != "stale"]
        assert len(applied) == 1, outcomes
        assert applied[0] in ("approve", "return"), outcomes

        with app.extensions["fieldapi.sessionmaker"]() as db:
            submission = db.get(Submission, sid)
            assert [e.decision for e in submission.events] == ["submit", applied[0]]
            assert submission.version == before + 1
            assert submission.events[-1].version == before
            assert submission.stage == ("office_review" if applied[0] == "approve" else "returned")
        assert _audited(app, str(sid), "submission.approve", "submission.return") == [
            f"submission.{applied[0]}"
        ]
    verdict = _verify(app)
    assert verdict.ok, verdict


def _created_self_check(field, failed: str) -> str:
    """mgr1's self-check of B1 with ``failed`` failing, created (draft); its id."""
    items = [
        {"code": item["code"], "result": "na" if item["photo_required"] else "pass"}
        for item in DEFAULT_ITEMS
        if item["code"] != failed
    ]
    items.append({"code": failed, "result": "fail", "note": "Found failing"})
    body = _b1_self_check(field, items)
    created = field.create("mgr1", body)
    assert created.status_code == 201, created.get_json()
    return body["id"]


def test_submissions_racing_on_one_building_all_land(app, field, as_user):
    """Submits raise hazards and move the building's risk at the same moment, while its
    manager edits the file: every submit lands, the edit lands or answers 412, no 5xx."""
    plain = [item["code"] for item in DEFAULT_ITEMS if not item["photo_required"]]
    building = f"/api/v1/buildings/{field.world.buildings['B1']}"
    for round_ in range(ROUNDS):
        drafts = [_created_self_check(field, plain[n % len(plain)]) for n in range(THREADS - 1)]
        etag = app.test_client().get(building, headers=as_user("mgr1")).headers["ETag"]
        edit = partial(
            app.test_client().patch,
            building,
            json={"floors_above": 10 + round_},
            headers={**as_user("mgr1"), "If-Match": etag},
        )
        submits = [
            partial(
                app.test_client().post, f"/api/v1/inspections/{i}/submit", headers=as_user("mgr1")
            )
            for i in drafts
        ]
        answers = _at_once([edit, *submits])
        assert [a for a in answers if isinstance(a, BaseException)] == []
        assert answers[0].status_code in (200, 412), answers[0].get_json()
        assert [a.status_code for a in answers[1:]] == [200] * len(drafts)
        with app.extensions["fieldapi.sessionmaker"]() as db:
            raised = db.scalars(
                select(Hazard.inspection_id).where(Hazard.inspection_id.in_(map(uuid.UUID, drafts)))
            ).all()
        assert sorted(map(str, raised)) == sorted(drafts)
        risk = app.test_client().get(building, headers=as_user("mgr1")).get_json()["risk_level"]
        assert risk != "low"
    verdict = _verify(app)
    assert verdict.ok, verdict


def test_a_hazard_and_its_rectification_resubmitted_at_once_both_land(app, field, as_user):
    """An officer sends a returned hazard report back while the building manager sends back
    the returned rectification of that same hazard. Both change the hazard: the later one
    waits for the earlier instead of failing on the version it read."""
    for _ in range(ROUNDS):
        hazard = field.report("officer1", "B1").get_json()
        reported = hazard["submission_id"]
        assert field.decide("gw1", reported, "return", reason="Which floor?").status_code == 200
        rectified = field.rectify("mgr1", hazard["id"])
        assert rectified.status_code == 201, rectified.get_json()
        repaired = rectified.get_json()["submission_id"]
        assert field.decide("gw1", repaired, "return", reason="Photo unclear").status_code == 200
        answers = _race(
            app,
            [
                (
                    f"/api/v1/submissions/{reported}/resubmit",
                    {**as_user("officer1"), "If-Match": field.etag(reported)},
                    {"description": "Two e-bikes charging in the third-floor stairwell"},
                ),
                (
                    f"/api/v1/submissions/{repaired}/resubmit",
                    {**as_user("mgr1"), "If-Match": field.etag(repaired)},
                    {"note": "Socket removed, bikes gone"},
                ),
            ],
        )
        assert [a.status_code for a in answers] == [200, 200], [a.get_json() for a in answers]
        assert [a.get_json()["stage"] for a in answers] == ["grid_review", "grid_review"]
        after = field.hazard("admin", hazard["id"])
        assert after["status"] == "rectifying"
        assert after["description"] == "Two e-bikes charging in the third-floor stairwell"
    verdict = _verify(app)
    assert verdict.ok, verdict


def _waiting_self_check(field, photos: int) -> dict:
    """mgr1's self-check of B1, submitted while ``photos`` of its EXT-01 photos are still
    uploading: the 202 answer (the other photographed items not applicable)."""
    pending = [field.unfinished_photo("mgr1") for _ in range(photos)]
    items = [
        {"code": item["code"], "result": "na" if item["photo_required"] else "pass"}
        for item in DEFAULT_ITEMS
        if item["code"] != "EXT-01"
    ]
    items.append({"code": "EXT-01", "result": "pass", "photo_ids": pending})
    body = _b1_self_check(field, items)
    assert field.create("mgr1", body).status_code == 201
    answer = field.submit("mgr1", body["id"])
    assert answer.status_code == 202, answer.get_json()
    assert sorted(answer.get_json()["waiting_for"]) == sorted(pending)
    return answer.get_json()


def _shown(app, as_user, inspection_id: str) -> dict:
    response = app.test_client().get(
        f"/api/v1/inspections/{inspection_id}", headers=as_user("mgr1")
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _complete_at_once(app, as_user, photo_ids: list[str]) -> None:
    answers = _at_once(
        [
            partial(
                app.test_client().post,
                f"/api/v1/photos/{photo_id}/complete",
                headers=as_user("mgr1"),
            )
            for photo_id in photo_ids
        ]
    )
    assert [a.status_code for a in answers] == [200] * len(photo_ids), answers


def test_photos_of_one_waiting_inspection_finishing_at_once_submit_it(app, field, as_user):
    """The phone completes a record's photos in parallel. Each completion takes its own photo
    off the record's wait; the one that sees none left submits the record. Finishing at the
    same moment, neither may take the other's wait for still pending."""
    for _ in range(ROUNDS):
        waiting = _waiting_self_check(field, photos=3)
        _complete_at_once(app, as_user, waiting["waiting_for"])
        after = _shown(app, as_user, waiting["id"])
        assert (after["status"], after["stage"], after["waiting_for"]) == (
            "submitted",
            "grid_review",
            [],
        )
        assert after["submission_id"] is not None
    verdict = _verify(app)
    assert verdict.ok, verdict


def test_photos_of_one_waiting_rectification_finishing_at_once_submit_it(app, field, as_user):
    """The same for a rectification: it enters review, and its hazard is being rectified."""
    for _ in range(ROUNDS):
        hazard = field.report("officer1", "B1").get_json()
        pending = [field.unfinished_photo("mgr1") for _ in range(3)]
        waiting = field.rectify("mgr1", hazard["id"], photo_ids=pending)
        assert waiting.status_code == 201, waiting.get_json()
        assert waiting.get_json()["status"] == "waiting_photos"
        _complete_at_once(app, as_user, pending)
        [after] = (
            app.test_client()
            .get(f"/api/v1/hazards/{hazard['id']}/rectifications", headers=as_user("mgr1"))
            .get_json()["items"]
        )
        assert (after["status"], after["stage"], after["waiting_for"]) == (
            "submitted",
            "grid_review",
            [],
        )
        assert field.hazard("mgr1", hazard["id"])["status"] == "rectifying"
    verdict = _verify(app)
    assert verdict.ok, verdict


def test_a_draft_submitted_twice_at_once_is_submitted_once(app, field, as_user):
    """A phone that lost the answer submits again while the first submit still runs (no
    Idempotency-Key): both answer the one submission; no 412, no second hazard."""
    for _ in range(ROUNDS):
        draft = _created_self_check(field, "ALARM-01")
        answers = _at_once(
            [
                partial(
                    app.test_client().post,
                    f"/api/v1/inspections/{draft}/submit",
                    headers=as_user("mgr1"),
                )
                for _ in range(3)
            ]
        )
        assert [a.status_code for a in answers] == [200] * 3, [a.get_json() for a in answers]
        assert len({a.get_json()["submission_id"] for a in answers}) == 1
        with app.extensions["fieldapi.sessionmaker"]() as db:
            raised = db.scalars(select(Hazard.id).where(Hazard.inspection_id == uuid.UUID(draft)))
            assert len(raised.all()) == 1
    verdict = _verify(app)
    assert verdict.ok, verdict


def test_a_create_and_its_retry_sent_at_once_answer_the_one_object(app, field, as_user):
    """A phone that lost the answer sends a create again, under the same client id and
    without an Idempotency-Key, while the first still runs. The later insert waits for the
    earlier one and finds its id taken: it answers the stored object, as a later retry does
    (201 and 200), and other content under that id is still refused (409)."""
    for _ in range(ROUNDS):
        same = field.inspection_body("mgr1")
        other = {**same, "note": "Other content under the same id"}
        photo = {"id": str(uuid.uuid4()), "sha256": uuid.uuid4().hex * 2, "size": 2048,
                 "content_type": "image/jpeg"}  # fmt: skip
        calls = [
            ("/api/v1/inspections", as_user("mgr1"), same),
            ("/api/v1/inspections", as_user("mgr1"), same),
            ("/api/v1/photos", as_user("mgr1"), photo),
            ("/api/v1/photos", as_user("mgr1"), photo),
        ]
        answers = _race(app, calls)
        assert sorted(a.status_code for a in answers[:2]) == [200, 201], answers[:2]
        assert sorted(a.status_code for a in answers[2:]) == [200, 201], answers[2:]
        assert answers[0].get_json() == answers[1].get_json()
        assert answers[2].get_json()["id"] == answers[3].get_json()["id"] == photo["id"]
        answers = _race(app, [("/api/v1/inspections", as_user("mgr1"), other)] * 2)
        for answer in answers:
            assert_problem(answer, 409, "conflict")
    verdict = _verify(app)
    assert verdict.ok, verdict
