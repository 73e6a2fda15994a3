"""Hundreds of rows of every kind the lists show, written in bulk into the test world.

What lies in a building lies in grid G1, which every persona of tests/support/world.py
sees: 240 more buildings (units, residents, shops, equipment), 240 more grids under Shuiwei,
240 accounts, 240 more versions of the residential template, 240 versions of B1's file, and
on B1 240 rounds of field work. A round, newest first, is a self-check or patrol (now and then
a draft, or one waiting for a photo) with photos and a failed item that became a hazard, a
hazard reported on its own, and its rectification, each with the submission that carries it
through review. Records of a round lie minutes apart, so every page of a list, the first
ten rows included, holds every variety of row.

Besides, one of each kind of object whose answer lists ``items`` comes twice, with 10 and
with 200: a template's checklist items, an inspection's results, a hazard's rectifications.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from fieldapi.areas.models import Area
from fieldapi.audit import service as audit
from fieldapi.buildings.models import Building, BuildingChange, Equipment, Resident, Shop, Unit
from fieldapi.checklists.defaults import DEFAULT_ITEMS, ensure_defaults
from fieldapi.checklists.models import ChecklistItem, ChecklistTemplate
from fieldapi.fieldwork.models import (
    Hazard,
    Inspection,
    InspectionResult,
    PhotoWait,
    Rectification,
)
from fieldapi.photos.models import Photo, PhotoUse
from fieldapi.review.models import Submission, SubmissionEvent
from fieldapi.sync import documents
from fieldapi.users.models import User, UserArea
from tests.support.world import World

ROUNDS = 240
# The order rows go in: every table after those it refers to.
TABLES = (
    Area,
    User,
    UserArea,
    ChecklistTemplate,
    ChecklistItem,
    Building,
    Unit,
    Resident,
    Shop,
    Equipment,
    BuildingChange,
    Photo,
    PhotoUse,
    Inspection,
    InspectionResult,
    Hazard,
    Rectification,
    PhotoWait,
    Submission,
    SubmissionEvent,
)
CODES = [item["code"] for item in DEFAULT_ITEMS]
FAILED = "EXT-01"  # the item each round's inspection fails: major, photographed
REVIEWERS = {"grid_review": "gw1", "office_review": "office1", "police_review": "police1"}


@dataclass
class Seeded:
    """What was written, by the names the tests look it up by."""

    world: World
    templates: dict[str, uuid.UUID] = field(default_factory=dict)  # items10, items200
    inspections: dict[str, uuid.UUID] = field(default_factory=dict)  # results10, results200
    hazards: dict[str, uuid.UUID] = field(default_factory=dict)  # rectified10, rectified200


class _Rows:
    def __init__(self, world: World, now: datetime) -> None:
        self.world = world
        self.now = now
        self.rows: dict[type, list[dict[str, Any]]] = {model: [] for model in TABLES}
        self._numbers = itertools.count(1)

    def add(self, model: type, **values) -> uuid.UUID | None:
        self.rows[model].append(values)
        return values.get("id")

    def user(self, name: str) -> uuid.UUID:
        return self.world.users[name]

    def photos(self, who: str, subject_type: str, subject_id, at: datetime, count=1) -> list:
        """Verified photos used by one record, the first one flagged."""
        ids = []
        for n in range(count):
            number = next(self._numbers)
            photo_id = self.add(
                Photo,
                id=uuid.uuid4(),
                uploader_id=self.user(who),
                sha256=f"{number:064x}",
                size=150_000 + number,
                content_type="image/jpeg",
                status="verified",
                upload_expires_at=at + timedelta(minutes=15),
                format="JPEG",
                width=4000,
                height=3000,
                captured_at=at - timedelta(minutes=2),
                lat=22.528,
                lon=114.063,
                device="Phone",
                phash=f"{number:016x}",
                created_at=at,
                verified_at=at,
            )
            self.add(
                PhotoUse,
                id=uuid.uuid4(),
                photo_id=photo_id,
                subject_type=subject_type,
                subject_id=subject_id,
                building_id=self.world.buildings["B1"],
                attached_by=self.user(who),
                attached_at=at,
                flags=["stale"] if n == 0 else [],
                flag_details={"stale": {"hours": 100}} if n == 0 else {},
            )
            ids.append(str(photo_id))
        return ids

    def submission(self, subject_type, subject_id, who, at, stages, route=None) -> None:
        """A submission that went through ``stages`` (the first is where it was submitted)."""
        submission_id = uuid.uuid4()
        route = route or ["grid_review", "office_review"]
        events = [("submit", None, stages[0], who, at)]
        for step, (before, after) in enumerate(itertools.pairwise(stages), start=1):
            decision = "return" if after == "returned" else "approve"
            events.append(
                (decision, before, after, REVIEWERS[before], at + timedelta(seconds=step))
            )
        last_at = events[-1][4]
        stage = stages[-1]
        self.add(
            Submission,
            id=submission_id,
            subject_type=subject_type,
            subject_id=subject_id,
            building_id=self.world.buildings["B1"],
            submitter_id=self.user(who),
            stage=stage,
            route=route,
            escalated=False,
            submitted_at=at,
            stage_entered_at=last_at,
            stage_due_at=None if stage in ("closed", "returned") else last_at + timedelta(hours=72),
            closed_at=last_at if stage == "closed" else None,
            version=len(events),
            created_at=at,
            updated_at=last_at,
        )
        for seq, (decision, before, after, actor, when) in enumerate(events, start=1):
            self.add(
                SubmissionEvent,
                id=uuid.uuid4(),
                submission_id=submission_id,
                seq=seq,
                decision=decision,
                from_stage=before,
                to_stage=after,
                actor_id=self.user(actor),
                actor_role="building_manager" if decision == "submit" else "grid_staff",
                reason="Photo unclear" if decision == "return" else None,
                items=[FAILED] if decision == "return" else [],
                version=seq,
                at=when,
            )

    def wait(self, subject_type: str, subject_id, who: str, at: datetime) -> None:
        # A photo whose upload slot expired before its bytes came: no photo row yet.
        self.add(
            PhotoWait,
            subject_type=subject_type,
            subject_id=subject_id,
            photo_id=uuid.uuid4(),
            actor_id=self.user(who),
            since=at,
        )


def _templates(rows: _Rows, db, seeded: Seeded) -> list[uuid.UUID]:
    """Residential versions 2…241 of the default items; commercial ones of 10 and 200 items."""
    residential = [t.id for t in ensure_defaults(db) if t.use_type == "residential"]
    db.flush()
    versions = [("residential", n, DEFAULT_ITEMS) for n in range(2, ROUNDS + 2)]
    made = [
        {"code": f"C{n:03d}", "category": "other", "severity": "major", "photo_required": n % 2}
        for n in range(1, 201)
    ]
    versions += [("commercial", 2, made[:10]), ("commercial", 3, made)]
    for use_type, version, items in versions:
        template_id = rows.add(
            ChecklistTemplate,
            id=uuid.uuid4(),
            use_type=use_type,
            version=version,
            name=f"Self-check v{version}",
            created_by=rows.user("admin"),
            created_at=rows.now - timedelta(days=400 - version),
        )
        for position, item in enumerate(items, start=1):
            rows.add(
                ChecklistItem,
                template_id=template_id,
                position=position,
                code=item["code"],
                label_zh=f"检查 {item['code']}",
                label_en=f"Check {item['code']}",
                category=item["category"],
                severity=item["severity"],
                photo_required=bool(item["photo_required"]),
            )
        if use_type == "residential":
            residential.append(template_id)
    seeded.templates = {"items10": rows.rows[ChecklistTemplate][-2]["id"]}
    seeded.templates["items200"] = rows.rows[ChecklistTemplate][-1]["id"]
    return residential


def _places_and_people(rows: _Rows, db) -> None:
    world = rows.world
    shuiwei = db.get(Area, world.areas["Shuiwei"])
    for n in range(ROUNDS):
        area_id = uuid.uuid4()
        rows.add(
            Area,
            id=area_id,
            name=f"Grid {n:03d}",
            kind="grid",
            code=None,
            parent_id=shuiwei.id,
            path=f"{shuiwei.path}{area_id}/",
            boundary=None,
            version=1,
        )
        user_id = rows.add(
            User,
            id=uuid.uuid4(),
            username=f"crew-{n:03d}",
            display_name=f"Crew member {n}",
            role="grid_staff",
            password_hash="$argon2id$not-a-password",
            active=True,
            version=1,
        )
        for grid in ("G1", "G2")[: 1 + n % 2]:
            rows.add(UserArea, user_id=user_id, area_id=world.areas[grid])
    for n in range(ROUNDS):
        building_id = rows.add(
            Building,
            id=uuid.uuid4(),
            code=f"FT-G1-{n:04d}",
            name=f"Shuiwei Building {n}",
            address=f"{n} Shuiwei Road, Futian",
            grid_id=world.areas["G1"],
            lat=22.528,
            lon=114.063,
            use_type="residential",
            responsibility={"owner": {"name": f"Owner {n}", "phone": "13812345678"}},
            self_check_interval_days=30,
            # Every other one is overdue: grid staff hear of it in their inbox.
            next_self_check_due_at=rows.now + timedelta(days=(5 if n % 2 else -5) - n / 100),
            risk_level="low",
            version=1,
        )
        for floor in (1, 2):
            unit_id = rows.add(
                Unit, id=uuid.uuid4(), building_id=building_id, label=f"{floor}01", floor=floor
            )
            rows.add(
                Resident,
                id=uuid.uuid4(),
                unit_id=unit_id,
                name=f"Resident {n}-{floor}",
                id_number="11010519491231002X",
                phone="13812345678",
                kind="permanent",
                is_tenant=floor == 2,
            )
        rows.add(Shop, id=uuid.uuid4(), building_id=building_id, name=f"Shop {n}",
                 business_type="grocery", floor=1)  # fmt: skip
        for expires in (date(2020, 1, 1), date(2999, 1, 1)):
            rows.add(Equipment, id=uuid.uuid4(), building_id=building_id, kind="extinguisher",
                     count=2, location="stairwell", expires_on=expires)  # fmt: skip
    for version in range(2, ROUNDS + 2):
        rows.add(
            BuildingChange,
            id=uuid.uuid4(),
            building_id=world.buildings["B1"],
            version=version,
            actor_id=rows.user("mgr1"),
            at=rows.now - timedelta(days=300 - version),
            action="updated",
            changes={
                "notes": {"old": f"note {version - 1}", "new": f"note {version}"},
                "units": {"old": None, "new": [{"label": "101", "residents": [
                    {"name": "Li Wei", "id_number": "11010519491231002X", "phone": "13812345678"}
                ]}]},
            },
        )  # fmt: skip


def _inspection(rows: _Rows, inspection_id, at, template_id, who, kind, status, results) -> None:
    """An inspection with ``results`` as (code, result, photo_ids)."""
    findings = []
    for position, (code, result, photo_ids) in enumerate(results):
        note = f"{code} found failing" if result == "fail" else None
        rows.add(InspectionResult, inspection_id=inspection_id, position=position, code=code,
                 result=result, note=note, photo_ids=photo_ids)  # fmt: skip
        if result != "pass" or photo_ids:
            entry = {"code": code, "result": result, **({"note": note} if note else {})}
            findings.append({**entry, **({"photo_ids": photo_ids} if photo_ids else {})})
    rows.add(
        Inspection,
        id=inspection_id,
        building_id=rows.world.buildings["B1"],
        kind=kind,
        template_id=template_id,
        inspector_id=rows.user(who),
        performed_at=at,
        lat=22.528,
        lon=114.063,
        note=None,
        status=status,
        submitted_at=None if status == "draft" else at + timedelta(seconds=30),
        version=1 if status == "draft" else 2,
        findings=findings,
        unchecked=[],
        created_at=at,
        updated_at=at,
    )


def _hazard(rows: _Rows, hazard_id, at, who, *, source, inspection_id=None, photo_ids=(),
            status="open", overdue=False) -> None:  # fmt: skip
    rows.add(
        Hazard,
        id=hazard_id,
        building_id=rows.world.buildings["B1"],
        source=source,
        inspection_id=inspection_id,
        item_code=FAILED if source == "inspection" else None,
        category="extinguishers" if source == "inspection" else "electric_bikes",
        severity="major",
        description="Found on site",
        photo_ids=list(photo_ids),
        lat=22.528,
        lon=114.063,
        reported_by=rows.user(who),
        reported_at=at,
        due_at=rows.now - timedelta(hours=1) if overdue else at + timedelta(days=30),
        status=status,
        closed_at=None,
        version=1,
        created_at=at,
        updated_at=at,
    )


def _rectification(rows: _Rows, at, hazard_id, *, waiting=False, stages=("grid_review",)):
    rectification_id = uuid.uuid4()
    photo_ids = rows.photos("mgr1", "rectification", rectification_id, at)
    rows.add(
        Rectification,
        id=rectification_id,
        hazard_id=hazard_id,
        building_id=rows.world.buildings["B1"],
        note="Bikes moved out, socket removed",
        photo_ids=photo_ids,
        submitted_by=rows.user("mgr1"),
        status="waiting_photos" if waiting else "submitted",
        version=1,
        created_at=at,
        updated_at=at,
    )
    if waiting:
        rows.wait("rectification", rectification_id, "mgr1", at)
    else:
        rows.submission("rectification", rectification_id, "mgr1", at, list(stages))


INSPECTION_STAGES = (
    ["grid_review"],
    ["grid_review", "office_review"],
    ["grid_review"],
    ["grid_review", "returned"],
    ["grid_review", "office_review", "closed"],
)


def _round(rows: _Rows, n: int, templates: list[uuid.UUID]) -> None:
    """The field work of round ``n`` on B1, ``n`` hours and a few minutes ago."""
    at = rows.now - timedelta(hours=n + 1)
    who, kind = ("mgr1", "self_check") if n % 2 else ("officer1", "patrol")
    status = {7: "draft", 13: "waiting_photos"}.get(n % 25, "submitted")
    inspection_id = uuid.uuid4()
    shots = {
        code: rows.photos(who, "inspection", inspection_id, at, count=2 if code == FAILED else 1)
        for code in (FAILED, "EVAC-01")
    }
    results = [(code, "fail" if code == FAILED else "pass", shots.get(code, [])) for code in CODES]
    template_id = templates[n % len(templates)]
    _inspection(rows, inspection_id, at, template_id, who, kind, status, results)
    if status == "waiting_photos":
        rows.wait("inspection", inspection_id, who, at)
    if status == "submitted":
        rows.submission("inspection", inspection_id, who, at, INSPECTION_STAGES[n % 5])
        _hazard(rows, uuid.uuid4(), at + timedelta(minutes=1), who, source="inspection",
                inspection_id=inspection_id, photo_ids=shots[FAILED],
                overdue=n % 3 == 0)  # fmt: skip
    reported_at = at - timedelta(minutes=2)
    hazard_id = uuid.uuid4()
    reporter = "gw1" if n % 3 == 0 else "officer1"
    photo_ids = rows.photos(reporter, "hazard", hazard_id, reported_at)
    if n % 25 == 19:  # reported, its second photo still on its way
        _hazard(rows, hazard_id, reported_at, reporter, source="report", photo_ids=photo_ids,
                status="waiting_photos")  # fmt: skip
        rows.wait("hazard", hazard_id, reporter, reported_at)
        return
    _hazard(rows, hazard_id, reported_at, reporter, source="report", photo_ids=photo_ids,
            status="rectifying", overdue=n % 3 == 1)  # fmt: skip
    rows.submission("hazard", hazard_id, reporter, reported_at,
                    ["grid_review", "office_review", "closed"])  # fmt: skip
    _rectification(rows, at - timedelta(minutes=4), hazard_id, waiting=n % 25 == 17)


def _lists_of_items(rows: _Rows, seeded: Seeded) -> None:
    """An inspection of 10 and one of 200 results; a hazard rectified 10 and 200 times."""
    at = rows.now - timedelta(days=30)
    for size, template_key in ((10, "items10"), (200, "items200")):
        inspection_id = uuid.uuid4()
        results = []
        for n in range(1, size + 1):
            photos = rows.photos("officer1", "inspection", inspection_id, at) if n % 4 == 0 else []
            results.append((f"C{n:03d}", "pass" if n % 3 else "na", photos))
        _inspection(rows, inspection_id, at, seeded.templates[template_key], "officer1",
                    "patrol", "submitted", results)  # fmt: skip
        rows.submission("inspection", inspection_id, "officer1", at, ["grid_review"])
        seeded.inspections[f"results{size}"] = inspection_id
        hazard_id = uuid.uuid4()
        _hazard(rows, hazard_id, at, "officer1", source="report", status="rectifying")
        rows.submission("hazard", hazard_id, "officer1", at, ["grid_review"])
        for n in range(size):
            last = n == size - 1
            stages = ("grid_review",) if last else ("grid_review", "returned")
            _rectification(rows, at + timedelta(minutes=n + 1), hazard_id, stages=stages)
        seeded.hazards[f"rectified{size}"] = hazard_id


def seed(app, world: World) -> Seeded:
    """Write it all; on PostgreSQL, build the sync documents the services would have kept."""
    seeded = Seeded(world=world)
    rows = _Rows(world, datetime.now(UTC))
    with app.extensions["fieldapi.sessionmaker"]() as db, db.begin():
        templates = _templates(rows, db, seeded)
        _places_and_people(rows, db)
        for n in range(ROUNDS):
            _round(rows, n, templates)
        _lists_of_items(rows, seeded)
        for table in TABLES:
            found = rows.rows[table]
            for start in range(0, len(found), 1000):
                db.execute(insert(table.__table__), found[start : start + 1000])
        for inspection in rows.rows[Inspection][:ROUNDS]:
            audit.record(
                db,
                actor=None,
                action="inspection.create",
                object_type="inspection",
                object_id=inspection["id"],
                building_id=world.buildings["B1"],
                details={"kind": inspection["kind"]},
            )
        documents.fill(db)
    return seeded


def ids_of(app, model, *where) -> list[uuid.UUID]:
    with app.extensions["fieldapi.sessionmaker"]() as db:
        return list(db.scalars(select(model.id).where(*where)))
