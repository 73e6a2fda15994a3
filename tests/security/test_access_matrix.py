"""The access matrix: every route, every role, an object in scope and one out of scope.

Wrong role → 403 (the same for any object, so it reveals nothing); right role but object out
of scope → 404, never 403 and never the data; lists hold exactly what is in scope. Every
route of the app must have a row here: a new route fails ``test_every_route_has_a_row``
until its row is written.

Scope of the personas (tests/support/world.py), written out rather than computed:
B1 ∈ G1, B2 ∈ G2, B3 ∈ G3, B4 ∈ G4; G4 lies in street Xiangmihu, outside everyone but admin.
A photo is in scope where the building it is attached to is; a photo still uploading belongs
to its uploader alone.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
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
from fieldapi.photos import links
from fieldapi.photos import service as photo_service
from fieldapi.photos.flags import Limits
from fieldapi.photos.models import Photo, PhotoUse
from fieldapi.users.models import User
from tests.conftest import BACKEND
from tests.photos import images
from tests.support.world import PERSONAS, ROLE_PERSONA, building_payload

ROLES = ("admin", "building_manager", "grid_staff", "officer", "fire_office", "fire_police")
EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"admin"})
COLLECTORS = frozenset({"admin", "grid_staff", "officer"})  # open building files
FILE_KEEPERS = COLLECTORS | {"building_manager"}  # change a building file
REVIEWERS = frozenset({"admin", "grid_staff", "fire_office", "fire_police"})  # open originals

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

    def id_of(self, kind: str, key: str) -> uuid.UUID:
        if kind == "building":
            return self.world.buildings[key]
        if kind == "user":
            return self.world.users[key]
        if kind in PHOTO_STAGES:
            if (kind, key) not in self.photos:
                self.photos[kind, key] = make_photo(self, kind, key)
            return self.photos[kind, key]
        return self.world.areas[key]

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
            if kind in ("building", "photo")
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
# are uploaders (an open slot with nothing sent; a photo sent but not completed).
PHOTO_STAGES = ("photo", "slot", "upload")


@lru_cache(maxsize=64)
def photo_bytes(seed: int) -> bytes:
    return images.jpeg(32, 24, seed=seed)


def make_photo(ctx: Ctx, stage: str, key: str) -> uuid.UUID:
    uploader = "admin" if stage == "photo" else key
    role = PERSONAS[uploader][0]
    actor = Actor(user_id=ctx.world.users[uploader], username=uploader, role=role)
    data = photo_bytes(len(ctx.photos))  # a photo of its own for each made in this cell
    blobs = ctx.app.extensions["fieldapi.blobs"]
    with ctx.app.extensions["fieldapi.sessionmaker"]() as db:
        slot = photo_service.request_slot(
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
        if stage == "photo":
            photo_service.complete(db=db, blobs=blobs, actor=actor, photo_id=photo_id)
            building = db.get(Building, ctx.world.buildings[key])
            photo_service.attach(
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

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"

    def expect(self, role: str, side: str) -> int:
        if self.auth != "none" and role not in self.allowed:
            return 403
        if side == "out" and role != "admin" and self.target is not None:
            return self.out
        return self.ok


BUILDING = "/api/v1/buildings/<uuid:building_id>"
AREA = "/api/v1/areas/<uuid:area_id>"
GRID = "/api/v1/grids/<uuid:grid_id>"
USER = "/api/v1/users/<uuid:user_id>"
PHOTO = "/api/v1/photos/<uuid:photo_id>"

ROUTES = [
    # operations and documents: public
    Route("GET", "/health", EVERYONE, 200, auth="none"),
    Route("GET", "/ready", EVERYONE, 200, auth="none"),
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
    Route("GET", BUILDING + "/history", EVERYONE, 200, target="building"),
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
]

PATH_ID = re.compile(r"<uuid:\w+>")


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            model.__tablename__: conn.scalar(select(func.count()).select_from(model))
            for model in (Area, Building, User, Photo, PhotoUse, ChecklistTemplate)
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
        etag = None
        if route.method == "PATCH":
            etag = headers["If-Match"] = ctx.etag(path)
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
                assert ctx.etag(path) == etag, "a refused PATCH must not change the object"
            continue

        if route.method == "POST" and expected == 201:
            assert sum(row_counts(engine).values()) == sum(before.values()) + 1
        if expected == 302:
            assert response.headers["Location"], "a redirect names where to go"
        if target_id is not None and response.is_json and response.data and "history" not in path:
            assert response.get_json()["id"] == str(target_id)
        if target_id in ctx.photo_data and response.mimetype == "image/jpeg":
            assert response.data == ctx.photo_data[target_id], "the original, byte for byte"
        if target_id is not None and "history" in path:
            assert response.get_json()["items"], "the history of a visible file is not empty"
        if listed_ids is not None:
            got = {item["id"] for item in response.get_json()["items"]}
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
