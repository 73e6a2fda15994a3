"""Reading the audit trail: reviewers see the events of what lies in their scope, sealed in a
chain where each event holds the hash of the one before it."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime

import pytest

from fieldapi.audit.models import GENESIS, AuditEvent
from fieldapi.audit.service import seal_event
from tests.fieldwork.conftest import assert_problem

URL = "/api/v1/audit/events"


def events(client, as_user, who, **params) -> list[dict]:
    """Every page of the events ``who`` may read."""
    items, cursor = [], None
    for _ in range(100):
        query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
        response = client.get(URL, query_string=query, headers=as_user(who))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the pages never ended")


def sealed(item: dict) -> str:
    """The hash an event should carry, recomputed from what the API shows of it."""
    event = AuditEvent(
        seq=item["seq"],
        at=datetime.fromisoformat(item["at"].replace("Z", "+00:00")),
        actor_id=uuid.UUID(item["actor_id"]) if item["actor_id"] else None,
        action=item["action"],
        object_type=item["object_type"],
        object_id=item["object_id"],
        building_id=uuid.UUID(item["building_id"]) if item["building_id"] else None,
        digest=item["digest"],
        prev_hash=item["prev_hash"],
    )
    return seal_event(event)


@pytest.fixture
def reviewed(field):
    """A major hazard reported on B1 by officer1, approved at every stage to closed."""
    response = field.report("officer1", "B1", "major")
    assert response.status_code == 201, response.get_json()
    hazard = response.get_json()
    closed = field.approve_all(hazard["submission_id"])
    assert closed["stage"] == "closed"
    return hazard


@pytest.mark.parametrize("who", ["gw1", "office1", "police1", "admin"])
def test_reviewers_read_a_submissions_events(field, client, as_user, world, reviewed, who):
    sid = reviewed["submission_id"]
    items = events(client, as_user, who, object_type="submission", object_id=sid)
    assert [e["action"] for e in items] == [
        "submission.submit",
        "submission.approve",
        "submission.approve",
        "submission.approve",
    ]
    assert all(e["object_type"] == "submission" and e["object_id"] == sid for e in items)
    assert all(e["building_id"] == str(world.buildings["B1"]) for e in items)
    actors = [e["actor_id"] for e in items]
    assert actors == [str(world.users[u]) for u in ("officer1", "gw1", "office1", "police1")]
    seqs = [e["seq"] for e in items]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    consecutive = 0
    for before, after in itertools.pairwise(items):
        if after["seq"] == before["seq"] + 1:
            assert after["prev_hash"] == before["hash"]
            consecutive += 1
    assert consecutive >= 2  # the three approvals follow one another
    for event in items:
        assert len(event["hash"]) == 64
        assert len(event["prev_hash"]) == 64
        assert sealed(event) == event["hash"]


def test_the_whole_chain_holds_from_the_first_event(field, client, as_user, reviewed):
    items = events(client, as_user, "admin")
    assert items, "the trail is empty"
    assert [e["seq"] for e in items] == list(range(1, len(items) + 1))
    assert items[0]["prev_hash"] == GENESIS
    for before, after in itertools.pairwise(items):
        assert after["prev_hash"] == before["hash"]
    assert all(sealed(e) == e["hash"] for e in items)
    assert len({e["hash"] for e in items}) == len(items)


def test_the_object_filter_is_exact(field, client, as_user, reviewed):
    hazard_events = events(client, as_user, "gw1", object_type="hazard", object_id=reviewed["id"])
    assert [e["action"] for e in hazard_events] == ["hazard.report"]
    by_type = events(client, as_user, "admin", object_type="submission")
    assert {e["object_id"] for e in by_type} == {reviewed["submission_id"]}
    # The id of a submission is not the id of a hazard.
    wrong = events(
        client, as_user, "admin", object_type="hazard", object_id=reviewed["submission_id"]
    )
    assert wrong == []


@pytest.mark.parametrize("who", ["mgr1", "officer1"])
def test_other_roles_may_not_read_the_trail(field, client, as_user, reviewed, who):
    sid = reviewed["submission_id"]
    for params in ({"object_type": "submission", "object_id": sid}, {}):
        response = client.get(URL, query_string=params, headers=as_user(who))
        assert_problem(response, 403, "forbidden")


def test_a_reviewer_out_of_scope_reads_nothing_of_it(field, client, as_user, world):
    response = field.report("officer1", "B2", "major")
    assert response.status_code == 201, response.get_json()
    sid = response.get_json()["submission_id"]
    assert events(client, as_user, "gw1", object_type="submission", object_id=sid) == []
    assert events(client, as_user, "gw1", building_id=str(world.buildings["B2"])) == []
    theirs = events(client, as_user, "office1", object_type="submission", object_id=sid)
    assert [e["action"] for e in theirs] == ["submission.submit"]
    everything_gw1_sees = events(client, as_user, "gw1")
    assert everything_gw1_sees
    assert {e["building_id"] for e in everything_gw1_sees} == {str(world.buildings["B1"])}


def test_events_about_no_building_are_for_admins_alone(field, client, as_user, world):
    created = client.post(
        "/api/v1/users",
        json={
            "username": "gw9",
            "password": world.password,
            "role": "grid_staff",
            "area_ids": [str(world.areas["G1"])],
        },
        headers=as_user("admin"),
    )
    assert created.status_code == 201, created.get_json()
    user_id = created.get_json()["id"]
    mine = events(client, as_user, "admin", object_type="user", object_id=user_id)
    assert [e["action"] for e in mine] == ["user.create"]
    assert mine[0]["actor_id"] == str(world.users["admin"])
    assert mine[0]["building_id"] is None
    templates = events(client, as_user, "admin", object_type="checklist_template")
    assert templates
    assert {e["action"] for e in templates} == {"template.create"}
    for who in ("gw1", "office1", "police1"):
        assert events(client, as_user, who, object_type="user", object_id=user_id) == []
        assert events(client, as_user, who, object_type="user") == []
        assert events(client, as_user, who, object_type="checklist_template") == []
        assert all(e["building_id"] is not None for e in events(client, as_user, who))


def test_building_filter(field, client, as_user, world, reviewed):
    b1 = events(client, as_user, "office1", building_id=str(world.buildings["B1"]))
    assert b1
    assert {e["building_id"] for e in b1} == {str(world.buildings["B1"])}
    assert {"hazard.report", "submission.submit", "submission.approve"} <= {e["action"] for e in b1}


def test_pages_walk_the_trail_in_order(field, client, as_user, reviewed):
    everything = events(client, as_user, "admin")
    walked, cursor = [], None
    for _ in range(len(everything) + 1):
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = client.get(URL, query_string=query, headers=as_user("admin")).get_json()
        walked.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert walked == everything


def test_object_id_needs_object_type(field, client, as_user, reviewed):
    response = client.get(
        URL, query_string={"object_id": reviewed["submission_id"]}, headers=as_user("admin")
    )
    assert_problem(response, 422, "validation-failed", "/object_type")


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"building_id": "B1"}, "/building_id"),
        ({"object_type": ""}, "/object_type"),
        ({"limit": 0}, "/limit"),
    ],
)
def test_bad_filters_are_422(field, client, as_user, params, pointer):
    response = client.get(URL, query_string=params, headers=as_user("admin"))
    assert_problem(response, 422, "validation-failed", pointer)


def test_an_invalid_cursor_is_400(field, client, as_user):
    response = client.get(URL, query_string={"cursor": "zzz"}, headers=as_user("admin"))
    assert_problem(response, 400, "invalid-cursor")
