"""The real server for the end-to-end test: a fresh PostgreSQL database, a bucket on the
session's SeaweedFS, migrated and given a small district, served by gunicorn with several
workers on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import requests

from fieldapi import create_app
from fieldapi.buildings.service import create_building
from fieldapi.checklists.defaults import ensure_defaults
from fieldapi.config import Settings
from fieldapi.core import migrate
from fieldapi.core.scope import Actor
from tests.support.seaweedfs import SeaweedFS, make_bucket
from tests.support.world import World, add_person, build_world, building_payload

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3
START_TIMEOUT = 60.0
ACCESS_LINE = re.compile(r'"(?P<request>[A-Z]+ [^"]*)" (?P<status>\d{3}) ')

# The test world (tests/support/world.py) plus buildings and people for a busier day:
# grid G1 holds B1, B5; G2 holds B2; G3 holds B3, B6.
EXTRA_BUILDINGS = {"B5": "G1", "B6": "G3"}
EXTRA_PEOPLE = {
    "mgr2": ("building_manager", [], ["B2", "B5"]),
    "mgr3": ("building_manager", [], ["B3", "B6"]),
    "gw2": ("grid_staff", ["G2"], []),
    "gw3": ("grid_staff", ["G3"], []),
}


@dataclass
class LiveServer:
    url: str
    port: int
    database_url: str  # psycopg form
    world: World
    access_log: Path
    error_log: Path

    def log_statuses(self) -> Counter[int]:
        statuses: Counter[int] = Counter()
        for line in self.access_log.read_text(errors="replace").splitlines():
            match = ACCESS_LINE.search(line)
            if match:
                statuses[int(match["status"])] += 1
        return statuses

    def server_errors_in_log(self) -> list[str]:
        """5xx lines of the access log, and tracebacks of the error log."""
        bad = [
            line
            for line in self.access_log.read_text(errors="replace").splitlines()
            if (m := ACCESS_LINE.search(line)) and m["status"].startswith("5")
        ]
        errors = self.error_log.read_text(errors="replace")
        if "Traceback" in errors:
            bad.append(errors[errors.index("Traceback") - 2000 :])
        return bad


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    name = f"fieldapi_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _environment(database_url: str, store: SeaweedFS, bucket: str, data_dir: Path) -> dict:
    return {
        **store.env,
        "FIELDAPI_DATA_DIR": str(data_dir),
        "FIELDAPI_DATABASE_URL": database_url.replace("postgresql://", "postgresql+psycopg://"),
        "FIELDAPI_STORAGE_URL": f"s3://{bucket}",
        "FIELDAPI_S3_ENDPOINT_URL": store.endpoint_url,
        "FIELDAPI_SECRET_KEY": "e2e-secret-" + uuid.uuid4().hex * 2,
        # Short access tokens: the phones refresh their sessions during the day.
        "FIELDAPI_ACCESS_TOKEN_MINUTES": "1",
        # Cheap password hashing keeps sign-ins quick; production uses the defaults.
        "FIELDAPI_ARGON2_TIME_COST": "1",
        "FIELDAPI_ARGON2_MEMORY_KIB": "8192",
    }


def _populate(env: dict) -> World:
    """Migrate, then build the district through the services, as the API would."""
    app = create_app(Settings.from_env(env))
    engine = app.extensions["fieldapi.engine"]
    migrate.upgrade(engine)
    world = build_world(app)
    passwords = app.extensions["fieldapi.passwords"]
    with app.extensions["fieldapi.sessionmaker"]() as db, db.begin():
        ensure_defaults(db)
        admin = Actor(user_id=world.users["admin"], username="admin", role="admin")
        for code, grid in EXTRA_BUILDINGS.items():
            building = create_building(
                db=db, actor=admin, data=building_payload(f"FT-{code}", world.areas[grid])
            )
            world.buildings[code] = building.id
        for username, (role, areas, buildings) in EXTRA_PEOPLE.items():
            add_person(db, passwords, world, username, role, areas, buildings)
    engine.dispose()
    return world


@contextlib.contextmanager
def live_server(admin_url: str, store: SeaweedFS, workdir: Path) -> Iterator[LiveServer]:
    bucket = make_bucket(store, f"e2e-{uuid.uuid4().hex[:12]}")
    with fresh_database(admin_url) as database_url:
        env = _environment(database_url, store, bucket, workdir / "data")
        world = _populate(env)
        port = free_port()
        access_log, error_log = workdir / "access.log", workdir / "error.log"
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers", str(WORKERS),
            "--bind", f"127.0.0.1:{port}",
            "--access-logfile", str(access_log),
            "--error-logfile", str(error_log),
            "--capture-output",
            "--timeout", "60",
            "wsgi:app",
        ]  # fmt: skip
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(process, url, error_log)
            yield LiveServer(url, port, database_url, world, access_log, error_log)
        finally:
            _stop(process)


def _wait_healthy(process: subprocess.Popen, url: str, error_log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {error_log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn not healthy: {error_log.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
