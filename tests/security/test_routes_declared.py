"""Every route declares who may call it; nothing undeclared answers; public routes are few.

The guard refuses a route that declares no verb (deny by default). These tests make sure the
declarations are there and spelled right, and that the refusal really happens at runtime.
"""

from __future__ import annotations

import dataclasses

import pytest
from flask.views import MethodView

from fieldapi import create_app
from fieldapi.core.permissions import (
    AUTHENTICATED,
    PUBLIC,
    REFRESH,
    ROLE_VERBS,
    ROLES,
    SCRAPER,
    declared_verb,
    public,
    requires,
)

ROUTING_METHODS = {"HEAD", "OPTIONS"}  # answered by Flask from the GET handler, or by itself
SPECIAL_VERBS = {PUBLIC, AUTHENTICATED, REFRESH, SCRAPER}

# The only routes anyone may call without signing in. Adding one is a decision, made here.
PUBLIC_ROUTES = {
    ("GET", "/health"),
    ("GET", "/ready"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
    # Display images and thumbnails by signed, expiring link (the local store's presigned GET).
    ("GET", "/api/v1/photos/<uuid:photo_id>/<any(display, thumbnail):variant>"),
}


# Routes for operations tooling rather than users: the metrics token, or loopback.
SCRAPER_ROUTES = {("GET", "/metrics")}


def routes(app):
    """(method, rule) for every route of ``app``, without HEAD and OPTIONS."""
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - ROUTING_METHODS):
            yield method, rule


def problem(response) -> dict:
    assert response.mimetype == "application/problem+json", response.data[:200]
    return response.get_json(force=True)


def test_the_app_has_routes_to_check(migrated):
    found = {(method, rule.rule) for method, rule in routes(migrated)}
    # Sanity: a walk that found nothing would make the checks below pass vacuously.
    assert ("GET", "/api/v1/buildings/<uuid:building_id>") in found
    assert len(found) >= 20


def test_every_route_declares_a_verb(migrated):
    undeclared = [
        f"{method} {rule.rule} ({rule.endpoint})"
        for method, rule in routes(migrated)
        if declared_verb(migrated, rule.endpoint, method) is None
    ]
    assert undeclared == []


def test_every_declared_verb_is_held_by_some_role(migrated):
    granted = set().union(*ROLE_VERBS.values())
    unknown = [
        f"{method} {rule.rule}: {verb!r}"
        for method, rule in routes(migrated)
        if (verb := declared_verb(migrated, rule.endpoint, method)) is not None
        and verb not in SPECIAL_VERBS
        and verb not in granted
    ]
    assert unknown == [], "verbs that no role holds (a typo closes the route to everyone)"


def test_role_table_covers_exactly_the_roles_of_the_contract():
    contract = {"admin", "building_manager", "grid_staff", "officer", "fire_office", "fire_police"}
    assert set(ROLES) == contract
    assert set(ROLE_VERBS) == contract
    for role, verbs in ROLE_VERBS.items():
        assert not verbs & SPECIAL_VERBS, f"{role} holds a pseudo-verb"


def test_public_routes_are_exactly_the_allow_list(migrated):
    public_routes = {
        (method, rule.rule)
        for method, rule in routes(migrated)
        if declared_verb(migrated, rule.endpoint, method) == PUBLIC
    }
    assert public_routes == PUBLIC_ROUTES


def test_scraper_routes_are_exactly_the_allow_list(migrated):
    scraper_routes = {
        (method, rule.rule)
        for method, rule in routes(migrated)
        if declared_verb(migrated, rule.endpoint, method) == SCRAPER
    }
    assert scraper_routes == SCRAPER_ROUTES


def test_options_is_answered_by_flask_never_by_a_view(migrated):
    # The guard lets OPTIONS through without a token; that is only safe while no view
    # handles OPTIONS itself.
    own_options = [
        rule.rule
        for rule in migrated.url_map.iter_rules()
        if "OPTIONS" in rule.methods and not rule.provide_automatic_options
    ]
    assert own_options == []


@pytest.fixture
def fresh_app(settings, app):
    """A new app on the test database, to carry routes the shared app must not have."""
    new = create_app(dataclasses.replace(settings))
    yield new
    new.extensions["fieldapi.engine"].dispose()


def login(client, world, username: str) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/login", json={"username": username, "password": world.password}
    )
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def test_undeclared_routes_are_refused_at_runtime_even_to_admin(fresh_app, world):
    ran: list[str] = []

    def undeclared():
        ran.append("undeclared")
        return {"secret": "payload"}

    @requires("building.read")
    def declared():
        ran.append("declared")
        return {"ok": True}

    @requires("building.demolish")
    def nobody_holds_this():
        ran.append("nobody")
        return {"secret": "payload"}

    class HalfDeclared(MethodView):
        @public
        def get(self):
            return {"ok": True}

        def post(self):
            ran.append("half")
            return {"secret": "payload"}

    fresh_app.add_url_rule("/api/v1/probe/undeclared", view_func=undeclared)
    fresh_app.add_url_rule("/api/v1/probe/declared", view_func=declared)
    fresh_app.add_url_rule("/api/v1/probe/nobody", view_func=nobody_holds_this)
    fresh_app.add_url_rule("/api/v1/probe/half", view_func=HalfDeclared.as_view("half"))
    client = fresh_app.test_client()
    admin = login(client, world, "admin")

    # The probe routes work: a declared one answers, so the refusals below are the guard's.
    assert client.get("/api/v1/probe/declared", headers=admin).status_code == 200
    assert client.get("/api/v1/probe/half").status_code == 200
    assert ran == ["declared"]

    refused = (
        # (method, path, headers): undeclared routes are refused before any token is read;
        # a verb nobody holds is refused once the caller is known, admin included.
        ("GET", "/api/v1/probe/undeclared", admin),
        ("GET", "/api/v1/probe/undeclared", {}),
        ("POST", "/api/v1/probe/half", admin),
        ("POST", "/api/v1/probe/half", {}),
        ("GET", "/api/v1/probe/nobody", admin),
    )
    for method, path, headers in refused:
        response = client.open(path, method=method, headers=headers)
        assert response.status_code == 403, (method, path, response.data)
        assert problem(response)["type"].endswith("/problems/forbidden")
        assert "payload" not in response.get_data(as_text=True)
    assert ran == ["declared"], "a refused view must never run"
