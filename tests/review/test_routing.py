"""The routing table: read and replaced by admins, and what it does to new submissions."""

from __future__ import annotations

import copy

import pytest

from fieldapi.audit.service import digest_of
from fieldapi.review.defaults import DEFAULT_RULES
from tests.fieldwork.conftest import assert_problem

RULE_FIELDS = (
    "subject_type",
    "inspection_kind",
    "has_failed_items",
    "severities",
    "stages",
    "description",
)
URL = "/api/v1/routing-rules"


def read_table(client, as_user) -> tuple[str, list[dict]]:
    response = client.get(URL, headers=as_user("admin"))
    assert response.status_code == 200, response.get_json()
    return response.headers["ETag"], response.get_json()["rules"]


def writable(rules: list[dict]) -> list[dict]:
    """Rules as a client sends them back: the conditions, stages and description."""
    return [{name: rule[name] for name in RULE_FIELDS} for rule in rules]


def put_table(client, as_user, rules, etag, who="admin"):
    headers = dict(as_user(who))
    if etag is not None:
        headers["If-Match"] = etag
    return client.put(URL, json={"rules": rules}, headers=headers)


def clean_self_checks_to_the_office(rules: list[dict]) -> list[dict]:
    table = writable(rules)
    first = table[0]
    assert (first["inspection_kind"], first["has_failed_items"]) == ("self_check", False)
    first["stages"] = ["grid_review", "office_review"]
    first["description"] = "Clean self-checks are seen by the fire protection office too."
    return table


def assert_table_unchanged(client, as_user, etag, rules) -> None:
    assert read_table(client, as_user) == (etag, rules)


def test_admin_reads_the_default_table(client, as_user, world):
    etag, rules = read_table(client, as_user)
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert writable(rules) == [dict(rule) for rule in DEFAULT_RULES]
    assert [rule["position"] for rule in rules] == list(range(1, len(DEFAULT_RULES) + 1))
    assert len({rule["id"] for rule in rules}) == len(rules)
    # Reading again gives the same ETag.
    assert read_table(client, as_user)[0] == etag


@pytest.mark.parametrize("who", ["mgr1", "gw1", "officer1", "office1", "police1"])
def test_only_admins_read_or_write_the_table(client, as_user, world, who):
    etag, rules = read_table(client, as_user)
    assert_problem(client.get(URL, headers=as_user(who)), 403, "forbidden")
    response = put_table(client, as_user, writable(rules), etag, who=who)
    assert_problem(response, 403, "forbidden")
    assert_table_unchanged(client, as_user, etag, rules)


def test_put_needs_if_match(client, as_user, world):
    etag, rules = read_table(client, as_user)
    response = put_table(client, as_user, clean_self_checks_to_the_office(rules), None)
    assert_problem(response, 428, "precondition-required")
    assert_table_unchanged(client, as_user, etag, rules)


def test_put_on_a_stale_table_is_412(client, as_user, world):
    stale, rules = read_table(client, as_user)
    first = put_table(client, as_user, clean_self_checks_to_the_office(rules), stale)
    assert first.status_code == 200, first.get_json()
    etag, now = read_table(client, as_user)
    assert etag != stale
    response = put_table(client, as_user, writable(rules), stale)
    assert_problem(response, 412, "precondition-failed")
    assert_table_unchanged(client, as_user, etag, now)


CATCH_ALL = {"stages": ["grid_review", "office_review", "police_review"]}


def with_rule(rule: dict) -> list[dict]:
    return [rule, dict(CATCH_ALL)]


INVALID = {
    "stages out of order": (with_rule({"stages": ["office_review", "grid_review"]}),
                            "/rules/0/stages"),
    "duplicate stage": (with_rule({"stages": ["grid_review", "grid_review"]}), "/rules/0/stages"),
    "unknown stage": (with_rule({"stages": ["fire_review"]}), "/rules/0/stages/0"),
    "closed is not a review stage": (with_rule({"stages": ["closed"]}), "/rules/0/stages/0"),
    "four stages": (with_rule({"stages": ["grid_review", "office_review", "police_review",
                                          "police_review"]}), "/rules/0/stages"),
    "no stages": (with_rule({"subject_type": "hazard"}), "/rules/0/stages"),
    "last rule not catch-all": ([{"subject_type": "hazard", "stages": []}], "/rules"),
    "last rule names severities": ([dict(CATCH_ALL), {"severities": ["minor"], "stages": []}],
                                   "/rules"),
    "inspection kind on a hazard": (
        with_rule({"subject_type": "hazard", "inspection_kind": "patrol", "stages": []}),
        "/rules/0/inspection_kind",
    ),
    "unknown subject type": (with_rule({"subject_type": "photo", "stages": []}),
                             "/rules/0/subject_type"),
    "unknown inspection kind": (with_rule({"inspection_kind": "audit", "stages": []}),
                                "/rules/0/inspection_kind"),
    "unknown severity": (with_rule({"severities": ["fatal"], "stages": []}),
                         "/rules/0/severities/0"),
    "empty severities": (with_rule({"severities": [], "stages": []}), "/rules/0/severities"),
    "stages as a string": (with_rule({"stages": "grid_review"}), "/rules/0/stages"),
    "has_failed_items as a string": (with_rule({"has_failed_items": "true", "stages": []}),
                                     "/rules/0/has_failed_items"),
    "has_failed_items as a number": (with_rule({"has_failed_items": 1, "stages": []}),
                                     "/rules/0/has_failed_items"),
    "severities as a string": (with_rule({"severities": "critical", "stages": []}),
                               "/rules/0/severities"),
    "subject type as a number": (with_rule({"subject_type": 5, "stages": []}),
                                 "/rules/0/subject_type"),
    "description too long": (with_rule({"stages": [], "description": "x" * 201}),
                             "/rules/0/description"),
    "unknown field": (with_rule({"stages": [], "priority": 1}), "/rules/0/priority"),
    "no rules": ([], "/rules"),
    "rules not a list": ({"stages": []}, "/rules"),
}  # fmt: skip


@pytest.mark.parametrize(("rules", "pointer"), INVALID.values(), ids=INVALID.keys())
def test_an_invalid_table_is_422(client, as_user, world, rules, pointer):
    etag, before = read_table(client, as_user)
    response = put_table(client, as_user, copy.deepcopy(rules), etag)
    assert_problem(response, 422, "validation-failed", pointer)
    assert_table_unchanged(client, as_user, etag, before)


def test_a_new_table_routes_new_submissions_only(field, client, as_user, world):
    before = field.submitted("mgr1")["submission_id"]
    assert field.submission("admin", before).get_json()["route"] == ["grid_review"]

    etag, rules = read_table(client, as_user)
    table = clean_self_checks_to_the_office(rules)
    response = put_table(client, as_user, table, etag)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()["rules"]
    assert writable(answer) == table
    assert [rule["position"] for rule in answer] == list(range(1, len(table) + 1))
    assert response.headers["ETag"] != etag
    assert read_table(client, as_user) == (response.headers["ETag"], answer)

    after = field.submitted("mgr1")
    assert after["stage"] == "grid_review"
    moved = field.decide("gw1", after["submission_id"], "approve")
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["route"] == ["grid_review", "office_review"]
    assert moved.get_json()["stage"] == "office_review"
    assert field.approve_all(after["submission_id"])["history"][-1]["actor_role"] == "fire_office"

    # The one already in review keeps the route it was given: one approval closes it.
    kept = field.decide("gw1", before, "approve")
    assert kept.status_code == 200, kept.get_json()
    assert kept.get_json()["route"] == ["grid_review"]
    assert kept.get_json()["stage"] == "closed"


def test_a_rule_with_no_stages_closes_on_submit(field, client, as_user, world):
    answer = field.submitted("office1", kind="verification")
    assert answer["stage"] == "closed"
    submission = field.submission("office1", answer["submission_id"]).get_json()
    assert submission["stage"] == "closed"
    assert submission["route"] == []
    assert submission["closed_at"] is not None
    assert submission["due_at"] is None
    assert [h["decision"] for h in submission["history"]] == ["submit"]
    assert submission["history"][0]["to_stage"] == "closed"
    assert submission["history"][0]["actor_role"] == "fire_office"
    assert not any(i["submission_id"] == answer["submission_id"] for i in field.inbox("gw1"))
    building = client.get(f"/api/v1/buildings/{world.buildings['B1']}", headers=as_user("admin"))
    assert building.get_json()["last_inspected_at"] is not None


def test_an_admin_made_empty_rule_closes_clean_patrols(field, client, as_user, world):
    etag, rules = read_table(client, as_user)
    table = writable(rules)
    patrol = next(rule for rule in table if rule["inspection_kind"] == "patrol")
    patrol["stages"] = []
    response = put_table(client, as_user, table, etag)
    assert response.status_code == 200, response.get_json()
    clean = field.submitted("gw1", kind="patrol")
    assert clean["stage"] == "closed"
    failed = field.submitted("gw1", kind="patrol", failed=("LIGHT-01",))
    assert failed["stage"] == "grid_review"
    route = field.submission("gw1", failed["submission_id"]).get_json()["route"]
    assert route == ["grid_review", "office_review", "police_review"]


def test_the_change_is_in_the_audit_trail(client, as_user, world):
    etag, rules = read_table(client, as_user)
    response = put_table(client, as_user, clean_self_checks_to_the_office(rules), etag)
    assert response.status_code == 200, response.get_json()
    events = client.get(
        "/api/v1/audit/events",
        query_string={"object_type": "routing_rules", "object_id": "table"},
        headers=as_user("admin"),
    )
    assert events.status_code == 200, events.get_json()
    items = events.get_json()["items"]
    assert [e["action"] for e in items] == ["routing.update"]
    event = items[0]
    assert event["actor_id"] == str(world.users["admin"])
    assert event["building_id"] is None
    # What was recorded is the table as it now stands.
    assert event["digest"] == digest_of({"rules": response.get_json()["rules"]})

    # A refused change writes nothing.
    put_table(client, as_user, writable(rules), etag)
    again = client.get(
        "/api/v1/audit/events",
        query_string={"object_type": "routing_rules"},
        headers=as_user("admin"),
    )
    assert [e["seq"] for e in again.get_json()["items"]] == [event["seq"]]


def test_the_table_as_read_can_be_sent_back(client, as_user, world):
    """Ids and positions as read are accepted and ignored: the list's order is the order."""
    etag, rules = read_table(client, as_user)
    response = put_table(client, as_user, list(reversed(rules[:-1])) + rules[-1:], etag)
    assert response.status_code == 200, response.get_json()
    stored = response.get_json()["rules"]
    assert writable(stored) == writable(list(reversed(rules[:-1])) + rules[-1:])
    assert [rule["position"] for rule in stored] == list(range(1, len(rules) + 1))
