"""The committed contract (mobile_contract/openapi.json) is exactly what the app serves."""

import json
from pathlib import Path

COMMITTED = Path(__file__).resolve().parents[2] / "mobile_contract" / "openapi.json"

# Paths the phone contract fixes (../shared/API.md) that this server already offers.
FIXED_PATHS = {
    "/api/v1/auth/login": {"post"},
    "/api/v1/auth/refresh": {"post"},
    "/api/v1/auth/logout": {"post"},
    "/api/v1/me": {"get"},
    "/api/v1/areas": {"get", "post"},
    "/api/v1/grids": {"get", "post"},
    "/api/v1/users": {"get", "post"},
    "/api/v1/buildings": {"get", "post"},
    "/api/v1/buildings/{building_id}": {"get", "patch"},
    "/api/v1/buildings/{building_id}/timeline": {"get"},
    "/api/v1/photos": {"post"},
    "/api/v1/photos/{photo_id}": {"get"},
    "/api/v1/photos/{photo_id}/complete": {"post"},
    "/api/v1/templates": {"get", "post"},
    "/api/v1/inspections": {"post"},
    "/api/v1/inspections/{inspection_id}/submit": {"post"},
    "/api/v1/hazards": {"get"},
    "/api/v1/hazards/{hazard_id}/rectifications": {"post"},
    "/api/v1/submissions/{submission_id}": {"get"},
    "/api/v1/submissions/{submission_id}/decisions": {"post"},
    "/api/v1/inbox": {"get"},
    "/health": {"get"},
    "/ready": {"get"},
    "/metrics": {"get"},
}


def test_committed_contract_matches_served_document(client):
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    committed = json.loads(COMMITTED.read_text())
    assert served.get_json() == committed, (
        "mobile_contract/openapi.json is out of date: run `make openapi` and note the change"
    )


def test_contract_offers_the_fixed_paths(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, methods in FIXED_PATHS.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))


def test_errors_are_documented_as_problem_json(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    default = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert list(default["content"]) == ["application/problem+json"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for code, response in operation["responses"].items():
                if code.isdigit() and int(code) >= 400 and "content" in response:
                    assert list(response["content"]) == ["application/problem+json"], (
                        path,
                        method,
                        code,
                    )


def test_public_operations_are_marked_and_others_name_their_roles(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert paths["/api/v1/auth/login"]["post"]["security"] == []
    assert paths["/health"]["get"]["security"] == []
    assert paths["/api/v1/users"]["post"]["x-roles"] == ["admin"]
    assert "fire_police" in paths["/api/v1/buildings"]["get"]["x-roles"]
    assert "fire_police" not in paths["/api/v1/buildings"]["post"]["x-roles"]


def test_browsable_docs_are_served(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert b"swagger" in response.data.lower()
