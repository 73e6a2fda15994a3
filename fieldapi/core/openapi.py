"""The OpenAPI document: errors as problem+json, and who may call each operation."""

from __future__ import annotations

from apispec import BasePlugin
from flask import Flask

from fieldapi.core.permissions import (
    AUTHENTICATED,
    PUBLIC,
    REFRESH,
    ROLE_VERBS,
    ROLES,
    SCRAPER,
    declared_verb,
)
from fieldapi.core.problems import MEDIA_TYPE

PROBLEM_REF = {"schema": {"$ref": "#/components/schemas/Problem"}}

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "A key of your choosing (a UUID) that makes a retry safe: the same key with the same "
        "request replays the first answer, marked `Idempotent-Replayed: true`, without doing "
        "the work again; with another request it is refused (422 `idempotency-key-reused`); "
        "while the first is still running, 409 `idempotency-in-progress` with Retry-After. "
        "Keys belong to the signed-in user and are kept at least 72 hours. Only answers that "
        "did their work (below 400) are kept. Sign-in and refresh accept a key but never keep "
        "their answers, which hold credentials."
    ),
    # Bare, or quoted as the draft's structured-field string; visible ASCII, no " or \.
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": 257,
        "pattern": r'^(?:[!#-\[\]-~]{1,255}|"[!#-\[\]-~]{1,255}")$',
    },
}
IDEMPOTENT_REPLAYED = {
    "description": "`true` when this answer is the replay of an earlier one with the same key.",
    "schema": {"type": "string", "enum": ["true"]},
}
_IDEMPOTENCY_ERRORS = {
    "400": "The Idempotency-Key is malformed.",
    "409": "The first request with this Idempotency-Key is still running.",
    "422": "The Idempotency-Key was used for another request.",
}


def _as_problem(response: dict) -> None:
    content = response.get("content") or {}
    response["content"] = {MEDIA_TYPE: content.get("application/json", PROBLEM_REF)}


class ContractPlugin(BasePlugin):
    def __init__(self, app: Flask) -> None:
        self.app = app

    def init_spec(self, spec) -> None:
        super().init_spec(spec)
        spec.components.parameter("IdempotencyKey", "header", dict(IDEMPOTENCY_KEY))
        spec.components.header("IdempotentReplayed", dict(IDEMPOTENT_REPLAYED))
        spec.components.security_scheme(
            "metricsToken",
            {
                "type": "http",
                "scheme": "bearer",
                "description": "The operators' FIELDAPI_METRICS_TOKEN (not a user's token).",
            },
        )

    def response_helper(self, response, **kwargs):
        _as_problem(response)
        return response

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        for method, operation in (operations or {}).items():
            for code, response in operation.get("responses", {}).items():
                if str(code).isdigit() and int(code) >= 400 and isinstance(response, dict):
                    _as_problem(response)
            if rule is None:
                continue
            verb = declared_verb(self.app, rule.endpoint, method.upper())
            if method.lower() == "post":
                _document_idempotency(operation, kept=verb not in (PUBLIC, REFRESH))
            _document_common_errors(operation, rule=rule, verb=verb)
            if verb == PUBLIC:
                operation["security"] = []
            elif verb == SCRAPER:
                # The metrics token when one is set; when none is, nothing (loopback only).
                operation["security"] = [{"metricsToken": []}, {}]
            elif verb in (AUTHENTICATED, REFRESH):
                operation["x-roles"] = list(ROLES)
            elif verb:
                operation["x-roles"] = [r for r in ROLES if verb in ROLE_VERBS[r]]


def _document_idempotency(operation: dict, *, kept: bool) -> None:
    """Every POST takes an Idempotency-Key; where answers are kept, say how a retry ends."""
    operation.setdefault("parameters", []).append("IdempotencyKey")
    responses = operation.setdefault("responses", {})
    documented = {str(code) for code in responses}  # flask-smorest keys some by int
    errors = _IDEMPOTENCY_ERRORS if kept else {"400": _IDEMPOTENCY_ERRORS["400"]}
    for code, description in errors.items():
        if code not in documented:
            responses[code] = {"description": description, **_PROBLEM}
    if not kept:
        return
    for code, response in responses.items():
        if str(code).startswith("2") and isinstance(response, dict):
            response.setdefault("headers", {})["Idempotent-Replayed"] = "IdempotentReplayed"


_PROBLEM = {"content": {MEDIA_TYPE: PROBLEM_REF}}

# The answers the plumbing gives, before or around a view: listed by number on each operation
# they can come from, so a client knows every status it may meet.
_COMMON_ERRORS = {
    "malformed": ("400", "The body is not valid JSON, or the page cursor is not valid."),
    "unauthenticated": ("401", "Sign in: the bearer token is missing, expired or revoked."),
    "forbidden": ("403", "The caller's role does not allow this operation."),
    "not_found": ("404", "Unknown, or outside the caller's scope."),
    "too_large": ("413", "The request body is larger than this operation accepts."),
    "media_type": ("415", "The body is not sent as application/json."),
    "invalid": (
        "422",
        "A field or query parameter is not valid, or the query names a parameter "
        "this operation does not take.",
    ),
}


def _document_common_errors(operation: dict, *, rule, verb: str | None) -> None:
    query = {
        p.get("name")
        for p in operation.get("parameters", ())
        if isinstance(p, dict) and p.get("in") == "query"
    }
    json_body = "application/json" in (operation.get("requestBody") or {}).get("content", {})
    applies = {
        "malformed": json_body or "cursor" in query,
        "unauthenticated": verb != PUBLIC,
        "forbidden": verb not in (PUBLIC, AUTHENTICATED, REFRESH)
        and not all(verb in ROLE_VERBS[r] for r in ROLES),
        "not_found": bool(rule.arguments),
        "too_large": json_body,
        "media_type": json_body,
        # Query parameters are strict on every API operation (fieldapi.core.arguments).
        "invalid": rule.rule.startswith("/api/"),
    }
    responses = operation.setdefault("responses", {})
    documented = {str(code) for code in responses}
    for name, (code, description) in _COMMON_ERRORS.items():
        if not applies[name]:
            continue
        if code not in documented:
            responses[code] = {"description": description, **_PROBLEM}
            documented.add(code)
        elif isinstance(responses.get(code), dict) and code == "400":
            # The Idempotency-Key's own 400 is documented first; a body can be malformed too.
            responses[code]["description"] += " " + description
