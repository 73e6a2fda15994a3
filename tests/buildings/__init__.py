"""Helpers shared by the building file tests: a realistic file, and problem assertions."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

PROBLEM_MEDIA_TYPE = "application/problem+json"
# A resident identity card number with a correct check character.
VALID_ID_NUMBER = "11010519491231002X"
MASKED_ID_NUMBER = "1101**********002X"
PHONE = "13812345678"
MASKED_PHONE = "138****5678"


def full_file(grid_id: uuid.UUID, code: str = "FT-SW-0012", **extra: Any) -> dict[str, Any]:
    """A whole building file as a phone sends it, every item with a client-chosen id.

    Items are listed in the order the server answers with (units by floor and label,
    residents and shops by name, equipment by kind), so a read-back compares directly.
    """

    def new_id() -> str:
        return str(uuid.uuid4())

    payload: dict[str, Any] = {
        "id": new_id(),
        "code": code,
        "name": "Shuiwei Garden Block 12",
        "address": "12 Shuiwei 1st Lane, Futian, Shenzhen",
        "grid_id": str(grid_id),
        "location": {"lat": 22.5281, "lon": 114.0632},
        "use_type": "mixed",
        "floors_above": 9,
        "floors_below": 1,
        "height_m": 28.5,
        "structure": "reinforced_concrete",
        "year_built": 1998,
        "floor_area_m2": 5400.0,
        "responsibility": {
            "owner": {"name": "Chen Jun", "phone": "13900001111"},
            "manager": {"name": "Huang Mei", "phone": "0755-8888 1234"},
            "safety_officer": {"name": "Zhao Lei", "phone": "+86 139 0000 2222"},
        },
        # Document photos must be real verified uploads: tests/photos attaches them.
        "statement": {"signed_on": "2025-03-01", "photo_id": None},
        "units": [
            {
                "id": new_id(),
                "label": "101",
                "floor": 1,
                "area_m2": 65.0,
                "use": "home",
                "residents": [
                    {
                        "id": new_id(),
                        "name": "Li Wei",
                        "id_number": VALID_ID_NUMBER,
                        "phone": PHONE,
                        "kind": "permanent",
                        "is_tenant": False,
                        "registered_on": "2019-06-01",
                    },
                    {
                        "id": new_id(),
                        "name": "Zhang Min",
                        "id_number": "E12345678",
                        "phone": "13698765432",
                        "kind": "floating",
                        "is_tenant": True,
                        "registered_on": "2024-09-15",
                    },
                ],
            },
            {
                "id": new_id(),
                "label": "201",
                "floor": 2,
                "area_m2": 88.5,
                "use": "rental",
                "residents": [],
            },
        ],
        "shops": [
            {
                "id": new_id(),
                "name": "Hongfa Grocery",
                "licence_number": "91440300MA5F00001X",
                "business_type": "grocery",
                "operator_name": "Wu Fang",
                "contact_phone": "13700003333",
                "floor": 1,
            }
        ],
        "equipment": [
            {
                "id": new_id(),
                "kind": "emergency_light",
                "count": 9,
                "location": "stairwell, every landing",
                "last_service_on": "2020-05-01",
                "expires_on": "2020-12-31",
                "photo_id": None,
            },
            {
                "id": new_id(),
                "kind": "extinguisher",
                "count": 12,
                "location": "lift lobby, every floor",
                "last_service_on": "2025-01-10",
                "expires_on": "2040-01-10",
                "photo_id": None,
            },
        ],
        "self_check_interval_days": 14,
        "next_self_check_due_at": "2040-01-01T00:00:00+00:00",
        "notes": "Ground-floor shops share the east stairwell.",
    }
    payload.update(extra)
    return payload


def expected_readback(payload: dict[str, Any]) -> dict[str, Any]:
    """What the server answers for ``payload``: the same fields, equipment with its expiry
    flag, and the schedule under ``self_check``."""
    today = date.today().isoformat()
    expected = {k: v for k, v in payload.items() if k != "id"}
    schedule = {
        "interval_days": expected.pop("self_check_interval_days"),
        "next_due_at": expected.pop("next_self_check_due_at"),
    }
    expected["self_check"] = {**schedule, "overdue": schedule["next_due_at"] < today}
    expected["equipment"] = [
        {**e, "expired": e["expires_on"] is not None and e["expires_on"] < today}
        for e in payload.get("equipment", [])
    ]
    return expected


def assert_problem(response, status: int, slug: str, pointer: str | None = None) -> dict:
    """The response is a problem+json of this status and slug (naming ``pointer`` if given)."""
    body = response.get_json()
    assert response.status_code == status, body
    assert response.mimetype == PROBLEM_MEDIA_TYPE
    assert body["type"].endswith("/" + slug)
    assert body["status"] == status
    assert "Traceback" not in response.get_data(as_text=True)
    if pointer is not None:
        pointers = [e["pointer"] for e in body.get("errors", [])]
        assert pointer in pointers, body
    return body


def pages(client, headers: dict, path: str, **query: Any) -> list[list[dict]]:
    """Follow ``next_cursor`` from the first page to the last; each page's items, in order.

    A cursor that never ends fails the test instead of looping for ever.
    """
    found: list[list[dict]] = []
    cursor = None
    for _ in range(100):
        page = client.get(
            path, query_string={**query, **({"cursor": cursor} if cursor else {})}, headers=headers
        )
        assert page.status_code == 200, page.get_json()
        body = page.get_json()
        found.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found
    raise AssertionError(f"{path} never reached its last page")
