"""Who may do what: one table of verbs per role, declared on every view, checked first.

A view declares its verb with ``@requires("building.read")``. Before any view runs,
``authorize()`` finds the declared verb for the endpoint and method; a route that declares
nothing is refused (deny by default). Whether the object itself is visible is the scope's
business (``fieldapi.core.scope``), decided in SQL; out of scope answers 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app, request

F = TypeVar("F", bound=Callable)

PUBLIC = "public"
AUTHENTICATED = "session"  # any signed-in user, whatever the role
REFRESH = "session.refresh"  # a refresh token, not an access token
# Operations tooling, not a user: a bearer FIELDAPI_METRICS_TOKEN, or loopback when unset.
SCRAPER = "ops.scrape"

ROLES = ("admin", "building_manager", "grid_staff", "officer", "fire_office", "fire_police")

_READ_FILE = {
    "area.read",
    "building.read",
    "building.history.read",
    "photo.read",
    "photo.upload",
    "template.read",
    "inspection.read",
    "hazard.read",
    "submission.read",
    "inbox.read",
}
_COLLECT = {"building.create", "building.update"}
_PERSONAL_DATA = {"resident.pii.read", "building.residents.write"}
# Reviewers (grid staff and above) may open the untouched original of a photo, and read
# the audit trail of what lies in their scope.
_EVIDENCE = {"photo.original.read", "audit.read"}
# Field work: inspecting (the kind of inspection a role does is checked by the service),
# deciding at a review stage, and sending returned work back.
_FIELD = {"inspection.write", "submission.resubmit"}
_REVIEW = {"submission.decide"}

ROLE_VERBS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {
            "area.write",
            "template.write",
            "routing.read",
            "routing.write",
            "user.read",
            "user.write",
            *_READ_FILE,
            *_COLLECT,
            *_PERSONAL_DATA,
            *_EVIDENCE,
        }
    ),
    "building_manager": frozenset(
        {*_READ_FILE, "building.update", *_PERSONAL_DATA, *_FIELD, "rectification.write"}
    ),
    "grid_staff": frozenset(
        {*_READ_FILE, *_COLLECT, *_EVIDENCE, *_FIELD, *_REVIEW, "hazard.report"}
    ),
    "officer": frozenset({*_READ_FILE, *_COLLECT, *_PERSONAL_DATA, *_FIELD, "hazard.report"}),
    "fire_office": frozenset({*_READ_FILE, *_EVIDENCE, *_FIELD, *_REVIEW}),
    "fire_police": frozenset({*_READ_FILE, *_EVIDENCE, *_FIELD, *_REVIEW}),
}

# Routes added by libraries rather than by our views.
LIBRARY_ENDPOINTS = {
    "api-docs.openapi_json": PUBLIC,
    "api-docs.openapi_swagger_ui": PUBLIC,
    "api-docs.openapi_redoc": PUBLIC,
    "api-docs.openapi_rapidoc": PUBLIC,
}

_ATTR = "_fieldapi_verb"


def requires(verb: str) -> Callable[[F], F]:
    """Declare the verb a view needs. It does not wrap: ``authorize()`` reads it."""

    def mark(fn: F) -> F:
        setattr(fn, _ATTR, verb)
        return fn

    return mark


def public(fn: F) -> F:
    return requires(PUBLIC)(fn)


def can(role: str, verb: str) -> bool:
    return verb in ROLE_VERBS.get(role, frozenset())


def view_handler(app: Flask, endpoint: str, method: str) -> Callable | None:
    """The function that answers ``method`` on ``endpoint`` (a MethodView's method, or the view)."""
    view = app.view_functions.get(endpoint)
    if view is None:
        return None
    method = "GET" if method == "HEAD" else method
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return getattr(view_class, method.lower(), None)
    return view


def declared_verb(app: Flask, endpoint: str, method: str) -> str | None:
    """The verb declared for an endpoint and HTTP method, or None when nothing is declared."""
    if endpoint in LIBRARY_ENDPOINTS:
        return LIBRARY_ENDPOINTS[endpoint]
    handler = view_handler(app, endpoint, method)
    return getattr(handler, _ATTR, None) if handler is not None else None


def current_verb() -> str | None:
    if request.endpoint is None:
        return None
    return declared_verb(current_app, request.endpoint, request.method)
