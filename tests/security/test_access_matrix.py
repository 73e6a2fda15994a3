"""The access matrix: every route, every role, an object in scope and one out of scope.

Wrong role → 403 (the same for any object, so it reveals nothing); right role but object out
of scope → 404, never 403 and never the data; lists hold exactly what is in scope. Every
route of the app must have a row here: a new route fails ``test_every_route_has_a_row``
until its row is written.

Scope of the personas (tests/support/world.py), written out rather than computed:
B1 ∈ G1, B2 ∈ G2, B3 ∈ G3, B4 ∈ G4; G4 lies in street Xiangmihu, outside everyone but admin.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from fieldapi.areas.models import Area
from fieldapi.buildings.models import Building
from fieldapi.users.models import User
from tests.support.world import ROLE_PERSONA, building_payload

ROLES = ("admin", "building_manager", "grid_staff", "officer", "fire_office", "fire_police")
EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"admin"})
COLLECTORS = frozenset({"admin", "grid_staff", "officer"})  # open building files
FILE_KEEPERS = COLLECTORS | {"building_manager"}  # change a building file

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

    def id_of(self, kind: str, key: str) -> uuid.UUID:
        if kind == "building":
            return self.world.buildings[key]
        if kind == "user":
            return self.world.users[key]
        return self.world.areas[key]

    def targets(self, kind: str, side: str) -> list[str]:
        """World keys of the objects a call is about: B1 / G1 in scope; every object of
        that kind out of the persona's scope (B4 / G4 first, always among them)."""
        if kind == "user":
            if side == "in":
                return [self.persona]
            return ["gw1" if self.persona == "admin" else "admin"]
        if kind == "community":
            return ["Shuiwei"] if side == "in" else ["Zhuzilin"]
        universe, visible = (
            (BUILDINGS, BUILDINGS_IN_SCOPE) if kind == "building" else (GRIDS, GRIDS_IN_SCOPE)
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
]

PATH_ID = re.compile(r"<uuid:\w+>")


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            model.__tablename__: conn.scalar(select(func.count()).select_from(model))
            for model in (Area, Building, User)
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
    if route.target is None:
        yield route.rule, route.body(ctx, "") if route.body else None, None, None
        return
    for key in ctx.targets(route.target, side):
        target_id = ctx.id_of(route.target, key)
        body = route.body(ctx, key) if route.body else None
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
    ctx = Ctx(client, world, as_user, ROLE_PERSONA[role])
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
        response = client.open(path, method=route.method, json=body, headers=headers)
        assert response.status_code == expected, (path, response.get_data(as_text=True)[:300])
        text = response.get_data(as_text=True)

        if expected == 403:
            assert_problem(response, 403, "forbidden")
        elif expected == 404:
            assert_problem(response, 404, "not-found")
        elif expected == 422:
            assert_problem(response, 422, "validation-failed")
        if expected >= 400:
            if target_id is not None:
                assert str(target_id) not in text, "a refusal must not carry the object"
            assert row_counts(engine) == before, "a refused call must not write"
            if etag is not None:
                assert ctx.etag(path) == etag, "a refused PATCH must not change the object"
            continue

        if route.method == "POST" and expected == 201:
            assert sum(row_counts(engine).values()) == sum(before.values()) + 1
        if target_id is not None and route.method in ("GET", "PATCH") and "history" not in path:
            assert response.get_json()["id"] == str(target_id)
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
