"""Every list the contract has runs as many SQL statements for 200 items as for 10.

A list is any GET whose answer carries ``items`` (mobile_contract/openapi.json): a list added
later fails ``test_every_list_is_counted`` until it is given a case here. A paged list is
asked for a page of 10 and a page of 200 (and once more with a filter, where it has them),
a list without pages for an object holding 10 items and one holding 200; each as a persona
that sees the rows, as admin and as a persona whose scope the SQL must work out. Growing by
a statement or more per row (a lazy load, a lookup per row in a presenter, a scope check per
row) fails, printing the statements of both requests. The rows are tests/support/bulk.py's.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update

from fieldapi.buildings.models import Building
from fieldapi.checklists.models import ChecklistTemplate
from fieldapi.core.db import utcnow
from fieldapi.photos.models import Photo, PhotoUse
from fieldapi.sync.capture import BUILDING_CHILDREN
from fieldapi.sync.service import COPY_ORDER
from tests.conftest import _empty_tables, _restore_reference_data
from tests.support.bulk import Seeded
from tests.support.statements import Api, report, seeded_api

SPEC = json.loads(
    (Path(__file__).resolve().parents[2] / "mobile_contract" / "openapi.json").read_text()
)
SIZES = (10, 200)


def _resolved(schema: dict) -> dict:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def lists_in_contract() -> set[str]:
    """Every GET path whose successful answer has an array of ``items``."""
    found = set()
    for path, operations in SPEC["paths"].items():
        answers = operations.get("get", {}).get("responses", {})
        for status, answer in answers.items():
            if not status.startswith("2"):
                continue
            for media in answer.get("content", {}).values():
                properties = _resolved(media.get("schema", {})).get("properties", {})
                if _resolved(properties.get("items", {})).get("type") == "array":
                    found.add(path)
    return found


@dataclass(frozen=True)
class Paged:
    """A list with ``limit``: pages of 10 and 200 of the same rows."""

    personas: tuple[str, ...]
    url: Callable[[Seeded], str] | None = None  # the path itself unless it names an id
    params: dict | None = None  # sent with every call
    filters: Callable[[Seeded], dict] | None = None

    def calls(self, path: str, seeded: Seeded, filtered: bool) -> list[tuple[str, dict]]:
        url = self.url(seeded) if self.url else path
        base = {**(self.params or {}), **(self.filters(seeded) if filtered else {})}
        return [(url, {**base, "limit": size}) for size in SIZES]


@dataclass(frozen=True)
class Whole:
    """A list without pages, of the items of one object: one of 10 items, one of 200."""

    personas: tuple[str, ...]
    url: Callable[[Seeded, int], str]
    filters = None

    def calls(self, _path: str, seeded: Seeded, _filtered: bool) -> list[tuple[str, dict]]:
        return [(self.url(seeded, size), {}) for size in SIZES]


def _areas(s: Seeded) -> dict:
    return {"kind": "grid", "parent_id": str(s.world.areas["Shuiwei"])}


def _b1(s: Seeded) -> str:
    return str(s.world.buildings["B1"])


CASES: dict[str, Paged | Whole] = {
    "/api/v1/areas": Paged(("admin", "officer1"), filters=_areas),
    "/api/v1/grids": Paged(
        ("admin", "officer1"), filters=lambda s: {"parent_id": str(s.world.areas["Shuiwei"])}
    ),
    "/api/v1/users": Paged(("admin",), filters=lambda s: {"role": "grid_staff", "q": "crew"}),
    "/api/v1/buildings": Paged(
        ("admin", "gw1"),
        filters=lambda s: {"grid_id": str(s.world.areas["G1"]), "use_type": "residential"},
    ),
    "/api/v1/buildings/{building_id}/history": Paged(
        ("admin", "mgr1"), url=lambda s: f"/api/v1/buildings/{_b1(s)}/history"
    ),
    "/api/v1/buildings/{building_id}/timeline": Paged(
        ("admin", "office1"), url=lambda s: f"/api/v1/buildings/{_b1(s)}/timeline"
    ),
    "/api/v1/templates": Paged(
        ("admin", "gw1"),
        params={"all_versions": "true"},
        filters=lambda s: {"use_type": "residential"},
    ),
    "/api/v1/templates/{template_id}": Whole(
        ("admin", "gw1"), url=lambda s, n: f"/api/v1/templates/{s.templates[f'items{n}']}"
    ),
    "/api/v1/inspections": Paged(
        ("admin", "gw1"), filters=lambda s: {"building_id": _b1(s), "status": "submitted"}
    ),
    "/api/v1/inspections/{inspection_id}": Whole(
        ("admin", "gw1"), url=lambda s, n: f"/api/v1/inspections/{s.inspections[f'results{n}']}"
    ),
    "/api/v1/hazards": Paged(
        ("admin", "mgr1"), filters=lambda s: {"building_id": _b1(s), "severity": "major"}
    ),
    "/api/v1/hazards/{hazard_id}/rectifications": Whole(
        ("admin", "mgr1"),
        url=lambda s, n: f"/api/v1/hazards/{s.hazards[f'rectified{n}']}/rectifications",
    ),
    "/api/v1/submissions": Paged(
        ("admin", "gw1"), filters=lambda s: {"stage": "grid_review", "building_id": _b1(s)}
    ),
    "/api/v1/inbox": Paged(("gw1", "mgr1")),
    "/api/v1/audit/events": Paged(
        ("admin", "office1"), filters=lambda s: {"building_id": _b1(s), "object_type": "inspection"}
    ),
}


def _variants():
    for path, case in CASES.items():
        for persona in case.personas:
            yield pytest.param(path, persona, False, id=f"{path} as {persona}")
            if case.filters is not None:
                yield pytest.param(path, persona, True, id=f"{path} as {persona}, filtered")


@pytest.fixture(scope="module")
def api(migrated, _world_rows) -> Api:
    """The test world with hundreds of rows of every kind; emptied when the module is done."""
    engine = migrated.extensions["fieldapi.engine"]
    try:
        yield seeded_api(migrated, _world_rows)
    finally:
        _empty_tables(engine)
        _restore_reference_data(migrated)


def test_every_list_is_counted():
    lists = lists_in_contract()
    assert "/api/v1/inspections" in lists  # the walk found what it walks for
    assert not lists - set(CASES), (
        f"lists in the contract without a case here: {lists - set(CASES)}"
    )
    assert not set(CASES) - lists, (
        f"cases for lists the contract no longer has: {set(CASES) - lists}"
    )


@pytest.mark.parametrize(("path", "persona", "filtered"), list(_variants()))
def test_statements_do_not_grow_with_the_page(api, path, persona, filtered):
    small, large = (
        api.count(persona, url, params)
        for url, params in CASES[path].calls(path, api.seeded, filtered)
    )
    # Full pages, or the comparison says nothing.
    assert [len(small.body["items"]), len(large.body["items"])] == list(SIZES)
    _same_count(f"{path} as {persona}{', filtered' if filtered else ''}", small, large)


@pytest.mark.parametrize(
    ("kind", "statuses"),
    [
        ("inspections", {"draft", "waiting_photos", "submitted"}),
        ("hazards", {"waiting_photos", "open", "rectifying"}),
    ],
)
def test_a_page_shows_each_record_as_it_shows_alone(api, kind, statuses):
    """What a page reads once for all its records is each record's own (flags, photos
    awaited, stage, hazards found): every fifth record of a page of 200, and the first of
    each status (and source: found or reported)."""
    page = api.get("admin", f"/api/v1/{kind}", {"limit": 200}).get_json()["items"]
    assert {item["status"] for item in page} == statuses
    firsts = {(item["status"], item.get("source")): item for item in reversed(page)}
    for item in [*page[::5], *firsts.values()]:
        alone = api.get("admin", f"/api/v1/{kind}/{item['id']}")
        assert alone.get_json() == item


def _same_count(name: str, small, large) -> None:
    counts = len(small), len(large)
    print(f"\n{name}: {counts[0]} statements for {SIZES[0]}, {counts[1]} for {SIZES[1]}")
    assert counts[0] == counts[1], report(small, large)


# --- sync ----------------------------------------------------------------------------------
# GET /api/v1/sync answers ``changes`` rather than ``items``: its pages are compared kind by
# kind, a page of 10 and one of 200 objects of the same kind, from a cursor where a copy
# starts on that kind, and from one where the change log holds 200 changes of it.

SYNC_PERSONAS = ("admin", "gw1")


def _pull(api: Api, persona: str, cursor: str | None, limit: int) -> dict:
    answer = api.get(persona, "/api/v1/sync", _sync_params(cursor, limit))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def _sync_params(cursor: str | None, limit: int) -> dict:
    return {"limit": limit, **({"cursor": cursor} if cursor else {})}


def _to_end(api: Api, persona: str, cursor: str | None) -> tuple[str, Counter]:
    """Pull until nothing is left: the last cursor, and how many objects came of each kind."""
    counts: Counter = Counter()
    while True:
        page = _pull(api, persona, cursor, 5000)
        counts.update({kind: len(delta["upserted"]) for kind, delta in page["changes"].items()})
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return cursor, counts


def _touch(app, world, kind: str) -> None:
    """Change every object of a kind in grid G1 at once: the log numbers them in a row."""
    b1, g1 = world.buildings["B1"], world.areas["G1"]
    with app.extensions["fieldapi.sessionmaker"]() as db, db.begin():
        if kind == "templates":
            for template in db.scalars(select(ChecklistTemplate)):
                template.name += " (reworded)"
        elif kind == "photos":
            used = select(PhotoUse.photo_id).where(PhotoUse.building_id == b1)
            db.execute(update(Photo).where(Photo.id.in_(used)).values(device="Phone 2"))
        elif kind == "buildings":
            db.execute(update(Building).where(Building.grid_id == g1).values(updated_at=utcnow()))
        else:
            model = BUILDING_CHILDREN[kind]
            db.execute(update(model).where(model.building_id == b1).values(updated_at=utcnow()))


@dataclass
class SyncPlaces:
    copied: dict[str, Counter]  # persona → objects of each kind in a full copy
    before_changes: dict[tuple[str, str], str]  # (kind, persona) → cursor before its changes


@pytest.fixture(scope="module")
def sync_places(api) -> SyncPlaces:
    places = SyncPlaces({}, {})
    ends = {}
    for persona in SYNC_PERSONAS:
        ends[persona], places.copied[persona] = _to_end(api, persona, None)
    for kind in COPY_ORDER:
        for persona in SYNC_PERSONAS:
            places.before_changes[kind, persona] = ends[persona]
        _touch(api.app, api.seeded.world, kind)
        for persona in SYNC_PERSONAS:
            ends[persona], _ = _to_end(api, persona, ends[persona])
    return places


def _kinds(counted) -> dict[str, int]:
    changes = counted.body["changes"]
    found = {kind: len(d["upserted"]) + len(d["deleted"]) for kind, d in changes.items()}
    return {kind: n for kind, n in found.items() if n}


@pytest.mark.parametrize("kind", COPY_ORDER)
@pytest.mark.parametrize("persona", SYNC_PERSONAS)
def test_a_copy_page_runs_as_many_statements_for_200_objects(api, sync_places, persona, kind):
    counts = sync_places.copied[persona]
    assert counts[kind] > SIZES[1]
    before = sum(counts[k] for k in COPY_ORDER[: COPY_ORDER.index(kind)])
    cursor = _pull(api, persona, None, before)["next_cursor"] if before else None
    small, large = (api.count(persona, "/api/v1/sync", _sync_params(cursor, n)) for n in SIZES)
    assert [_kinds(small), _kinds(large)] == [{kind: n} for n in SIZES]
    _same_count(f"sync copy of {kind} as {persona}", small, large)


@pytest.mark.parametrize("kind", COPY_ORDER)
@pytest.mark.parametrize("persona", SYNC_PERSONAS)
def test_a_delta_page_runs_as_many_statements_for_200_changes(api, sync_places, persona, kind):
    cursor = sync_places.before_changes[kind, persona]
    small, large = (api.count(persona, "/api/v1/sync", _sync_params(cursor, n)) for n in SIZES)
    assert [_kinds(small), _kinds(large)] == [{kind: n} for n in SIZES]
    _same_count(f"sync delta of {kind} as {persona}", small, large)
