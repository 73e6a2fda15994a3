"""The recorded examples (mobile_contract/examples/) agree with the committed contract.

Each example is one real exchange with the app (mobile_contract/examples/record.py). Its
request body must match the operation's request schema, its status must be listed by the
operation, and its response body must match the schema of that status in the declared media
type. Schemas are read closed: an object may carry no property its schema does not declare,
and a response object must carry every property its schema declares (or, where the schema
lists its required properties, those; a property described as "left out" at times is
optional), so a field added to or
dropped from either the app or the document shows up here as drift.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path

import jsonschema_rs
import pytest

ROOT = Path(__file__).resolve().parents[2] / "mobile_contract"
SPEC = json.loads((ROOT / "openapi.json").read_text())
EXAMPLES = ROOT / "examples"
FILES = sorted(p.relative_to(EXAMPLES).with_suffix("").as_posix() for p in EXAMPLES.rglob("*.json"))

# Every exchange of the phone contract (../shared/API.md) has at least one example.
REQUIRED = {
    # Sessions
    "sessions/login",
    "sessions/login-wrong-password",
    "sessions/login-throttled",
    "sessions/refresh",
    "sessions/logout",
    "sessions/me",
    # Areas and users
    "areas-and-users/create-community",
    "areas-and-users/create-grid",
    "areas-and-users/create-user",
    # The building file
    "building-file/create",
    "building-file/read",
    "building-file/read-out-of-scope",
    "building-file/update",
    "building-file/update-without-if-match",
    "building-file/update-stale",
    "building-file/list",
    "building-file/list-next-page",
    "field-work/timeline",
    # Photos
    "photos/slot",
    "photos/upload",
    "photos/complete",
    "photos/complete-mismatch",
    "photos/read",
    "photos/read-not-visible",
    # Field work and review
    "field-work/templates",
    "field-work/inspection-create",
    "field-work/inspection-submit",
    "field-work/hazards",
    "field-work/rectification",
    "field-work/submission",
    "field-work/decision",
    "field-work/decision-wrong-role",
    "field-work/decision-not-allowed",
    "field-work/decision-stale",
    "field-work/decision-without-if-match",
    "field-work/inbox",
    # Offline
    "offline/idempotency-first",
    "offline/idempotency-replay",
    "offline/idempotency-key-reused",
    "offline/idempotency-in-progress",
    "offline/client-id-replay",
    "offline/client-id-conflict",
    "offline/sync-first",
    "offline/sync-delta",
    # Errors
    "errors/validation",
    "errors/unauthenticated",
    "errors/method-not-allowed",
    "errors/payload-too-large",
    "errors/unsupported-media-type",
}

# Examples whose point is a request the contract refuses.
REFUSED_REQUESTS = {
    "errors/validation",
    "errors/unknown-query-parameter",
    "errors/bad-cursor",
    "errors/unsupported-media-type",
    "errors/payload-too-large",
}


def load(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def _said_optional(prop) -> bool:
    """A property whose description says it is left out at times ("Left out when...")."""
    return isinstance(prop, dict) and "left out" in str(prop.get("description", "")).lower()


def _closed(node, *, complete: bool):
    """The schema with every object closed to undeclared properties (and, for responses,
    requiring every declared one)."""
    if isinstance(node, list):
        return [_closed(n, complete=complete) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _closed(v, complete=complete) for k, v in node.items()}
    properties = node.get("properties")
    if isinstance(properties, dict):
        out.setdefault("additionalProperties", False)
        if complete and "required" not in node:
            out["required"] = sorted(
                name for name, prop in properties.items() if not _said_optional(prop)
            )
    return out


@cache
def _components(complete: bool) -> dict:
    return _closed(SPEC["components"], complete=complete)


def validator(schema: dict, *, complete: bool):
    root = {**_closed(schema, complete=complete), "components": _components(complete)}
    return jsonschema_rs.Draft202012Validator(root)


def errors_of(schema: dict, instance, *, complete: bool) -> list[str]:
    return [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}"
        for e in validator(schema, complete=complete).iter_errors(instance)
    ]


def _template_regex(template: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


def operation_for(method: str, path: str) -> tuple[str, dict]:
    """The operation answering ``method path``; literal segments win over parameters."""
    candidates = [
        (template, operations[method.lower()])
        for template, operations in SPEC["paths"].items()
        if method.lower() in operations and _template_regex(template).match(path)
    ]
    assert candidates, f"no operation for {method} {path}"
    return max(candidates, key=lambda c: len(re.sub(r"\{[^}]+\}", "", c[0])))


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = SPEC["components"][kind][name]
    return node


def test_every_exchange_of_the_contract_has_an_example():
    assert not REQUIRED - set(FILES), sorted(REQUIRED - set(FILES))


def test_example_files_have_the_same_shape():
    for name in FILES:
        example = load(name)
        assert set(example) == {"title", "request", "response"}, name
        assert {"method", "path", "headers"} <= set(example["request"]), name
        assert {"status", "headers"} <= set(example["response"]), name


@pytest.mark.parametrize("name", FILES)
def test_request_matches_the_contract(name):
    request = load(name)["request"]
    method, path = request["method"], request["path"]
    if name == "errors/method-not-allowed":
        assert all(method.lower() not in ops for t, ops in SPEC["paths"].items() if t == path)
        return
    template, operation = operation_for(method, path)
    declared = {p["name"] for p in map(_resolve, operation.get("parameters", []))}
    declared |= {p["name"] for p in map(_resolve, SPEC["paths"][template].get("parameters", []))}
    if name not in REFUSED_REQUESTS:
        assert set(request.get("query", {})) <= declared, (name, declared)
    if "body" not in request:
        return
    content = (operation.get("requestBody") or {}).get("content", {})
    assert "application/json" in content, f"{name}: {method} {template} takes no JSON body"
    problems = errors_of(content["application/json"]["schema"], request["body"], complete=False)
    if name in REFUSED_REQUESTS:
        assert problems, f"{name}: the refused request is valid by the contract"
    else:
        assert not problems, (name, problems)


@pytest.mark.parametrize("name", FILES)
def test_response_matches_the_contract(name):
    example = load(name)
    request, response = example["request"], example["response"]
    if name == "errors/method-not-allowed":
        assert response["status"] == 405
        assert response["headers"]["Content-Type"] == "application/problem+json"
        assert response["headers"]["Allow"]
        return
    template, operation = operation_for(request["method"], request["path"])
    status = str(response["status"])
    assert status in operation["responses"], (
        f"{name}: {request['method']} {template} does not list {status}"
    )
    documented = _resolve(operation["responses"][status])
    if "body" not in response:
        assert not documented.get("content") or status == "304", name
        return
    media_type = response["headers"]["Content-Type"].split(";")[0]
    assert media_type in documented.get("content", {}), (name, media_type, documented)
    schema = documented["content"][media_type]["schema"]
    problems = errors_of(schema, response["body"], complete=True)
    assert not problems, (name, problems)
    if media_type == "application/problem+json":
        body = response["body"]
        assert body["status"] == response["status"]
        assert body["type"].startswith("https://")
        assert "/problems/" in body["type"]


def test_drift_is_caught():
    """The check above is not vacuous: a renamed, retyped or extra field is caught."""
    example = load("building-file/create")
    _template, operation = operation_for("POST", "/api/v1/buildings")
    request_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    response_schema = operation["responses"]["201"]["content"]["application/json"]["schema"]
    body, answer = example["request"]["body"], example["response"]["body"]
    assert not errors_of(request_schema, body, complete=False)
    assert not errors_of(response_schema, answer, complete=True)

    retyped = {**body, "floors_above": "9"}
    assert errors_of(request_schema, retyped, complete=False)
    extra = {**answer, "colour": "red"}
    assert errors_of(response_schema, extra, complete=True)
    dropped = {k: v for k, v in answer.items() if k != "use_type"}
    assert errors_of(response_schema, dropped, complete=True)
    nested = copy.deepcopy(answer)
    nested["location"]["lat"] = "22.528"
    assert errors_of(response_schema, nested, complete=True)
