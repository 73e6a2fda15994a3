"""Random decisions by random people on a few submissions: the rules of the review chain hold.

A model of the chain says what every call must answer (who decides at which stage, which
decisions a stage allows, If-Match, reasons, who resubmits), and the machine asserts that
the API answers exactly that. After every step, for every submission:

- nothing is closed without an approval at each stage of its route, in order, by that
  stage's role, since it was last (re)submitted;
- its history is complete and ordered, and ends where the submission is;
- it is in its submitter's inbox as returned work exactly while it is returned;
- a refused call changed nothing (same ETag, same history).

A call that applies adds exactly the history entry the model expects (decision, stages,
actor, the version decided on); the submission then waits in the inbox of whoever decides
at its new stage and no longer in the one before, and a rectified hazard follows its
rectification (rectifying, open again when returned, closed when closed).

Each example starts from four fresh submissions on B1, one per kind of route the default
routing table gives: a clean self-check [grid_review], a self-check with a critical item
failed (the whole chain), a minor hazard report [grid_review], and the rectification of a
minor hazard [grid_review, office_review].
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from fieldapi.checklists.defaults import DEFAULT_ITEMS
from fieldapi.review.models import Submission, SubmissionEvent
from tests.fieldwork.conftest import PLAIN_ITEMS, assert_problem, now_iso

API = "/api/v1"
FULL = ["grid_review", "office_review", "police_review"]
ROLE = {
    "gw1": "grid_staff",
    "office1": "fire_office",
    "police1": "fire_police",
    "mgr1": "building_manager",
    "officer1": "officer",
}
PERSONAS = list(ROLE)  # reviewers first
# Who decides at each stage; at closed, fire police may only reopen.
STAGE_ROLE = {
    "grid_review": "grid_staff",
    "office_review": "fire_office",
    "police_review": "fire_police",
    "closed": "fire_police",
}
DECIDER = {
    "grid_review": "gw1",
    "office_review": "office1",
    "police_review": "police1",
    "closed": "police1",
}
DECIDING_ROLES = {"grid_staff", "fire_office", "fire_police"}
SLUG = {
    403: "forbidden",
    409: "conflict",
    412: "precondition-failed",
    422: "validation-failed",
    428: "precondition-required",
}
CODES = [item["code"] for item in DEFAULT_ITEMS]

NAMES = st.sampled_from(["clean", "critical", "report", "rectification"])
DECISIONS = st.sampled_from(["approve", "return", "reopen"])
# The values that move the chain come first: generation leans towards the first ones.
TAGS = st.sampled_from(["fresh", "fresh", "fresh", "stale", "missing"])
REASONS = st.sampled_from(["  The photo of the extinguisher is blurred ", None, "   "])
HOW = st.sampled_from(["amend", "submit_again", "amend", "wrong_field"])

_takes = itertools.count(1)


@dataclass
class Tracked:
    """What the model expects of one submission."""

    sid: str
    subject: str  # inspection | hazard | rectification
    submitter: str
    first_route: list[str]
    route: list[str]
    stage: str
    etag: str
    escalated: bool = False
    old_etags: list[str] = field(default_factory=list)
    inspection_id: str | None = None
    hazard_id: str | None = None


def _refused(response, status: int, pointer: str | None = None) -> None:
    assert_problem(response, status, SLUG[status], pointer)


def test_review_rules_hold_under_random_decisions(app, client, field, as_user, world):
    def get(sid: str):
        response = client.get(f"{API}/submissions/{sid}", headers=as_user("admin"))
        assert response.status_code == 200, response.get_json()
        return response

    def inbox(who: str) -> list[dict]:
        items, cursor = [], None
        while True:
            query = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            response = client.get(f"{API}/inbox", query_string=query, headers=as_user(who))
            assert response.status_code == 200, response.get_json()
            page = response.get_json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    # A photo may be attached to many records: each persona takes one for every example.
    photos = {who: field.photo(who) for who in ("mgr1", "officer1")}

    def post(who: str, path: str, body: dict) -> dict:
        response = client.post(f"{API}{path}", json=body, headers=as_user(who))
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def minor_hazard() -> dict:
        """A minor hazard on B1, as officer1 reports it."""
        return post(
            "officer1",
            "/hazards",
            {
                "id": str(uuid.uuid4()),
                "building_id": str(world.buildings["B1"]),
                "category": "electric_bikes",
                "severity": "minor",
                "description": "An e-bike charging in the stairwell",
                "photo_ids": [photos["officer1"]],
            },
        )

    def self_check(failed: str | None = None) -> dict:
        """mgr1's self-check of B1: photographed items not applicable, the plain ones passed,
        ``failed`` (a photographed item) failing."""
        items = []
        for code in CODES:
            if code == failed:
                items.append({"code": code, "result": "fail", "note": "Found failing",
                              "photo_ids": [photos["mgr1"]]})  # fmt: skip
            else:
                items.append({"code": code, "result": "pass" if code in PLAIN_ITEMS else "na"})
        body = {
            "id": str(uuid.uuid4()),
            "building_id": str(world.buildings["B1"]),
            "kind": "self_check",
            "performed_at": now_iso(),
            "items": items,
        }
        created = field.create("mgr1", body)
        assert created.status_code == 201, created.get_json()
        answer = field.submit("mgr1", body["id"])
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    def stored_state(sids: list[str]) -> dict[str, tuple]:
        """Per submission as stored: version, stage, route, escalated, transitions."""
        ids = [uuid.UUID(sid) for sid in sids]
        with app.extensions["fieldapi.sessionmaker"]() as db:
            counts = dict(
                db.execute(
                    select(SubmissionEvent.submission_id, func.count())
                    .where(SubmissionEvent.submission_id.in_(ids))
                    .group_by(SubmissionEvent.submission_id)
                ).all()
            )
            return {
                str(row.id): (row.version, row.stage, row.route, row.escalated, counts[row.id])
                for row in db.execute(select(Submission).where(Submission.id.in_(ids))).scalars()
            }

    def tracked(subject: str, submitter: str, sid: str, route: list[str], **extra) -> Tracked:
        return Tracked(
            sid=sid,
            subject=subject,
            submitter=submitter,
            first_route=route,
            route=list(route),
            stage=route[0],
            etag=get(sid).headers["ETag"],
            **extra,
        )

    class ReviewChain(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            clean = self_check()
            critical = self_check(failed="EBIKE-01")
            report = minor_hazard()
            hazard = minor_hazard()
            fixed = post(
                "mgr1",
                f"/hazards/{hazard['id']}/rectifications",
                {"id": str(uuid.uuid4()), "note": "Moved out", "photo_ids": [photos["mgr1"]]},
            )
            self.subs = {
                "clean": tracked(
                    "inspection",
                    "mgr1",
                    clean["submission_id"],
                    ["grid_review"],
                    inspection_id=clean["id"],
                ),
                "critical": tracked(
                    "inspection",
                    "mgr1",
                    critical["submission_id"],
                    FULL,
                    inspection_id=critical["id"],
                ),
                "report": tracked("hazard", "officer1", report["submission_id"], ["grid_review"]),
                "rectification": tracked(
                    "rectification",
                    "mgr1",
                    fixed["submission_id"],
                    ["grid_review", "office_review"],
                    hazard_id=hazard["id"],
                ),
            }
            self.current = {name: get(s.sid) for name, s in self.subs.items()}
            self.touched = "clean"

        # ------------------------------------------------------------ the model

        @staticmethod
        def expect_decision(s: Tracked, who: str, decision: str, tag: str, reason) -> int:
            role = ROLE[who]
            if role not in DECIDING_ROLES:
                return 403
            if tag == "missing":
                return 428
            if tag == "stale":
                return 412
            if s.stage == "returned" or STAGE_ROLE[s.stage] != role:
                return 403
            allowed = ("reopen",) if s.stage == "closed" else ("approve", "return")
            if decision not in allowed:
                return 409
            if decision != "approve" and not (reason or "").strip():
                return 422
            return 200

        @staticmethod
        def expect_resubmit(s: Tracked, who: str, tag: str, wrong_field: bool) -> int:
            if tag == "missing":
                return 428
            if tag == "stale":
                return 412
            if who != s.submitter:
                return 403
            if s.stage != "returned":
                return 409
            if wrong_field:
                return 422
            return 200

        @staticmethod
        def after_approval(s: Tracked) -> str:
            position = s.route.index(s.stage)
            return s.route[position + 1] if position + 1 < len(s.route) else "closed"

        # ------------------------------------------------------------ checks of one call

        def if_match(self, s: Tracked, tag: str) -> dict[str, str]:
            if tag == "missing":
                return {}
            if tag == "fresh":
                return {"If-Match": s.etag}
            return {"If-Match": s.old_etags[-1] if s.old_etags else '"not-this-version"'}

        def unchanged(self, name: str) -> None:
            s, before = self.subs[name], self.current[name]
            after = get(s.sid)
            assert after.headers["ETag"] == before.headers["ETag"] == s.etag
            assert after.get_json()["history"] == before.get_json()["history"]
            assert after.get_json()["stage"] == s.stage
            self.current[name] = after

        def moved(self, name: str, answer: dict, etag: str, *, decision: str, who: str, to: str):
            """A call that applied: exactly one new history entry, the one the model expects."""
            s, before = self.subs[name], self.current[name].get_json()
            assert answer["stage"] == to
            assert answer["history"][:-1] == before["history"]
            entry = answer["history"][-1]
            assert entry["seq"] == len(before["history"]) + 1
            assert entry["decision"] == decision
            assert entry["stage"] == before["stage"]
            assert entry["to_stage"] == to
            assert entry["actor_id"] == str(world.users[who])
            assert entry["actor_role"] == ROLE[who]
            # The version the caller decided on: the one its If-Match named.
            assert entry["version"] == before["version"], (decision, before["version"], entry)
            assert etag != s.etag
            s.old_etags.append(s.etag)
            s.etag, s.stage = etag, to
            self.current[name] = get(s.sid)
            assert self.current[name].headers["ETag"] == etag
            self.waiting_for_review(name, before["stage"], to)
            if s.hazard_id is not None:
                expected = {"closed": "closed", "returned": "open"}.get(to, "rectifying")
                assert field.hazard("admin", s.hazard_id)["status"] == expected, to
            return entry

        def waiting_for_review(self, name: str, left: str, entered: str) -> None:
            """It waits in the inbox of whoever decides at its stage, and no longer in the
            inbox of whoever decided at the stage it left."""
            sid = self.subs[name].sid
            for stage, expected in ((left, False), (entered, True)):
                if stage not in FULL:
                    continue
                reviews = [i for i in inbox(DECIDER[stage]) if i["kind"] == "review"]
                mine = [i for i in reviews if i["submission_id"] == sid]
                assert len(mine) == int(expected), (name, stage, mine)
                if expected:
                    assert mine[0]["stage"] == stage

        # ------------------------------------------------------------ rules

        def decide(self, name: str, who: str, decision: str, tag: str, reason) -> None:
            s, self.touched = self.subs[name], name
            expected = self.expect_decision(s, who, decision, tag, reason)
            body = {"decision": decision}
            if reason is not None:
                body["reason"] = reason
            response = client.post(
                f"{API}/submissions/{s.sid}/decisions",
                json=body,
                headers={**as_user(who), **self.if_match(s, tag)},
            )
            assert response.status_code == expected, (
                f"{who} {decision} at {s.stage} ({tag} ETag, reason {reason!r})",
                response.get_json(),
            )
            if expected != 200:
                _refused(response, expected, "/reason" if expected == 422 else None)
                self.unchanged(name)
                return
            to = self.after_approval(s) if decision == "approve" else "returned"
            entry = self.moved(
                name,
                response.get_json(),
                response.headers["ETag"],
                decision=decision,
                who=who,
                to=to,
            )
            assert (entry["reason"] or None) == ((reason or "").strip() or None)
            if decision == "reopen":
                s.escalated = True

        @rule(name=NAMES, who=st.sampled_from(PERSONAS), decision=DECISIONS, tag=TAGS,
              reason=REASONS)  # fmt: skip
        def anyone_decides(self, name, who, decision, tag, reason):
            self.decide(name, who, decision, tag, reason)

        @initialize(name=st.sampled_from(["clean", "critical", "report", "rectification", None]))
        def one_returned_at_first(self, name):
            """Most examples start with one of them returned, so resubmitting is exercised."""
            if name is not None:
                self.decide(name, "gw1", "return", "fresh", "Start again, please")

        @rule(name=NAMES, decision=DECISIONS, how=HOW)
        def the_chain_moves(self, name, decision, how):
            """Whoever acts next, on the version they see: the submitter resubmits a returned
            one; otherwise whoever decides at its stage decides (with a reason)."""
            s = self.subs[name]
            if s.stage == "returned":
                self.resubmit(name, s.submitter, "fresh", how)
            else:
                self.decide(name, DECIDER[s.stage], decision, "fresh", "Checked on site")

        @rule(name=NAMES, who=st.sampled_from(PERSONAS), tag=TAGS, how=HOW)
        def anyone_resubmits(self, name, who, tag, how):
            self.resubmit(name, who, tag, how)

        def resubmit(self, name: str, who: str, tag: str, how: str) -> None:
            """Back into review: amended through /resubmit (an inspection only with a note;
            ``wrong_field`` amends one with a description), or an inspection submitted again."""
            s, self.touched = self.subs[name], name
            if s.subject == "inspection" and how == "submit_again":
                self.submit_inspection_again(name, who)
                return
            wrong_field = how == "wrong_field" and s.subject == "inspection"
            expected = self.expect_resubmit(s, who, tag, wrong_field)
            take = next(_takes)
            if s.subject == "hazard" or wrong_field:
                body = {"description": f"Amended, take {take}"}
            else:
                body = {"note": f"Amended, take {take}"}
            response = client.post(
                f"{API}/submissions/{s.sid}/resubmit",
                json=body,
                headers={**as_user(who), **self.if_match(s, tag)},
            )
            assert response.status_code == expected, (
                f"{who} resubmits at {s.stage} ({tag} ETag, {body})",
                response.get_json(),
            )
            if expected != 200:
                _refused(response, expected)
                self.unchanged(name)
                return
            s.route = list(FULL if s.escalated else s.first_route)
            self.moved(
                name,
                response.get_json(),
                response.headers["ETag"],
                decision="resubmit",
                who=who,
                to=s.route[0],
            )

        def submit_inspection_again(self, name: str, who: str) -> None:
            """POST /inspections/{id}/submit: a resubmission when returned, otherwise a replay
            of where it is; only its inspector may."""
            s = self.subs[name]
            response = field.submit(who, s.inspection_id)
            if who != s.submitter:
                _refused(response, 403)
                self.unchanged(name)
                return
            assert response.status_code == 200, response.get_json()
            if s.stage != "returned":
                assert response.get_json()["stage"] == s.stage
                assert response.get_json()["submission_id"] == s.sid
                self.unchanged(name)
                return
            s.route = list(FULL if s.escalated else s.first_route)
            assert response.get_json()["stage"] == s.route[0]
            after = get(s.sid)
            self.moved(
                name,
                after.get_json(),
                after.headers["ETag"],
                decision="resubmit",
                who=who,
                to=s.route[0],
            )

        # ------------------------------------------------------------ invariants

        @invariant()
        def every_submission_follows_the_rules(self):
            stored = stored_state([s.sid for s in self.subs.values()])
            for name, s in self.subs.items():
                # The one this step acted on was just read through the API; that the others
                # did not change since they were is checked against the database.
                response = self.current[name]
                assert response.headers["ETag"] == s.etag, name
                body = response.get_json()
                assert body["stage"] == s.stage, name
                assert body["route"] == s.route, name
                assert body["escalated"] is s.escalated, name
                history = body["history"]
                assert stored[s.sid] == (
                    body["version"],
                    body["stage"],
                    body["route"],
                    body["escalated"],
                    len(history),
                ), name

                # Complete and ordered.
                assert [h["seq"] for h in history] == list(range(1, len(history) + 1))
                times = [datetime.fromisoformat(h["at"]) for h in history]
                assert times == sorted(times), (name, history)
                assert history[0]["decision"] == "submit"
                assert history[0]["stage"] is None
                for previous, entry in itertools.pairwise(history):
                    assert entry["stage"] == previous["to_stage"], (name, history)
                    assert entry["version"] > previous["version"], (name, history)
                assert history[-1]["to_stage"] == body["stage"], (name, history)
                assert body["version"] > history[-1]["version"], (name, body["version"])

                # Nothing closes without every stage of its route approving it, in order.
                if body["stage"] == "closed":
                    assert body["closed_at"] is not None
                    last = max(
                        n for n, h in enumerate(history) if h["decision"] in ("submit", "resubmit")
                    )
                    assert history[last]["to_stage"] == body["route"][0], (name, history)
                    passed = [
                        (h["decision"], h["stage"], h["actor_role"]) for h in history[last + 1 :]
                    ]
                    required = [("approve", stage, STAGE_ROLE[stage]) for stage in body["route"]]
                    assert passed == required, (name, history)
                else:
                    assert body["closed_at"] is None, name

        @invariant()
        def returned_work_waits_in_its_submitters_inbox(self):
            """In the inbox of the submitter of what this step acted on, for each submission."""
            who = self.subs[self.touched].submitter
            returned = [i for i in inbox(who) if i["kind"] == "returned"]
            for name, s in self.subs.items():
                mine = [i for i in returned if i["submission_id"] == s.sid]
                expected = s.stage == "returned" and s.submitter == who
                assert len(mine) == int(expected), (who, name, s.stage, mine)
                if expected:
                    assert mine[0]["id"] == s.sid
                    assert mine[0]["stage"] == "returned"
                    assert mine[0]["building_id"] == str(world.buildings["B1"])

    run_state_machine_as_test(
        ReviewChain,
        settings=settings(
            max_examples=15,
            stateful_step_count=15,
            deadline=None,
            database=None,
            # Every example builds fresh submissions with photos: a failure is reported with
            # its steps as they ran rather than after minutes of shrinking.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
