"""Query parameters are part of the contract: one the operation does not declare is refused.

A misspelt filter (``?grid=`` for ``?grid_id=``) silently ignored would hand the phone a
whole list where it asked for a part of it. So an unknown query parameter answers 422
``validation-failed``, naming the parameter, like any other invalid field:

- on operations that read query arguments, through the argument parser every view uses
  (installed when the package is imported, before any view is declared);
- on operations that read none, by ``refuse_undeclared_query`` before the view runs.

The same parser reads JSON bodies with the app's strict reader (``fieldapi.core.jsonbody``),
not webargs' own ``json.loads``, so every body goes through one set of bounds.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, request
from flask_smorest.arguments import ArgumentsMixin
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from fieldapi.core.problems import ValidationFailed

# Routes served by libraries (the OpenAPI document, its browsable pages) take what they take.
_LIBRARY_PREFIX = "api-docs."
_API_PREFIX = "/api/"


class StrictQueryParser(FlaskParser):
    """webargs' Flask parser, raising on unknown query parameters instead of dropping them,
    and reading JSON bodies with the app's strict reader."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
    }

    def __init__(self) -> None:
        super().__init__()
        self._schemas: dict[type, ma.Schema] = {}

    def _get_schema(self, argmap, req) -> ma.Schema:
        """A schema declared as a class is made once, not on every request: a marshmallow
        schema keeps nothing of one load for the next."""
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                schema = self._schemas[argmap] = argmap()
            return schema
        return super()._get_schema(argmap, req)

    def _raw_load_json(self, req):
        if not is_json_request(req) or not req.get_data(cache=True):
            return core.missing  # as webargs does: no JSON body is a missing one
        # Flask's provider is the strict reader; the value is kept for the request.
        return req.get_json()


def install() -> None:
    """Make every ``@blp.arguments`` declared from now on parse query parameters strictly."""
    if not isinstance(ArgumentsMixin.ARGUMENTS_PARSER, StrictQueryParser):
        ArgumentsMixin.ARGUMENTS_PARSER = StrictQueryParser()


def _pointer_token(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _reads_query(handler) -> bool:
    arguments = (getattr(handler, "_apidoc", None) or {}).get("arguments") or {}
    return any(p.get("in") == "query" for p in arguments.get("parameters", ()))


def refuse_undeclared_query() -> None:
    """An API operation that declares no query parameters refuses any it is sent."""
    if not request.args or request.endpoint is None:
        return
    if request.endpoint.startswith(_LIBRARY_PREFIX) or not request.path.startswith(_API_PREFIX):
        return
    from fieldapi.core.permissions import view_handler

    handler = view_handler(current_app, request.endpoint, request.method)
    if handler is None or _reads_query(handler):
        return
    raise ValidationFailed(
        "This address takes no query parameters.",
        errors=[
            {"pointer": "/" + _pointer_token(name), "detail": "Unknown field.", "location": "query"}
            for name in sorted(request.args)
        ],
    )


install()
