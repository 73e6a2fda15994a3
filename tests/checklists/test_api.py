"""Checklist templates over HTTP: everyone reads them, admins save new versions."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from fieldapi.buildings.models import USE_TYPES
from fieldapi.checklists.defaults import DEFAULT_ITEMS, ensure_defaults
from fieldapi.checklists.models import ChecklistItem, ChecklistTemplate
from tests.buildings import assert_problem, pages

TEMPLATES = "/api/v1/templates"
ITEM_FIELDS = {"code", "label", "category", "severity", "photo_required"}


def item(code: str, **extra) -> dict:
    return {
        "code": code,
        "label": {"zh": f"检查项 {code}", "en": f"Check {code}"},
        "category": "extinguishers",
        "severity": "major",
        "photo_required": True,
        **extra,
    }


def new_version(use_type: str = "residential", *codes: str) -> dict:
    return {
        "use_type": use_type,
        "name": "住宅消防自查（修订）",
        "items": [item(c) for c in codes or ("EXT-01", "EVAC-01")],
    }


# 101 items, each valid on its own: AB-00 … AB-99, AC-00.
TOO_MANY = [item(f"{'AB' if n < 100 else 'AC'}-{n % 100:02d}") for n in range(101)]


@pytest.fixture
def defaults(app, world):
    with app.extensions["fieldapi.sessionmaker"]() as db:
        made = {t.use_type: str(t.id) for t in ensure_defaults(db)}
        db.commit()
    return made


def counts(db) -> tuple[int, int]:
    return (
        db.scalar(select(func.count()).select_from(ChecklistTemplate)),
        db.scalar(select(func.count()).select_from(ChecklistItem)),
    )


def listing(client, headers, **query) -> list[dict]:
    response = client.get(TEMPLATES, query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


# ---------------------------------------------------------------- reading


def test_the_phone_reads_the_current_template_for_a_use_type(client, as_user, defaults):
    found = listing(client, as_user("gw1"), use_type="residential")
    assert len(found) == 1
    template = found[0]
    assert template["id"] == defaults["residential"]
    assert (template["use_type"], template["version"], template["current"]) == (
        "residential",
        1,
        True,
    )
    assert template["name"]
    assert template["created_at"]
    assert [i["code"] for i in template["items"]] == [i["code"] for i in DEFAULT_ITEMS]
    assert all(set(i) == ITEM_FIELDS for i in template["items"])
    assert template["items"][0]["label"] == DEFAULT_ITEMS[0]["label"]


def test_without_a_use_type_each_use_type_shows_once(client, as_user, defaults):
    found = listing(client, as_user("mgr1"))
    assert sorted(t["use_type"] for t in found) == sorted(USE_TYPES)
    assert {t["id"] for t in found} == set(defaults.values())


def test_an_unknown_use_type_is_a_field_error(client, as_user, defaults):
    response = client.get(TEMPLATES, query_string={"use_type": "castle"}, headers=as_user("gw1"))
    assert_problem(response, 422, "validation-failed", "/use_type")


def test_an_unknown_template_is_404(client, as_user, defaults):
    response = client.get(f"{TEMPLATES}/{uuid.uuid4()}", headers=as_user("gw1"))
    assert_problem(response, 404, "not-found")


# ---------------------------------------------------------------- new versions


def test_a_new_version_becomes_current_and_the_old_one_stays_as_it_was(client, as_user, defaults):
    admin, officer = as_user("admin"), as_user("officer1")
    old_id = defaults["residential"]
    before = client.get(f"{TEMPLATES}/{old_id}", headers=officer).get_json()
    assert before["current"] is True

    created = client.post(
        TEMPLATES, json=new_version("residential", "EXT-01", "GAS-02"), headers=admin
    )
    assert created.status_code == 201, created.get_json()
    assert created.headers["ETag"]
    body = created.get_json()
    assert (body["use_type"], body["version"], body["current"]) == ("residential", 2, True)
    assert [i["code"] for i in body["items"]] == ["EXT-01", "GAS-02"]
    assert body["id"] != old_id

    current = listing(client, officer, use_type="residential")
    assert [(t["id"], t["version"]) for t in current] == [(body["id"], 2)]

    after = client.get(f"{TEMPLATES}/{old_id}", headers=officer).get_json()
    assert after["current"] is False
    assert {**after, "current": True} == before, "an old version never changes"

    both = listing(client, officer, use_type="residential", all_versions="true")
    assert [(t["version"], t["current"]) for t in both] == [(1, False), (2, True)]
    # Other use types keep their own numbering.
    assert [t["version"] for t in listing(client, officer, use_type="mixed")] == [1]


def test_the_first_template_of_a_use_type_is_version_one(client, as_user, world):
    response = client.post(TEMPLATES, json=new_version("warehouse"), headers=as_user("admin"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["version"] == 1


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        (lambda b: b["items"].append(item("EXT-01")), "/items/2/code"),
        (lambda b: b["items"].__setitem__(1, item("EXT-01")), "/items/1/code"),
        (lambda b: b["items"][0].update(severity="fatal"), "/items/0/severity"),
        (lambda b: b["items"][0]["label"].pop("zh"), "/items/0/label/zh"),
        (lambda b: b["items"][1]["label"].update(en="x" * 201), "/items/1/label/en"),
        (lambda b: b["items"][0].update(code="ext-1"), "/items/0/code"),
        (lambda b: b["items"][0].update(photo_required="yes"), "/items/0/photo_required"),
        (lambda b: b["items"][0].update(colour="red"), "/items/0/colour"),
        (lambda b: b.update(items=[]), "/items"),
        (
            lambda b: b.update(
                items=[item(f"{'AB' if n < 100 else 'AC'}-{n % 100:02d}") for n in range(101)]
            ),
            "/items",
        ),
        (lambda b: b.update(use_type="castle"), "/use_type"),
        (lambda b: b.pop("name"), "/name"),
        (lambda b: b.update(version=7), "/version"),
    ],
    ids=[
        "duplicate-code",
        "duplicate-code-second",
        "bad-severity",
        "missing-zh-label",
        "long-label",
        "bad-code",
        "photo-required-not-boolean",
        "unknown-item-field",
        "no-items",
        "too-many-items",
        "unknown-use-type",
        "no-name",
        "unknown-field",
    ],
)
def test_invalid_templates_are_refused_with_pointers(
    client, as_user, db, defaults, change, pointer
):
    body = new_version()
    change(body)
    before = counts(db)
    response = client.post(TEMPLATES, json=body, headers=as_user("admin"))
    assert_problem(response, 422, "validation-failed", pointer)
    assert counts(db) == before
    assert [t["version"] for t in listing(client, as_user("admin"), use_type="residential")] == [1]


@pytest.mark.parametrize("persona", ["mgr1", "gw1", "officer1", "office1", "police1"])
def test_only_admins_save_templates(client, as_user, db, defaults, persona):
    before = counts(db)
    response = client.post(TEMPLATES, json=new_version(), headers=as_user(persona))
    assert_problem(response, 403, "forbidden")
    assert counts(db) == before


# ---------------------------------------------------------------- caching and paging


def test_a_template_the_phone_holds_answers_304_until_it_stops_being_current(
    client, as_user, defaults
):
    headers = as_user("gw1")
    path = f"{TEMPLATES}/{defaults['commercial']}"
    first = client.get(path, headers=headers)
    etag = first.headers["ETag"]
    assert etag
    unchanged = client.get(path, headers={**headers, "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.headers["ETag"] == etag
    assert not unchanged.data

    client.post(TEMPLATES, json=new_version("commercial"), headers=as_user("admin"))
    stale = client.get(path, headers={**headers, "If-None-Match": etag})
    assert stale.status_code == 200
    assert stale.headers["ETag"] != etag
    assert stale.get_json()["current"] is False


def test_every_version_pages_through_once_in_order(client, as_user, defaults):
    admin = as_user("admin")
    for use_type in ("residential", "residential", "mixed"):
        response = client.post(TEMPLATES, json=new_version(use_type), headers=admin)
        assert response.status_code == 201
    found = pages(client, as_user("police1"), TEMPLATES, all_versions="true", limit=3)
    assert len(found) == 4
    assert all(len(page) <= 3 for page in found)
    seen = [(t["use_type"], t["version"]) for page in found for t in page]
    assert seen == sorted(seen)
    expected = {(u, 1) for u in USE_TYPES} | {("residential", 2), ("residential", 3), ("mixed", 2)}
    assert len(seen) == len(expected)
    assert set(seen) == expected

    current = [t for page in pages(client, admin, TEMPLATES, limit=3) for t in page]
    latest = dict.fromkeys(USE_TYPES, 1) | {"residential": 3, "mixed": 2}
    assert sorted((t["use_type"], t["version"]) for t in current) == sorted(latest.items())
    assert all(t["current"] for t in current)


def test_a_forged_cursor_is_refused(client, as_user, defaults):
    response = client.get(
        TEMPLATES, query_string={"cursor": "bm90LWEtY3Vyc29y"}, headers=as_user("gw1")
    )
    assert_problem(response, 400, "invalid-cursor")
