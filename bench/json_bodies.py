"""JSON bodies: what the strict reader costs on normal bodies, and how fast it refuses hostile ones.

Run by hand from the repository root (never part of the test suite):

    .venv/bin/python -m bench.json_bodies [--runs 200]

For each body it prints the median CPU time (``time.process_time``: the machine may be
shared) of the reader the app used before
(``webargs.core.parse_json``: the standard library's ``json.loads``) and of the strict
reader (``fieldapi.core.jsonbody.loads``), or what each raised. Then it sends the hostile
bodies of 1 MiB to ``POST /api/v1/auth/login`` of an embedded app (SQLite in a temporary
folder) through Flask's test client and reports the whole request's median time, and the
CPU time of creating a building (an 8-unit file) with each reader.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable

from webargs.core import parse_json

from fieldapi.core import jsonbody

MIB = 1024 * 1024


def building_file(units: int, residents: int) -> dict:
    """A building file as a phone sends it: units with residents, shops and equipment."""
    return {
        "id": str(uuid.uuid4()),
        "code": "FT-SW-0012",
        "grid_id": str(uuid.uuid4()),
        "name": "水围村 12 栋 Block 12",
        "address": "深圳市福田区沙头街道水围村 12 栋",
        "location": {"lat": 22.5281, "lon": 114.0632},
        "use_type": "mixed",
        "structure": "reinforced_concrete",
        "floors_above": 9,
        "floors_below": 1,
        "height_m": 28.5,
        "year_built": 1998,
        "floor_area_m2": 3200.0,
        "units": [
            {
                "id": str(uuid.uuid4()),
                "label": f"{u // 8 + 1}{u % 8 + 1:02d}",
                "floor": u // 8 + 1,
                "area_m2": 62.5,
                "use": "dwelling",
                "residents": [
                    {
                        "id": str(uuid.uuid4()),
                        "name": f"居民 {u}-{r}",
                        "id_number": None,
                        "phone": "13900001111",
                        "kind": "permanent",
                        "is_tenant": r % 2 == 1,
                        "registered_on": "2020-05-01",
                    }
                    for r in range(residents)
                ],
            }
            for u in range(units)
        ],
        "equipment": [
            {
                "id": str(uuid.uuid4()),
                "kind": "extinguisher",
                "count": 9,
                "location": "stairwell, every landing",
                "last_service_on": "2025-01-10",
                "expires_on": "2040-01-10",
                "photo_id": None,
            }
        ],
        "notes": "Ground-floor shops share the east stairwell.",
    }


def bodies() -> dict[str, bytes]:
    login = {"username": "gridworker1", "password": "demo-grid1-2026"}
    large = building_file(units=2000, residents=2)
    large_text = json.dumps(large, ensure_ascii=False).encode()
    return {
        "sign-in": json.dumps(login).encode(),
        "building file (8 units)": json.dumps(building_file(8, 2), ensure_ascii=False).encode(),
        "building file (2,000 units)": large_text,
        "1 MiB of [": b"[" * MIB,
        '1 MiB of {"a":': b'{"a":' * (MIB // 5),
        "1 MiB: [[[…1]]] 1,000 deep, repeated": (
            b"[" + b",".join([b"[" * 999 + b"1" + b"]" * 999] * (MIB // 2002)) + b"]"
        ),
        "2,000 units, then 65 levels deep": large_text[:-1]
        + b', "x": '
        + b"[" * 65
        + b"]" * 65
        + b"}",
        "integer of 5,000 digits": b'{"n": 1' + b"0" * 4999 + b"}",
        "1 MiB fraction": b'{"n": 0.' + b"3" * (MIB - 10) + b"}",
        "2,000 units, duplicate key at the end": large_text[:-1] + b', "code": "X-1"}',
    }


def timed(reader: Callable[[bytes], object], body: bytes, runs: int) -> str:
    times = []
    outcome = "ok"
    for _ in range(runs):
        started = time.process_time()
        try:
            reader(body)
        except RecursionError:
            outcome = "RecursionError (500)"
        except jsonbody.MalformedJson:
            outcome = "refused (400)"
        except json.JSONDecodeError:
            outcome = "JSONDecodeError (400)"
        except ValueError:
            outcome = "ValueError (500)"
        times.append(time.process_time() - started)
    return f"{statistics.median(times) * 1e6:10.0f} µs  {outcome}"


def through_the_app(cases: dict[str, bytes], runs: int) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        os.environ["FIELDAPI_DATA_DIR"] = data_dir
        from fieldapi import create_app
        from fieldapi.core import migrate

        app = create_app()
        migrate.upgrade(app.extensions["fieldapi.engine"])
        client = app.test_client()
        print("\nPOST /api/v1/auth/login through the test client (median of whole requests):")
        for name, body in cases.items():
            times, status = [], None
            for _ in range(runs):
                started = time.perf_counter()
                response = client.post(
                    "/api/v1/auth/login", data=body, content_type="application/json"
                )
                times.append(time.perf_counter() - started)
                status = response.status_code
            print(f"  {name:<42} {statistics.median(times) * 1e3:8.2f} ms  {status}")
        building_creates(app, client, runs)
        app.extensions["fieldapi.engine"].dispose()


def building_creates(app, client, runs: int) -> None:
    """POST /api/v1/buildings with an 8-unit file: the whole request's CPU time, read by the
    strict reader and, alternating, by the standard library's ``json.loads`` in its place."""
    from fieldapi.users.service import create_user

    with app.extensions["fieldapi.sessionmaker"]() as db, db.begin():
        create_user(
            db=db,
            passwords=app.extensions["fieldapi.passwords"],
            data={
                "username": "bench",
                "password": "bench password 2026",
                "role": "admin",
                "area_ids": [],
                "building_ids": [],
                "active": True,
            },
        )
    answer = client.post(
        "/api/v1/auth/login", json={"username": "bench", "password": "bench password 2026"}
    )
    headers = {"Authorization": f"Bearer {answer.get_json()['access_token']}"}
    parent = None
    for kind in ("district", "street", "community", "grid"):
        path = "/api/v1/grids" if kind == "grid" else "/api/v1/areas"
        body = {"name": f"bench {kind}", "parent_id": parent}
        if kind != "grid":
            body["kind"] = kind
        parent = client.post(path, json=body, headers=headers).get_json()["id"]
    strict = jsonbody.loads
    times: dict[str, list[float]] = {"strict reader": [], "json.loads": []}
    for run in range(2 * runs):
        name = "strict reader" if run % 2 else "json.loads"
        jsonbody.loads = strict if run % 2 else json.loads
        payload = building_file(8, 2) | {"grid_id": parent, "code": f"BENCH-{run:04d}"}
        data = json.dumps(payload, ensure_ascii=False).encode()
        started = time.process_time()
        response = client.post(
            "/api/v1/buildings", data=data, content_type="application/json", headers=headers
        )
        times[name].append(time.process_time() - started)
        assert response.status_code == 201, response.get_json()
    jsonbody.loads = strict
    print("\nPOST /api/v1/buildings, 8 units (median CPU time of whole requests):")
    for name, spent in times.items():
        print(f"  {name:<42} {statistics.median(spent) * 1e3:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    cases = bodies()
    print(f"{'body':<42} {'bytes':>9}  {'before (stdlib)':<34} strict reader")
    for name, body in cases.items():
        runs = args.runs if len(body) < 100_000 else max(5, args.runs // 20)
        before = timed(parse_json, body, runs)
        after = timed(jsonbody.loads, body, runs)
        print(f"{name:<42} {len(body):>9}  {before:<34} {after}")
    hostile = {name: body for name, body in cases.items() if len(body) >= MIB - 16}
    through_the_app(hostile, max(5, args.runs // 20))


if __name__ == "__main__":
    main()
