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
    declared_verb,
)
from fieldapi.core.problems import MEDIA_TYPE

PROBLEM_REF = {"schema": {"$ref": "#/components/schemas/Problem"}}


def _as_problem(response: dict) -> None:
    content = response.get("content") or {}
    response["content"] = {MEDIA_TYPE: content.get("application/json", PROBLEM_REF)}


class ContractPlugin(BasePlugin):
    def __init__(self, app: Flask) -> None:
        self.app = app

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
            if verb == PUBLIC:
                operation["security"] = []
            elif verb in (AUTHENTICATED, REFRESH):
                operation["x-roles"] = list(ROLES)
            elif verb:
                operation["x-roles"] = [r for r in ROLES if verb in ROLE_VERBS[r]]
