"""GET /api/v1/inbox: server time and statements per request, on SQLite and PostgreSQL.

Run by hand from the repository root (never part of the test suite):

    .venv/bin/python -m bench.inbox [--backend sqlite|postgresql|both] [--big] [--requests 500]

Builds a throwaway app for each backend (SQLite in a temporary folder; on PostgreSQL a fresh
database on 127.0.0.1:5432, as bench.sync makes one, dropped at the end), loads the demo
district (what ``flask --app wsgi demo-seed`` loads) and asks for gridworker1's inbox through
Flask's test client, so the times are server time: routing, the sign-in check, the query,
JSON. With ``--big``, the sync benchmark's grid instead (``bench.sync.seed``: 2,000 buildings
and 20,000 inspections), whose grid worker has about 4,000 items waiting, in pages of 50 and
200. Reported per request: wall time p50 and p90, this process's CPU time (mean), the
statements sent (``before_cursor_execute``) and the items answered; ``GET /api/v1/me`` beside
it as the floor every signed-in request pays.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

from bench.sync import PASSWORD, fresh_database, make_app, seed

DEMO_USER = ("gridworker1", "demo-grid1-2026")


def demo_seed(app) -> None:
    from fieldapi.demo.seed import seed as seed_demo
    from fieldapi.fieldwork.policy import Policy

    sessionmaker = app.extensions["fieldapi.sessionmaker"]
    with app.app_context(), sessionmaker() as session, session.begin():
        seed_demo(
            session,
            passwords=app.extensions["fieldapi.passwords"],
            blobs=app.extensions["fieldapi.blobs"],
            policy=Policy.current(),
        )


def measure(app, client, headers, path: str, query: dict, requests: int) -> str:
    statements: list[str] = []
    engine = app.extensions["fieldapi.engine"]

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    for _ in range(30):  # warm: compiled statements, PostgreSQL's prepared plans
        response = client.get(path, query_string=query, headers=headers)
        assert response.status_code == 200, response.get_json()
    event.listen(engine, "before_cursor_execute", count)
    items = len(client.get(path, query_string=query, headers=headers).get_json().get("items", []))
    event.remove(engine, "before_cursor_execute", count)
    wall, cpu = [], []
    for _ in range(requests):
        began, began_cpu = time.perf_counter(), time.process_time()
        client.get(path, query_string=query, headers=headers)
        wall.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
    wall.sort()
    return (
        f"{path} {query or ''}: p50 {statistics.median(wall):.2f} ms, "
        f"p90 {wall[int(len(wall) * 0.9)]:.2f} ms, CPU {statistics.mean(cpu):.2f} ms, "
        f"{len(statements)} statements, {items} items"
    )


def run(backend: str, big: bool, requests: int) -> None:
    with contextlib.ExitStack() as stack:
        data_dir = stack.enter_context(tempfile.TemporaryDirectory())
        if backend == "postgresql":
            url = stack.enter_context(fresh_database())
        else:
            url = f"sqlite:///{Path(data_dir) / 'fieldapi.db'}"
        app = make_app(url, data_dir)
        if big:
            seed(app, 2000, 20000)
            username, password, pages = "gw1", PASSWORD, (50, 200)
        else:
            demo_seed(app)
            (username, password), pages = DEMO_USER, (50,)
        gc.collect()
        gc.freeze()  # the seed's objects: a server worker would not hold them
        client = app.test_client()
        login = {"username": username, "password": password}
        token = client.post("/api/v1/auth/login", json=login).get_json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        print(f"{backend}, {'sync grid' if big else 'demo district'}, {username}:")
        for limit in pages:
            print("  " + measure(app, client, headers, "/api/v1/inbox", {"limit": limit}, requests))
        print("  " + measure(app, client, headers, "/api/v1/me", {}, requests))
        app.extensions["fieldapi.engine"].dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--big", action="store_true", help="the sync benchmark's grid")
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run(backend, args.big, args.requests)


if __name__ == "__main__":
    main()
