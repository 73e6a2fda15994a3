"""The inbox's order and pages, its number of statements, and its documented shape."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from datetime import datetime, timedelta

import jsonschema_rs
import pytest
from sqlalchemy import event

from fieldapi.fieldwork.models import Hazard
from fieldapi.review.models import Submission
from tests.contract.test_examples import _closed
from tests.fieldwork.conftest import assert_problem
from tests.review.test_inbox import (
    grid_worker,
    hazard_submission,
    inbox_page,
    now,
    parse,
    set_hazard_due,
    set_self_check_due,
)

# ---------------------------------------------------------------- order and pages


def arrange_a_full_inbox(field, db, world) -> None:
    """gw1: reviews, a returned report of its own, an overdue self-check, overdue hazards."""
    field.submitted("mgr1")
    first = hazard_submission(field, "B1")
    second = hazard_submission(field, "B1", severity="minor")
    own = field.report("gw1", "B1", "major").get_json()["submission_id"]
    peer = grid_worker(field.client, field.as_user, world, "gw1peer", ["G1"])
    assert field.decide(peer, own, "return", reason="Reported twice").status_code == 200
    set_self_check_due(db, world, "B1", now() - timedelta(days=2))
    set_hazard_due(db, first["id"], now() - timedelta(days=1))
    set_hazard_due(db, second["id"], now() - timedelta(hours=3))


def when(item) -> datetime:
    return parse(item["due_at"] or item["since"])


def test_items_are_ordered_soonest_due_first(field, db, world):
    arrange_a_full_inbox(field, db, world)
    items = field.inbox("gw1")
    assert {i["kind"] for i in items} == {"review", "returned", "self_check_due", "hazard_due"}
    times = [when(i) for i in items]
    assert times == sorted(times)
    assert items[0]["kind"] == "self_check_due"


def test_every_overdue_flag_matches_its_due_time(field, db, world):
    arrange_a_full_inbox(field, db, world)
    seen = set()
    for who in ("gw1", "mgr1", "officer1", "office1"):
        for item in field.inbox(who):
            due = item["due_at"]
            expected = due is not None and parse(due) < now()
            assert item["overdue"] is expected, item
            seen.add(item["overdue"])
    assert seen == {True, False}


def test_pages_of_one_walk_every_item_once(field, client, as_user, db, world):
    arrange_a_full_inbox(field, db, world)
    everything = inbox_page(client, as_user, "gw1")
    assert everything["next_cursor"] is None
    walked, cursor = [], None
    for _ in range(50):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = inbox_page(client, as_user, "gw1", **params)
        assert len(page["items"]) <= 1
        walked.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    else:
        raise AssertionError("the pages never ended")
    keys = [(i["kind"], i["id"]) for i in walked]
    assert len(keys) == len(set(keys))
    assert walked == everything["items"]
    assert len(walked) >= 6


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        base64.urlsafe_b64encode(b"[1, 2, 3]").decode().rstrip("="),
        base64.urlsafe_b64encode(json.dumps(["x"]).encode()).decode().rstrip("="),
        base64.urlsafe_b64encode(json.dumps(["yesterday", "review", "x"]).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps([now().isoformat(), "review", "not-a-uuid"]).encode()
        ).decode(),
    ],
)
def test_an_invalid_cursor_is_400(field, client, as_user, cursor):
    response = client.get("/api/v1/inbox", query_string={"cursor": cursor}, headers=as_user("gw1"))
    assert_problem(response, 400, "invalid-cursor")


def test_limit_is_bounded(field, client, as_user):
    for limit in (0, 201, "many"):
        response = client.get(
            "/api/v1/inbox", query_string={"limit": limit}, headers=as_user("gw1")
        )
        assert_problem(response, 422, "validation-failed", "/limit")


# ---------------------------------------------------------------- statements


def waiting_pairs(db, world, count: int) -> None:
    """``count`` overdue hazards reported on B1, each in grid review: two inbox rows each
    for gw1, written directly (the API's way takes a photo per report)."""
    late = now() - timedelta(days=1)
    for n in range(count):
        hazard = Hazard(
            id=uuid.uuid4(),
            building_id=world.buildings["B1"],
            source="report",
            category="electric_bikes",
            severity="major",
            description=f"E-bike number {n} charging in the stairwell",
            reported_by=world.users["officer1"],
            due_at=late,
            status="open",
        )
        db.add(hazard)
        db.add(
            Submission(
                subject_type="hazard",
                subject_id=hazard.id,
                building_id=world.buildings["B1"],
                submitter_id=world.users["officer1"],
                stage="grid_review",
                route=["grid_review"],
                stage_due_at=now() + timedelta(days=3),
            )
        )
    db.commit()


def statements_of(app, client, headers, **params) -> tuple[list[str], dict]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    # Both engines: read-only requests run on the one in autocommit.
    engines = [app.extensions[name] for name in ("fieldapi.engine", "fieldapi.read_engine")]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get("/api/v1/inbox", query_string=params, headers=headers)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.get_json()
    return seen, response.get_json()


def test_the_statements_do_not_grow_with_the_rows(field, app, client, as_user, db, world):
    gw1 = as_user("gw1")
    client.get("/api/v1/inbox", headers=gw1)  # signed in and warmed up
    waiting_pairs(db, world, 1)
    few, body = statements_of(app, client, gw1)
    assert len(body["items"]) == 2
    # Many more, of every sort the rows join: reported hazards and their reviews, an
    # inspection's failed items, a rectification in review.
    waiting_pairs(db, world, 20)
    answer = field.submitted("mgr1", failed=("EXT-01", "EVAC-01", "LIGHT-01"))
    for hazard_id in answer["hazard_ids"]:
        set_hazard_due(db, hazard_id, now() - timedelta(hours=2))
    assert field.rectify("mgr1", answer["hazard_ids"][0]).status_code == 201
    many, body = statements_of(app, client, gw1, limit=200)
    assert len(body["items"]) >= 40
    assert {i["subject"]["type"] for i in body["items"]} == {
        "hazard",
        "inspection",
        "rectification",
    }
    assert len(many) == len(few), many
    assert len([s for s in many if "waiting" in s]) == 1  # the whole inbox in one statement
    page, body = statements_of(app, client, gw1, limit=10)
    assert len(body["items"]) == 10
    assert body["next_cursor"]
    after, _ = statements_of(app, client, gw1, limit=10, cursor=body["next_cursor"])
    assert len(page) == len(after) == len(few)


# ---------------------------------------------------------------- the documented shape


def inbox_schema(client) -> jsonschema_rs.Draft202012Validator:
    """The 200 answer of GET /inbox as the served document describes it, read closed: no
    undeclared property, none left out."""
    spec = client.get("/api/v1/openapi.json").get_json()
    answer = spec["paths"]["/api/v1/inbox"]["get"]["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]
    root = {
        **_closed(schema, complete=True),
        "components": _closed(spec["components"], complete=True),
    }
    return jsonschema_rs.Draft202012Validator(root)


def test_the_served_inbox_is_what_the_document_describes(field, client, as_user, db, world):
    arrange_a_full_inbox(field, db, world)
    (hazard_id,) = field.submitted("mgr1", failed=("EXT-01",))["hazard_ids"]
    assert field.rectify("mgr1", hazard_id).status_code == 201
    validator = inbox_schema(client)
    seen = set()
    for who, limit in (("gw1", 50), ("gw1", 2), ("mgr1", 50), ("officer1", 50)):
        body = inbox_page(client, as_user, who, limit=limit)
        assert body["items"], who
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, (who, errors)
        seen |= {(i["kind"], i["subject"] and i["subject"]["type"]) for i in body["items"]}
    assert {kind for kind, _ in seen} == {"review", "returned", "self_check_due", "hazard_due"}
    # The check is not vacuous: a field dropped, added or retyped is caught.
    body = inbox_page(client, as_user, "gw1")
    for change in (
        lambda item: item.pop("building"),
        lambda item: item.update(colour="red"),
        lambda item: item["building"].update(code=7),
        lambda item: item.update(hours_waiting="1.5"),
    ):
        broken = copy.deepcopy(body)
        change(broken["items"][0])
        assert not validator.is_valid(broken)
