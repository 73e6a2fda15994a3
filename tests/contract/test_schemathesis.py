"""Every operation of the committed contract, fuzzed by schemathesis against the app itself.

For each operation and for two callers (an admin and a grid staff member of the test world),
schemathesis generates valid requests and invalid ones from mobile_contract/openapi.json and
sends them to the WSGI app with a real bearer token. Every answer must:

- never be a server error;
- carry a status the operation lists by number (a catch-all ``default`` is not enough), in a
  media type the operation declares, with a body that matches the schema for that status;
- refuse what the contract says is invalid (a missing required field, a wrong type, an
  unknown query parameter...) with a 4xx.

Path parameters are real ids from the test world most of the time (a building, a submission,
a photo...), so operations are reached past their 404. Valid data is not required to be
accepted: the contract cannot say which ids exist or are in the caller's scope, nor which
combination of valid fields a business rule refuses (a street under a grid, a decision the
stage does not allow), so a well-formed request may rightly answer 404, 409 or 422.

Generation is derandomized and bounded so the run is the same on every machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fieldapi.checklists.defaults import ensure_defaults
from tests.fieldwork.conftest import PLAIN_ITEMS, Field

COMMITTED = Path(__file__).resolve().parents[2] / "mobile_contract" / "openapi.json"
SPEC = json.loads(COMMITTED.read_text())
OPERATIONS = [
    (method.upper(), path)
    for path, operations in SPEC["paths"].items()
    for method in operations
    if method != "parameters"
]
CALLERS = ("admin", "gw1")


def _takes_input(operation: dict, shared: dict) -> bool:
    """Whether anything of the request can be made invalid: parameters, body or credentials
    (not credentials that are optional, as /metrics' token is from loopback)."""
    security = operation.get("security", SPEC.get("security")) or []
    return bool(
        operation.get("parameters")
        or shared.get("parameters")
        or operation.get("requestBody")
        or (security and {} not in security)
    )


CASES = [
    pytest.param(method, path, caller, mode, id=f"{method} {path}-{caller}-{mode.value}")
    for method, path in OPERATIONS
    for caller in CALLERS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE
    or _takes_input(SPEC["paths"][path][method.lower()], SPEC["paths"][path])
]
MAX_EXAMPLES = 12


@schemathesis.check
def status_code_listed(ctx, response, case):
    """The status is one the operation lists by number, not only through ``default``."""
    listed = {code for code in case.operation.definition.raw["responses"] if code.isdigit()}
    status = str(response.status_code)
    if status not in listed:
        raise AssertionError(
            f"{case.operation.label} answered {status}, which it does not list "
            f"(lists {', '.join(sorted(listed))})"
        )
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    status_code_listed,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]


@pytest.fixture(scope="module")
def schema(migrated):
    """The committed document (tests/contract/test_openapi.py holds it equal to the served
    one), sent to the app itself; probes schemathesis makes on its own go there too."""
    loaded = schemathesis.openapi.from_dict(SPEC)
    loaded.app = migrated
    return loaded


class Ids:
    """Real ids for path parameters, made on first use: only what an operation names."""

    def __init__(self, field: Field) -> None:
        self.field = field
        self.world = field.world
        self._made: dict[str, list[str]] = {}

    def for_parameter(self, name: str) -> list[str]:
        if name not in self._made:
            self._made[name] = [str(i) for i in getattr(self, name)()]
        return self._made[name]

    def area_id(self):
        return self.world.areas.values()

    def grid_id(self):
        return [self.world.areas[g] for g in ("G1", "G2", "G3", "G4")]

    def user_id(self):
        return self.world.users.values()

    def building_id(self):
        return self.world.buildings.values()

    def photo_id(self):
        return [self.field.photo("gw1"), self.field.unfinished_photo("gw1")]

    def variant(self):
        return ["display", "thumbnail"]

    def template_id(self):
        response = self.field.client.get("/api/v1/templates", headers=self.field.as_user("admin"))
        return [t["id"] for t in response.get_json()["items"]]

    def _submitted(self) -> dict:
        if "_submitted" not in self._made:
            self._made["_submitted"] = self.field.submitted("mgr1", failed=[PLAIN_ITEMS[0]])
        return self._made["_submitted"]

    def inspection_id(self):
        draft = self.field.inspection_body("mgr1")
        assert self.field.create("mgr1", draft).status_code == 201
        return [draft["id"], self._submitted()["id"]]

    def submission_id(self):
        return [self._submitted()["submission_id"]]

    def hazard_id(self):
        self._submitted()
        response = self.field.client.get("/api/v1/hazards", headers=self.field.as_user("admin"))
        return [h["id"] for h in response.get_json()["items"]]


def _with_real_ids(operation, mode: GenerationMode, ids: Ids):
    names = [p.name for p in operation.path_parameters]
    generated = operation.as_strategy(generation_mode=mode)
    if not names:
        return generated
    real = st.fixed_dictionaries({n: st.sampled_from(ids.for_parameter(n)) for n in names})
    with_ids = real.flatmap(
        lambda values: operation.as_strategy(generation_mode=mode, path_parameters=values)
    )
    return st.one_of(with_ids, generated)


def _headers(client, world, caller: str, path: str) -> dict[str, str]:
    """A fresh session's bearer token: refresh and logout spend theirs."""
    response = client.post(
        "/api/v1/auth/login",
        json={"username": caller, "password": world.password},
        environ_base={"REMOTE_ADDR": "10.20.0.1"},
    )
    assert response.status_code == 200, response.get_json()
    tokens = response.get_json()
    token = tokens["refresh_token"] if path == "/api/v1/auth/refresh" else tokens["access_token"]
    return {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}


@pytest.mark.parametrize(("method", "path", "caller", "mode"), CASES)
def test_operation_keeps_its_contract(
    schema, app, client, world, as_user, method, path, caller, mode
):
    with app.extensions["fieldapi.sessionmaker"]() as db:
        ensure_defaults(db)
        db.commit()
    field = Field(client, app, world, as_user)
    operation = schema[path][method]
    strategy = _with_real_ids(operation, mode, Ids(field))
    session_bound = path in ("/api/v1/auth/refresh", "/api/v1/auth/logout")
    shared = _headers(client, world, caller, path)

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        headers = _headers(client, world, caller, path) if session_bound else shared
        case.call_and_validate(app=app, headers=headers, checks=CHECKS)

    run()


# What the fuzzing found, pinned down by name.


def test_undeclared_query_parameters_are_refused(client, as_user):
    admin = as_user("admin")
    listed = client.get("/api/v1/users?role=admin&foo=1", headers=admin)
    assert listed.status_code == 422
    assert listed.mimetype == "application/problem+json"
    assert listed.get_json()["errors"] == [
        {"pointer": "/foo", "detail": "Unknown field.", "location": "query"}
    ]
    takes_none = client.get("/api/v1/me?verbose=1", headers=admin)
    assert takes_none.status_code == 422
    assert takes_none.get_json()["errors"][0]["pointer"] == "/verbose"
    assert client.get("/api/v1/users?role=admin", headers=admin).status_code == 200
    assert client.get("/api/v1/me", headers=admin).status_code == 200


def test_signed_out_caller_hears_about_signing_in_before_the_query(client):
    response = client.get("/api/v1/users?foo=1")
    assert response.status_code == 401


def test_masked_resident_numbers_match_the_answer_schema(client, world, as_user):
    building = client.get(f"/api/v1/buildings/{world.buildings['B1']}", headers=as_user("gw1"))
    resident = building.get_json()["units"][0]["residents"][0]
    assert "*" in resident["phone"]
    schemas = SPEC["components"]["schemas"]
    unit_ref = schemas["Building"]["properties"]["units"]["items"]["$ref"]
    resident_ref = schemas[unit_ref.rsplit("/", 1)[1]]["properties"]["residents"]["items"]["$ref"]
    assert "pattern" not in schemas[resident_ref.rsplit("/", 1)[1]]["properties"]["phone"]


def test_responsibility_names_every_role(client, world, as_user):
    building = client.get(f"/api/v1/buildings/{world.buildings['B1']}", headers=as_user("gw1"))
    assert building.get_json()["responsibility"] == {
        "owner": None,
        "manager": None,
        "safety_officer": None,
    }
