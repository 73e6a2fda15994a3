"""The access matrix: every route, every role, an object in scope and one out of scope.

Wrong role → 403 (the same for any object, so it reveals nothing); right role but object out
of scope → 404, never 403 and never the data; lists hold exactly what is in scope. Every
route of the app must have a row here: a new route fails ``test_every_route_has_a_row``
until its row is written.

Scope of the personas (tests/support/world.py), written out rather than computed:
B1 ∈ G1, B2 ∈ G2, B3 ∈ G3, B4 ∈ G4; G4 lies in street Xiangmihu, outside everyone but admin.
A photo is in scope where the building it is attached to is; a photo still uploading belongs
to its uploader alone. Field work (inspections, hazards, rectifications, submissions, audit
events) is in scope where its building is.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

import pytest
from sqlalchemy import func, select

from fieldapi.areas.models import Area
from fieldapi.buildings.models import Building
from fieldapi.checklists.defaults import ensure_defaults
from fieldapi.checklists.models import ChecklistTemplate
from fieldapi.core.db import utcnow
from fieldapi.core.scope import Actor
from fieldapi.fieldwork import hazards, inspection_submission, inspections, rectifications
from fieldapi.fieldwork.models import Hazard, Inspection, Rectification
from fieldapi.fieldwork.policy import Policy
from fieldapi.photos import attachments, links, uploads, verification
from fieldapi.photos.flags import Limits
from fieldapi.photos.models import Photo, PhotoUse
from fieldapi.review import service as review
from fieldapi.review.defaults import DEFAULT_RULES
from fieldapi.review.models import (
    REVIEW_STAGES,
    STAGE_ROLE,
    RoutingRule,
    Submission,
    SubmissionEvent,
)
from fieldapi.review.present import submission_etag
from fieldapi.users.models import User
from fieldapi.users.service import create_user
from tests.conftest import BACKEND
from tests.photos import images
from tests.support.world import PERSONAS, ROLE_PERSONA, building_payload

ROLES = ("admin", "building_manager", "grid_staff", "officer", "fire_office", "fire_police")
EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"admin"})
COLLECTORS = frozenset({"admin", "grid_staff", "officer"})  # open building files
FILE_KEEPERS = COLLECTORS | {"building_manager"}  # change a building file
REVIEWERS = frozenset({"admin", "grid_staff", "fire_office", "fire_police"})  # originals, audit
FIELD_ROLES = EVERYONE - ADMIN  # inspect, and resubmit their own returned work
DECIDERS = frozenset({"grid_staff", "fire_office", "fire_police"})  # a review stage each
HAZARD_REPORTERS = frozenset({"grid_staff", "officer"})
RECTIFIERS = frozenset({"building_manager"})

BUILDINGS = ("B1", "B2", "B3", "B4")
GRIDS = ("G1", "G2", "G3", "G4")
BUILDINGS_IN_SCOPE = {
    "admin": set(BUILDINGS),
    "mgr1": {"B1"},
    "gw1": {"B1"},
    "officer1": {"B1", "B2"},
    "office1": {"B1", "B2", "B3"},
    "police1": {"B1", "B2", "B3"},
}
GRIDS_IN_SCOPE = {
    "admin": set(GRIDS),
    "mgr1": {"G1"},
    "gw1": {"G1"},
    "officer1": {"G1", "G2"},
    "office1": {"G1", "G2", "G3"},
    "police1": {"G1", "G2", "G3"},
}


@dataclass
class Ctx:
    """One persona's view of the world, and the calls a row needs."""

    client: Any
    world: Any
    as_user: Callable[[str], dict[str, str]]
    persona: str
    app: Any = None
    photos: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)
    photo_data: dict[uuid.UUID, bytes] = field(default_factory=dict)
    helpers: dict[str, Actor] = field(default_factory=dict)
    made: dict[tuple[str, str], Any] = field(default_factory=dict)

    def id_of(self, kind: str, key: str) -> uuid.UUID:
        if kind == "building":
            return self.world.buildings[key]
        if kind == "user":
            return self.world.users[key]
        if kind in PHOTO_STAGES:
            if (kind, key) not in self.photos:
                self.photos[kind, key] = make_photo(self, kind, key)
            return self.photos[kind, key]
        if kind in WORK_KINDS:
            return WORK_KINDS[kind](self, key)
        return self.world.areas[key]

    def actor(self, name: str) -> Actor:
        """A persona of the world, or a helper made for the cell (see ``helper``)."""
        for actor in self.helpers.values():
            if actor.username == name:
                return actor
        return Actor(user_id=self.world.users[name], username=name, role=PERSONAS[name][0])

    def helper(self, role: str) -> Actor:
        """Someone of ``role`` covering the whole district (every building, B4 too), who does
        the field work and the reviews on buildings out of a persona's reach."""
        if role not in self.helpers:
            everything = role != "building_manager"
            with self.session() as db:
                user = create_user(
                    db=db,
                    passwords=self.app.extensions["fieldapi.passwords"],
                    data={
                        "username": f"district-{role}".replace("_", "-"),
                        "password": self.world.password,
                        "role": role,
                        "active": True,
                        "area_ids": [self.world.areas["Futian"]] if everything else [],
                        "building_ids": [] if everything else list(self.world.buildings.values()),
                    },
                )
                db.commit()
                self.helpers[role] = Actor(user_id=user.id, username=user.username, role=role)
        return self.helpers[role]

    def session(self):
        return self.app.extensions["fieldapi.sessionmaker"]()

    def targets(self, kind: str, side: str) -> list[str]:
        """World keys of the objects a call is about: B1 / G1 in scope; every object of
        that kind out of the persona's scope (B4 / G4 first, always among them). A photo
        attached to a building goes with the building; one still uploading, with its
        uploader."""
        if kind in ("user", "slot", "upload"):
            if side == "in":
                return [self.persona]
            return ["gw1" if self.persona == "admin" else "admin"]
        if kind == "community":
            return ["Shuiwei"] if side == "in" else ["Zhuzilin"]
        universe, visible = (
            (BUILDINGS, BUILDINGS_IN_SCOPE)
            if kind in ("building", "photo", *WORK_KINDS)
            else (GRIDS, GRIDS_IN_SCOPE)
        )
        if side == "in":
            return [universe[0]]
        if self.persona == "admin":
            return [universe[-1]]
        return sorted(set(universe) - visible[self.persona], reverse=True)

    def headers(self, auth: str) -> dict[str, str]:
        if auth == "none":
            return {}
        if auth == "refresh":
            response = self.client.post(
                "/api/v1/auth/login",
                json={"username": self.persona, "password": self.world.password},
                environ_base={"REMOTE_ADDR": "10.8.0.1"},
            )
            assert response.status_code == 200
            return {"Authorization": f"Bearer {response.get_json()['refresh_token']}"}
        return dict(self.as_user(self.persona))

    def etag(self, path: str) -> str:
        """The current ETag, read by admin, so a refused write is about access, not If-Match."""
        response = self.client.get(path, headers=self.as_user("admin"))
        assert response.status_code == 200, path
        assert response.headers.get("ETag"), path
        return response.headers["ETag"]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def new_building(ctx: Ctx, grid: str) -> dict:
    payload = building_payload(unique("SEC-").upper(), ctx.world.areas[grid])
    return {**payload, "grid_id": str(payload["grid_id"])}


def new_area(ctx: Ctx, community: str) -> dict:
    return {"name": unique("grid-"), "kind": "grid", "parent_id": str(ctx.world.areas[community])}


def new_grid(ctx: Ctx, community: str) -> dict:
    return {"name": unique("grid-"), "parent_id": str(ctx.world.areas[community])}


def new_user(ctx: Ctx, grid: str) -> dict:
    return {
        "username": unique("user-"),
        "password": "a long enough password",
        "role": "grid_staff",
        "area_ids": [str(ctx.world.areas[grid])],
    }


# Photos, made through the services as the API would: "photo" keys are buildings (a verified
# photo uploaded by admin, attached as that building's statement), "slot" and "upload" keys
# are uploaders (an open slot with nothing sent; a photo sent but not completed). A
# "verified" photo (key: its uploader) is complete and not attached to anything yet: the
# evidence a phone names in an inspection, report or rectification.
PHOTO_STAGES = ("photo", "slot", "upload")


@lru_cache(maxsize=64)
def photo_bytes(seed: int) -> bytes:
    return images.jpeg(32, 24, seed=seed)


def make_photo(ctx: Ctx, stage: str, key: str) -> uuid.UUID:
    uploader = "admin" if stage == "photo" else key
    actor = ctx.actor(uploader)
    data = photo_bytes(len(ctx.photo_data))  # a photo of its own for each made in this cell
    blobs = ctx.app.extensions["fieldapi.blobs"]
    with ctx.app.extensions["fieldapi.sessionmaker"]() as db:
        slot = uploads.request_slot(
            db=db,
            blobs=blobs,
            actor=actor,
            data={
                "id": uuid.uuid4(),
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "content_type": "image/jpeg",
            },
            slot_minutes=15,
            max_size=len(data),
        )
        photo_id = slot.photo.id
        db.commit()
        if stage != "slot":
            blobs.put(slot.photo.original_key, data, content_type="image/jpeg")
        if stage in ("photo", "verified"):
            verification.complete(db=db, blobs=blobs, actor=actor, photo_id=photo_id)
            db.commit()
        if stage == "photo":
            building = db.get(Building, ctx.world.buildings[key])
            attachments.attach(
                db=db,
                actor=actor,
                photo_id=photo_id,
                subject_type="building_statement",
                subject_id=building.id,
                building=building,
                taken_for=utcnow(),
                limits=Limits(),
                pointer="/statement/photo_id",
            )
            db.commit()
    ctx.photo_data[photo_id] = data
    return photo_id


def new_photo_slot(_ctx: Ctx, _key: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "sha256": uuid.uuid4().hex * 2,
        "size": 1000,
        "content_type": "image/jpeg",
    }


def photo_content(ctx: Ctx, key: str) -> tuple[bytes, str]:
    """The bytes a slot was opened for (the slot of ``key``, see ``make_photo``)."""
    return ctx.photo_data[ctx.id_of("slot", key)], "image/jpeg"


def display_link(ctx: Ctx) -> str:
    """The signed link to the display image of B1's photo, as the API hands it out."""
    photo_id = ctx.id_of("photo", "B1")
    with ctx.app.test_request_context():
        url = urllib.parse.urlsplit(links.signed_link(photo_id, "display"))
    return f"{url.path}?{url.query}"


def listed(kind: str, keys) -> Callable[[Ctx], set[str]]:
    return lambda ctx: {str(ctx.id_of(kind, k)) for k in keys}


def buildings_list(ctx: Ctx, side: str) -> tuple[str, set[str]]:
    if side == "in":
        return "/api/v1/buildings", listed("building", BUILDINGS_IN_SCOPE[ctx.persona])(ctx)
    # Filtering by a grid out of scope must not open a way around the scope.
    keys = {"B4"} if ctx.persona == "admin" else set()
    return f"/api/v1/buildings?grid_id={ctx.world.areas['G4']}", listed("building", keys)(ctx)


def sync_list(ctx: Ctx, side: str) -> tuple[str, set[str]]:
    """A first full sync copies the buildings in scope, and no other, whatever the side."""
    return "/api/v1/sync?limit=5000", listed("building", BUILDINGS_IN_SCOPE[ctx.persona])(ctx)


def grids_list(path: str, in_query: str) -> Callable[[Ctx, str], tuple[str, set[str]]]:
    def make(ctx: Ctx, side: str) -> tuple[str, set[str]]:
        if side == "in":
            return path + in_query, listed("grid", GRIDS_IN_SCOPE[ctx.persona])(ctx)
        keys = {"G4"} if ctx.persona == "admin" else set()
        return f"{path}?parent_id={ctx.world.areas['Zhuzilin']}", listed("grid", keys)(ctx)

    return make


def users_list(ctx: Ctx, side: str) -> tuple[str, set[str]]:
    if side == "in":
        return "/api/v1/users", {str(i) for i in ctx.world.users.values()}
    return "/api/v1/users?role=fire_police", {str(ctx.world.users["police1"])}


def default_templates(ctx: Ctx) -> dict[str, str]:
    """The default template of each use type (made on first use), by use type."""
    with ctx.app.extensions["fieldapi.sessionmaker"]() as db:
        ensure_defaults(db)
        db.commit()
        rows = db.execute(select(ChecklistTemplate.use_type, ChecklistTemplate.id))
        return {use_type: str(template_id) for use_type, template_id in rows}


def templates_list(ctx: Ctx, side: str) -> tuple[str, set[str]]:
    # Templates hold no building data: every role reads all of them, filtered or not.
    made = default_templates(ctx)
    if side == "in":
        return "/api/v1/templates", set(made.values())
    return "/api/v1/templates?use_type=warehouse", {made["warehouse"]}


def template_path(ctx: Ctx) -> str:
    return f"/api/v1/templates/{default_templates(ctx)['residential']}"


def new_template(_ctx: Ctx, _key: str) -> dict:
    item = {
        "code": "EXT-01",
        "label": {"zh": "灭火器在有效期内", "en": "Extinguishers in date"},
        "category": "extinguishers",
        "severity": "major",
        "photo_required": True,
    }
    return {"use_type": "residential", "name": unique("checklist-"), "items": [item]}


# Field work, made through the services as the phones and reviewers would, per building (the
# key). A persona's own work (a draft, work returned to them) on a building of theirs is
# theirs; everything else is done by helpers covering the whole district (``Ctx.helper``):
# the district's officer patrols and reports, its reviewers decide (nobody reviews their own
# work).
KIND_BY_ROLE = {
    "building_manager": "self_check",
    "grid_staff": "patrol",
    "officer": "patrol",
    "fire_office": "verification",
    "fire_police": "verification",
}
STAGE_OF_ROLE = {role: stage for stage, role in STAGE_ROLE.items() if stage in REVIEW_STAGES}


def as_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: as_json(v) for key, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def policy(ctx: Ctx) -> Policy:
    return Policy.from_settings(ctx.app.extensions["fieldapi.settings"])


def verified_photo(ctx: Ctx, who: str) -> uuid.UUID:
    return make_photo(ctx, "verified", who)


def cached(ctx: Ctx, kind: str, key: str, make: Callable[[], Any]) -> Any:
    if (kind, key) not in ctx.made:
        ctx.made[kind, key] = make()
    return ctx.made[kind, key]


def owner(ctx: Ctx, building: str) -> str:
    """Who does a persona's own work on ``building``: the persona on a building of theirs;
    otherwise (admin does no field work; a building out of scope) the district's officer."""
    if ctx.persona != "admin" and building in BUILDINGS_IN_SCOPE[ctx.persona]:
        return ctx.persona
    return ctx.helper("officer").username


def inspection_data(ctx: Ctx, who: str, building: str) -> dict:
    """An inspection of the kind ``who``'s role does: part of the default checklist, all
    passed, the item that needs a photo with one (items not listed count as not checked)."""
    default_templates(ctx)
    return {
        "id": uuid.uuid4(),
        "building_id": ctx.world.buildings[building],
        "kind": KIND_BY_ROLE.get(ctx.actor(who).role, "patrol"),
        "template_id": None,
        "performed_at": utcnow() - timedelta(minutes=5),
        "location": {"lat": 22.528, "lon": 114.063},
        "note": None,
        "items": [
            {"code": "EXT-01", "result": "pass", "note": None,
             "photo_ids": [verified_photo(ctx, who)]},
            {"code": "ALARM-01", "result": "pass", "note": None, "photo_ids": []},
            {"code": "LIGHT-01", "result": "pass", "note": None, "photo_ids": []},
        ],
    }  # fmt: skip


def inspect(ctx: Ctx, who: str, building: str, *, submit: bool) -> tuple[uuid.UUID, Any]:
    """A draft inspection by ``who``, submitted if asked: (its id, its submission's id)."""
    data = inspection_data(ctx, who, building)
    actor = ctx.actor(who)
    with ctx.session() as db:
        inspection, created = inspections.open_inspection(db=db, actor=actor, data=data)
        assert created
        submission_id = None
        if submit:
            outcome = inspection_submission.submit_inspection(
                db=db, actor=actor, inspection_id=inspection.id, policy=policy(ctx)
            )
            assert outcome.waiting_for == []
            submission_id = outcome.submission.id
        db.commit()
    return data["id"], submission_id


def report(ctx: Ctx, who: str, building: str, severity: str = "major") -> tuple[uuid.UUID, Any]:
    """A hazard reported by ``who`` (with a photo), in review: (its id, its submission's id)."""
    data = {
        "id": uuid.uuid4(),
        "building_id": ctx.world.buildings[building],
        "category": "electric_bikes",
        "severity": severity,
        "description": "Two e-bikes charging in the stairwell",
        "photo_ids": [verified_photo(ctx, who)],
        "location": None,
        "observed_at": None,
    }
    with ctx.session() as db:
        outcome, created = hazards.report_hazard(
            db=db, actor=ctx.actor(who), data=data, policy=policy(ctx)
        )
        assert created
        assert outcome.waiting_for == []
        submission_id = outcome.submission.id
        db.commit()
    return data["id"], submission_id


def rectify(ctx: Ctx, who: str, hazard_id: uuid.UUID) -> uuid.UUID:
    data = {
        "id": uuid.uuid4(),
        "note": "Bikes moved out, socket removed",
        "photo_ids": [verified_photo(ctx, who)],
    }
    with ctx.session() as db:
        outcome, created = rectifications.rectify(
            db=db, actor=ctx.actor(who), hazard_id=hazard_id, data=data, policy=policy(ctx)
        )
        assert created
        assert outcome.waiting_for == []
        db.commit()
    return data["id"]


def decide(ctx: Ctx, submission_id: uuid.UUID, decision: str, reason: str | None = None) -> str:
    """A decision at the submission's stage, by the district's reviewer of that stage; the
    stage it leads to."""
    with ctx.session() as db:
        stage = db.get(Submission, submission_id).stage
    actor = ctx.helper(STAGE_ROLE[stage])
    with ctx.session() as db:
        current = review.get_submission(db=db, actor=actor, submission_id=submission_id)
        decided = review.decide(
            db=db,
            actor=actor,
            submission_id=submission_id,
            decision=decision,
            reason=reason,
            items=[],
            if_match=submission_etag(current),
            stage_hours=policy(ctx).stage_hours,
        )
        stage = decided.stage
        db.commit()
    return stage


def send_back(ctx: Ctx, submission_id: uuid.UUID) -> None:
    """Return work to its submitter: at a review stage by its reviewer; a closed one (a
    verification that found nothing closes at once) reopened by fire police."""
    with ctx.session() as db:
        closed = db.get(Submission, submission_id).stage == "closed"
    decision = "reopen" if closed else "return"
    assert decide(ctx, submission_id, decision, "The photo does not show the item") == "returned"


def work(ctx: Ctx, building: str) -> dict[str, uuid.UUID]:
    """A building's field work, by the district's officer: a patrol in review at grid_review
    and a reported hazard, open, in review, not rectified."""

    def make() -> dict[str, uuid.UUID]:
        who = ctx.helper("officer").username
        inspection, submission = inspect(ctx, who, building, submit=True)
        hazard, hazard_submission = report(ctx, who, building)
        return {
            "inspection": inspection,
            "submission": submission,
            "hazard": hazard,
            "hazard_submission": hazard_submission,
        }

    return cached(ctx, "work", building, make)


def rectified(ctx: Ctx, building: str) -> uuid.UUID:
    """A reported hazard its manager has answered with a rectification (in review)."""

    def make() -> uuid.UUID:
        hazard, _submission = report(ctx, ctx.helper("officer").username, building)
        rectify(ctx, ctx.helper("building_manager").username, hazard)
        return hazard

    return cached(ctx, "rectified", building, make)


def draft(ctx: Ctx, building: str) -> uuid.UUID:
    """An inspection not submitted yet: the persona's own on a building of theirs (see
    ``owner``)."""
    who = owner(ctx, building)
    return cached(ctx, "draft", building, lambda: inspect(ctx, who, building, submit=False)[0])


def returned(ctx: Ctx, building: str) -> uuid.UUID:
    """A submission returned to its submitter: the persona's own on a building of theirs (see
    ``owner``)."""

    def make() -> uuid.UUID:
        _inspection, submission = inspect(ctx, owner(ctx, building), building, submit=True)
        send_back(ctx, submission)
        return submission

    return cached(ctx, "returned", building, make)


def worked(ctx: Ctx, building: str) -> uuid.UUID:
    """A building with field work on its timeline."""
    work(ctx, building)
    return ctx.world.buildings[building]


# Target kinds of field work: each names one object attached to a building.
WORK_KINDS: dict[str, Callable[[Ctx, str], uuid.UUID]] = {
    "worked": worked,
    "inspection": lambda ctx, b: work(ctx, b)["inspection"],
    "submission": lambda ctx, b: work(ctx, b)["submission"],
    "hazard": lambda ctx, b: work(ctx, b)["hazard"],
    "rectified": rectified,
    "draft": draft,
    "returned": returned,
}


def work_list(path: str, *names: str) -> Callable[[Ctx, str], tuple[str, set[str]]]:
    """Field work on every building; the list holds that of the buildings in scope, and a
    building filter out of scope opens no way around it."""

    def make(ctx: Ctx, side: str) -> tuple[str, set[str]]:
        made = {b: work(ctx, b) for b in BUILDINGS}
        if side == "in":
            keys, path_for = BUILDINGS_IN_SCOPE[ctx.persona], path
        else:
            keys = {"B4"} if ctx.persona == "admin" else set()
            path_for = f"{path}?building_id={ctx.world.buildings['B4']}"
        return path_for, {str(made[b][name]) for b in keys for name in names}

    return make


def waiting(ctx: Ctx, building: str) -> dict[str, Any]:
    """What waits on a building, made by the district's staff: a reported hazard at each
    review stage (the one at grid_review past its deadline), work returned to the district's
    officer, and the building's self-check overdue."""
    reporter = ctx.helper("officer").username
    made: dict[str, Any] = {"hazards": set()}
    for stage in REVIEW_STAGES:
        hazard, submission = report(ctx, reporter, building, "major")  # the whole chain
        for _before in range(REVIEW_STAGES.index(stage)):
            decide(ctx, submission, "approve")
        made[stage] = str(submission)
        made["hazards"].add(str(hazard))
        made.setdefault("overdue", str(hazard))
    _inspection, submission = inspect(ctx, reporter, building, submit=True)
    send_back(ctx, submission)
    with ctx.session() as db:  # time passes: the deadline and the self-check date go by
        yesterday = utcnow() - timedelta(days=1)
        db.get(Hazard, uuid.UUID(made["overdue"])).due_at = yesterday
        db.get(Building, ctx.world.buildings[building]).next_self_check_due_at = yesterday
        db.commit()
    return made


def inbox_list(ctx: Ctx, side: str) -> tuple[str, set[str]]:
    """What waits for the persona: reviews at their stage, their own returned work, hazards
    (every open one for a manager, the overdue ones for grid staff and officers) and overdue
    self-checks (managers and grid staff), of the buildings in scope and nothing else."""
    keys = BUILDINGS if side == "in" else ctx.targets("building", "out")
    made = {b: waiting(ctx, b) for b in keys}
    expected = set()
    if side == "in" and ctx.persona != "admin":
        expected.add(str(returned(ctx, "B1")))
    role = PERSONAS[ctx.persona][0]
    for b in set(keys) & BUILDINGS_IN_SCOPE[ctx.persona]:
        if role in STAGE_OF_ROLE:
            expected.add(made[b][STAGE_OF_ROLE[role]])
        if role == "building_manager":
            expected |= made[b]["hazards"]
        if role in ("grid_staff", "officer"):
            expected.add(made[b]["overdue"])
        if role in ("building_manager", "grid_staff"):
            expected.add(str(ctx.world.buildings[b]))
    return "/api/v1/inbox", expected


def audit_list(ctx: Ctx, side: str) -> tuple[str, set[str | None]]:
    """The buildings the events are about: those in scope, and for admins also events about
    no building (areas, accounts)."""
    for b in BUILDINGS:
        work(ctx, b)
    if side == "in":
        keys: set[str | None] = set(listed("building", BUILDINGS_IN_SCOPE[ctx.persona])(ctx))
        if ctx.persona == "admin":
            keys.add(None)  # events about no building
        return "/api/v1/audit/events?limit=200", keys
    b4 = str(ctx.world.buildings["B4"])
    return f"/api/v1/audit/events?building_id={b4}", {b4} if ctx.persona == "admin" else set()


def new_inspection(ctx: Ctx, building: str) -> dict:
    body = as_json(inspection_data(ctx, ctx.persona, building))
    body.pop("template_id")
    return body


def new_hazard(ctx: Ctx, building: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "building_id": str(ctx.world.buildings[building]),
        "category": "electric_bikes",
        "severity": "major",
        "description": "Gas cylinder stored under the stairs",
        "photo_ids": [str(verified_photo(ctx, ctx.persona))],
    }


def new_rectification(ctx: Ctx, _key: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "note": "Cylinder taken out of the building",
        "photo_ids": [str(verified_photo(ctx, ctx.persona))],
    }


def routing_table(_ctx: Ctx, _key: str) -> dict:
    return {"rules": [dict(rule) for rule in DEFAULT_RULES]}


def of_submission(path: str) -> str:
    """The submission a decision or resubmission is about: its If-Match names its ETag."""
    return path.rsplit("/", 1)[0]


def same_path(path: str) -> str:
    return path


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    allowed: frozenset[str]  # roles the route is open to
    ok: int  # the answer for an allowed role and an object in scope
    target: str | None = None  # what the route's id (or the body's reference) names
    out: int = 404  # the answer for an allowed role (not admin) and an object out of scope
    body: Callable[[Ctx, str], dict] | None = None
    auth: str = "access"  # "access", "refresh", or "none" (public)
    listing: Callable[[Ctx, str], tuple[str, set[str]]] | None = None
    content: Callable[[Ctx, str], tuple[bytes, str]] | None = None  # a raw body and its type
    link: Callable[[Ctx], str] | None = None  # a signed link, or a path made for the cell
    # an allowed role whose answer in scope is not ``ok`` (the object's state decides it)
    ok_for: dict[str, int] = field(default_factory=dict, hash=False)
    # the rows a call answered ``ok`` adds, by table (None: a 201 adds one row, else unchecked)
    adds: dict[str, int] | None = field(default=None, hash=False)
    if_match: Callable[[str], str] | None = None  # the path whose ETag the call must carry
    list_key: str = "id"  # the field of a list item compared with what is in scope
    # where a list answer keeps its items
    items_of: Callable[[dict], list] = field(default=lambda answer: answer["items"], hash=False)
    items: bool = False  # the answer lists parts of the target: it is not empty
    names: str | None = "id"  # the field of the answer (or of each item) naming the target

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"

    def expect(self, role: str, side: str) -> int:
        if self.auth != "none" and role not in self.allowed:
            return 403
        if side == "out" and role != "admin" and self.target is not None:
            return self.out
        return self.ok_for.get(role, self.ok)

    def etag_path(self, path: str) -> str | None:
        if self.if_match is not None:
            return self.if_match(path)
        return path if self.method == "PATCH" else None


BUILDING = "/api/v1/buildings/<uuid:building_id>"
AREA = "/api/v1/areas/<uuid:area_id>"
GRID = "/api/v1/grids/<uuid:grid_id>"
USER = "/api/v1/users/<uuid:user_id>"
PHOTO = "/api/v1/photos/<uuid:photo_id>"
INSPECTION = "/api/v1/inspections/<uuid:inspection_id>"
HAZARD = "/api/v1/hazards/<uuid:hazard_id>"
SUBMISSION = "/api/v1/submissions/<uuid:submission_id>"
SUBMITTED = {"submissions": 1, "submission_events": 1, "photo_uses": 1}  # one photo each

ROUTES = [
    # operations and documents: public
    Route("GET", "/health", EVERYONE, 200, auth="none"),
    Route("GET", "/ready", EVERYONE, 200, auth="none"),
    # metrics: no user's token; the test client calls from loopback and no metrics token is
    # set (tests/ops/test_metrics.py tries the token and other addresses)
    Route("GET", "/metrics", EVERYONE, 200, auth="none"),
    Route("GET", "/api/v1/openapi.json", EVERYONE, 200, auth="none"),
    Route("GET", "/api/v1/docs", EVERYONE, 200, auth="none"),
    # sessions: any signed-in role
    Route(
        "POST",
        "/api/v1/auth/login",
        EVERYONE,
        200,
        auth="none",
        body=lambda ctx, _k: {"username": ctx.persona, "password": ctx.world.password},
    ),
    Route("POST", "/api/v1/auth/refresh", EVERYONE, 200, auth="refresh"),
    Route("POST", "/api/v1/auth/logout", EVERYONE, 204, body=lambda _c, _k: {}),
    Route("GET", "/api/v1/me", EVERYONE, 200),
    # the area tree: everyone reads their part, admins write
    Route("GET", "/api/v1/areas", EVERYONE, 200, listing=grids_list("/api/v1/areas", "?kind=grid")),
    Route("POST", "/api/v1/areas", ADMIN, 201, target="community", body=new_area),
    Route("GET", AREA, EVERYONE, 200, target="grid"),
    Route("PATCH", AREA, ADMIN, 200, target="grid", body=lambda _c, _k: {"name": unique("g-")}),
    Route("GET", "/api/v1/grids", EVERYONE, 200, listing=grids_list("/api/v1/grids", "")),
    Route("POST", "/api/v1/grids", ADMIN, 201, target="community", body=new_grid),
    Route("GET", GRID, EVERYONE, 200, target="grid"),
    Route("PATCH", GRID, ADMIN, 200, target="grid", body=lambda _c, _k: {"name": unique("g-")}),
    # accounts: admins only
    Route("GET", "/api/v1/users", ADMIN, 200, listing=users_list),
    Route("POST", "/api/v1/users", ADMIN, 201, target="grid", body=new_user),
    Route("GET", USER, ADMIN, 200, target="user"),
    Route("PATCH", USER, ADMIN, 200, target="user", body=lambda _c, _k: {"display_name": "X"}),
    # the building file
    Route("GET", "/api/v1/buildings", EVERYONE, 200, listing=buildings_list),
    # a grid out of scope in the body is a field error, the same as an unknown grid
    Route("POST", "/api/v1/buildings", COLLECTORS, 201, target="grid", out=422, body=new_building),
    Route("GET", BUILDING, EVERYONE, 200, target="building"),
    Route(
        "PATCH",
        BUILDING,
        FILE_KEEPERS,
        200,
        target="building",
        body=lambda ctx, _k: {"notes": f"checked by {ctx.persona}"},
    ),
    Route("GET", BUILDING + "/history", EVERYONE, 200, target="building", items=True, names=None),
    Route("GET", BUILDING + "/timeline", EVERYONE, 200, target="worked", items=True, names=None),
    # photos: everyone uploads their own; reading follows the building a photo is attached to
    Route("POST", "/api/v1/photos", EVERYONE, 201, body=new_photo_slot),
    Route("GET", PHOTO, EVERYONE, 200, target="photo"),
    Route("PUT", PHOTO + "/content", EVERYONE, 204, target="slot", content=photo_content),
    Route("POST", PHOTO + "/complete", EVERYONE, 200, target="upload"),
    # the original: reviewers only; a redirect to a presigned URL on S3, the bytes locally
    Route(
        "GET", PHOTO + "/original", REVIEWERS, 302 if BACKEND == "server" else 200, target="photo"
    ),
    # checklist templates: no building data, every role reads them; admins save versions
    Route("GET", "/api/v1/templates", EVERYONE, 200, listing=templates_list),
    Route("POST", "/api/v1/templates", ADMIN, 201, body=new_template),
    Route("GET", "/api/v1/templates/<uuid:template_id>", EVERYONE, 200, link=template_path),
    # display images and thumbnails: whoever holds a signed link
    Route(
        "GET",
        PHOTO + "/<any(display, thumbnail):variant>",
        EVERYONE,
        200,
        auth="none",
        link=display_link,
    ),
    # inspections: every role reads them; the roles that inspect record their own, of the kind
    # their role does (a building out of scope in the body is a field error)
    Route(
        "GET",
        "/api/v1/inspections",
        EVERYONE,
        200,
        listing=work_list("/api/v1/inspections", "inspection"),
    ),
    Route(
        "POST",
        "/api/v1/inspections",
        FIELD_ROLES,
        201,
        target="building",
        out=422,
        body=new_inspection,
        adds={"inspections": 1},
    ),
    Route("GET", INSPECTION, EVERYONE, 200, target="inspection"),
    # a draft changes and is submitted by its inspector: in scope, the persona's own
    Route(
        "PATCH",
        INSPECTION,
        FIELD_ROLES,
        200,
        target="draft",
        body=lambda ctx, _k: {"note": f"rechecked by {ctx.persona}"},
        adds={},
    ),
    Route("POST", INSPECTION + "/submit", FIELD_ROLES, 200, target="draft", adds=SUBMITTED),
    # hazards: grid staff and officers report them; building managers rectify them
    Route("GET", "/api/v1/hazards", EVERYONE, 200, listing=work_list("/api/v1/hazards", "hazard")),
    Route(
        "POST",
        "/api/v1/hazards",
        HAZARD_REPORTERS,
        201,
        target="building",
        out=422,
        body=new_hazard,
        adds={"hazards": 1, **SUBMITTED},
    ),
    Route("GET", HAZARD, EVERYONE, 200, target="hazard"),
    Route(
        "GET",
        HAZARD + "/rectifications",
        EVERYONE,
        200,
        target="rectified",
        items=True,
        names="hazard_id",
    ),
    Route(
        "POST",
        HAZARD + "/rectifications",
        RECTIFIERS,
        201,
        target="hazard",
        body=new_rectification,
        names="hazard_id",
        adds={"rectifications": 1, **SUBMITTED},
    ),
    # the review chain: everyone reads it in scope; each reviewer decides at their stage
    Route(
        "GET",
        "/api/v1/submissions",
        EVERYONE,
        200,
        listing=work_list("/api/v1/submissions", "submission", "hazard_submission"),
    ),
    Route("GET", SUBMISSION, EVERYONE, 200, target="submission"),
    # the target waits at grid_review: fire office and police decide, but not there
    Route(
        "POST",
        SUBMISSION + "/decisions",
        DECIDERS,
        200,
        target="submission",
        ok_for={"fire_office": 403, "fire_police": 403},
        body=lambda _c, _k: {"decision": "approve"},
        if_match=of_submission,
        adds={"submission_events": 1},
    ),
    # returned work goes back by its submitter: in scope, the persona's own
    Route(
        "POST",
        SUBMISSION + "/resubmit",
        FIELD_ROLES,
        200,
        target="returned",
        body=lambda _c, _k: {"note": "Photo retaken in daylight"},
        if_match=of_submission,
        adds={"submission_events": 1},
    ),
    Route("GET", "/api/v1/inbox", EVERYONE, 200, listing=inbox_list),
    # offline copies: everyone, of their scope
    Route(
        "GET",
        "/api/v1/sync",
        EVERYONE,
        200,
        listing=sync_list,
        items_of=lambda answer: answer["changes"]["buildings"]["upserted"],
    ),
    Route("GET", "/api/v1/routing-rules", ADMIN, 200),
    Route(
        "PUT",
        "/api/v1/routing-rules",
        ADMIN,
        200,
        body=routing_table,
        if_match=same_path,
        adds={},
    ),
    # the audit trail: reviewers, of what lies in their scope
    Route(
        "GET",
        "/api/v1/audit/events",
        REVIEWERS,
        200,
        listing=audit_list,
        list_key="building_id",
    ),
]

PATH_ID = re.compile(r"<uuid:\w+>")


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            model.__tablename__: conn.scalar(select(func.count()).select_from(model))
            for model in (
                Area,
                Building,
                User,
                Photo,
                PhotoUse,
                ChecklistTemplate,
                Inspection,
                Hazard,
                Rectification,
                Submission,
                SubmissionEvent,
                RoutingRule,
            )
        }


def assert_problem(response, status: int, slug: str) -> None:
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["type"].endswith(f"/problems/{slug}")


def calls(route: Route, ctx: Ctx, side: str):
    """(path, body, target id or None, expected list ids or None) for each request a cell makes."""
    if route.listing is not None:
        path, ids = route.listing(ctx, side)
        yield path, None, None, ids
        return
    if route.link is not None:
        yield route.link(ctx), None, None, None
        return
    if route.target is None:
        yield route.rule, route.body(ctx, "") if route.body else None, None, None
        return
    for key in ctx.targets(route.target, side):
        target_id = ctx.id_of(route.target, key)
        body = route.body(ctx, key) if route.body else None
        if route.content is not None:
            body = route.content(ctx, key)
        if PATH_ID.search(route.rule):
            yield PATH_ID.sub(str(target_id), route.rule), body, target_id, None
        else:  # the target is named in the body
            yield route.rule, body, None, None


def test_every_route_has_a_row(migrated):
    in_app = {
        (method, rule.rule)
        for rule in migrated.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    in_table = {(r.method, r.rule) for r in ROUTES}
    assert in_app - in_table == set(), "routes without a row in the access matrix"
    assert in_table - in_app == set(), "rows for routes that no longer exist"
    assert len(in_table) == len(ROUTES), "a route has two rows"


def cells():
    """route × role × (in, out); a route that names no object has only the one side."""
    for route in ROUTES:
        for role in ROLES:
            for side in ("in", "out"):
                if side == "out" and route.target is None and route.listing is None:
                    continue
                yield pytest.param(route, role, side, id=f"{route}-{role}-{side}")


@pytest.mark.parametrize(("route", "role", "side"), list(cells()))
def test_access(route: Route, role: str, side: str, client, world, as_user, app):
    ctx = Ctx(client, world, as_user, ROLE_PERSONA[role], app)
    expected = route.expect(role, side)
    engine = app.extensions["fieldapi.engine"]
    made = 0
    for path, body, target_id, listed_ids in calls(route, ctx, side):
        made += 1
        headers = ctx.headers(route.auth)
        etag, etag_path = None, route.etag_path(path)
        if etag_path is not None:
            etag = headers["If-Match"] = ctx.etag(etag_path)
        before = row_counts(engine)
        if route.content is not None:
            data, content_type = body
            response = client.open(
                path, method=route.method, data=data, content_type=content_type, headers=headers
            )
        else:
            response = client.open(path, method=route.method, json=body, headers=headers)
        assert response.status_code == expected, (path, response.get_data()[:300])

        if expected == 403:
            assert_problem(response, 403, "forbidden")
        elif expected == 404:
            assert_problem(response, 404, "not-found")
        elif expected == 422:
            assert_problem(response, 422, "validation-failed")
        if expected >= 400:
            if target_id is not None:
                text = response.get_data(as_text=True)
                assert str(target_id) not in text, "a refusal must not carry the object"
            assert row_counts(engine) == before, "a refused call must not write"
            if etag is not None:
                assert ctx.etag(etag_path) == etag, "a refused write must not change the object"
            continue

        if route.adds is not None:
            after = row_counts(engine)
            added = {table: after[table] - before[table] for table in after}
            assert {t: n for t, n in added.items() if n} == route.adds, "the rows a call adds"
        elif route.method == "POST" and expected == 201:
            assert sum(row_counts(engine).values()) == sum(before.values()) + 1
        if expected == 302:
            assert response.headers["Location"], "a redirect names where to go"
        if target_id is not None and response.is_json and response.data:
            answer = response.get_json()
            if route.items:
                assert answer["items"], "the parts of a visible object are listed, not none"
                if route.names is not None:
                    assert {item[route.names] for item in answer["items"]} == {str(target_id)}
            elif route.names is not None:
                assert answer[route.names] == str(target_id)
        if target_id in ctx.photo_data and response.mimetype == "image/jpeg":
            assert response.data == ctx.photo_data[target_id], "the original, byte for byte"
        if listed_ids is not None:
            got = {item[route.list_key] for item in route.items_of(response.get_json())}
            assert got == listed_ids, "a list holds exactly what is in scope"
    assert made >= 1


@pytest.mark.parametrize("route", [r for r in ROUTES if r.auth != "none"], ids=str)
def test_signed_out_callers_get_401(route: Route, client, world):
    path = PATH_ID.sub(str(world.buildings["B1"]), route.rule)
    body = {} if route.method in ("POST", "PATCH") else None
    response = client.open(path, method=route.method, json=body)
    assert response.status_code == 401
    assert_problem(response, 401, "authentication-required")


@pytest.mark.parametrize("route", [r for r in ROUTES if r.auth == "access"], ids=str)
def test_refresh_token_does_not_open_access_routes(route: Route, client, world):
    ctx = Ctx(client, world, None, "admin")
    path = PATH_ID.sub(str(world.buildings["B1"]), route.rule)
    body = {} if route.method in ("POST", "PATCH") else None
    response = client.open(path, method=route.method, json=body, headers=ctx.headers("refresh"))
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
